import { describe, expect, it } from 'vitest';
import { bf16ToF32, f16ToF32 } from '../../src/io/dtype.js';
import {
  DTYPE_BYTES,
  MAX_HEADER_BYTES,
  SafetensorsError,
  SafetensorsFile,
  headerByteLength,
  parseSafetensorsHeader,
  writeSafetensors,
  type WritableTensor,
} from '../../src/io/safetensors.js';

const FILE = 'crafted.safetensors';

/** A file from raw header text (not padded) and a data section; `n` overrides the header length field. */
function craft(header: string | object, data: number | Uint8Array = 0, n?: bigint): Uint8Array {
  const text = typeof header === 'string' ? header : JSON.stringify(header);
  return concat(new TextEncoder().encode(text), data, n);
}

function concat(headerBytes: Uint8Array, data: number | Uint8Array, n?: bigint): Uint8Array {
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + headerBytes.length + body.length);
  new DataView(out.buffer).setBigUint64(0, n ?? BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  out.set(body, 8 + headerBytes.length);
  return out;
}

const entry = (dtype: unknown, shape: unknown, data_offsets: unknown) => ({ dtype, shape, data_offsets });
const f32 = (shape: number[], begin: number) => {
  const end = begin + 4 * shape.reduce((a, b) => a * b, 1);
  return entry('F32', shape, [begin, end]);
};

function errorOf(f: () => unknown): SafetensorsError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(SafetensorsError);
    return e as SafetensorsError;
  }
  throw new Error('expected a SafetensorsError, nothing was thrown');
}

/** The file is rejected with an error naming the file, and the tensor when there is one to blame. */
function expectRejected(bytes: Uint8Array, tensor: string | undefined, pattern: RegExp) {
  const e = errorOf(() => SafetensorsFile.parse(bytes, FILE));
  expect(e.name).toBe('SafetensorsError');
  expect(e.file).toBe(FILE);
  expect(e.tensor).toBe(tensor);
  expect(e.message).toContain(FILE);
  if (tensor !== undefined) expect(e.message).toContain(`'${tensor}'`);
  expect(e.message).toMatch(pattern);
  // The streaming path (header bytes only, plus the file size) rejects the same way.
  const prefixed = errorOf(() => parseSafetensorsHeader(bytes, bytes.length, FILE));
  expect(prefixed.message).toBe(e.message);
}

describe('writeSafetensors and SafetensorsFile round trip', () => {
  const tensors: Record<string, WritableTensor> = {
    'w.f32': { dtype: 'F32', shape: [2, 3], data: Float32Array.of(0, 1, -2.5, 3e38, -0, 1e-45) },
    'w.f16': { dtype: 'F16', shape: [3], data: Uint16Array.of(0x3c00, 0x8001, 0x7c00) },
    'w.bf16': { dtype: 'BF16', shape: [1, 2], data: Uint16Array.of(0x4049, 0xbf80) },
    'w.f64': { dtype: 'F64', shape: [2], data: Float64Array.of(Math.PI, -1e-300) },
    'w.u8': { dtype: 'U8', shape: [5], data: Uint8Array.of(0, 1, 2, 254, 255) },
    'w.bool': { dtype: 'BOOL', shape: [3], data: Uint8Array.of(1, 0, 1) },
    'w.i64': { dtype: 'I64', shape: [2], data: BigInt64Array.of(-(2n ** 62n), 7n) },
    'w.i32': { dtype: 'I32', shape: [1, 1, 2], data: Int32Array.of(-5, 2 ** 31 - 1) },
    scalar: { dtype: 'F32', shape: [], data: Float32Array.of(42) },
    empty: { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
  };
  const bytes = writeSafetensors(tensors, { format: 'pt', note: 'é ✓' });
  const file = SafetensorsFile.parse(bytes, 'written.safetensors');

  it('keeps every tensor: dtype, shape and bytes', () => {
    expect(file.names.sort()).toEqual(Object.keys(tensors).sort());
    for (const [name, t] of Object.entries(tensors)) {
      expect(file.has(name)).toBe(true);
      expect(file.info(name)).toMatchObject({ name, dtype: t.dtype, shape: t.shape });
      expect(file.bytes(name)).toEqual(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    }
    expect(file.header.metadata).toEqual({ format: 'pt', note: 'é ✓' });
    expect(file.header.file).toBe('written.safetensors');
    expect(file.header.fileSize).toBe(bytes.length);
  });

  it('reads floats as float32 and float64', () => {
    expect(Array.from(file.float32('w.f32'))).toEqual(Array.from(tensors['w.f32'].data as Float32Array));
    expect(Array.from(file.float32('w.f16'))).toEqual([1, -(2 ** -24), Infinity]);
    expect(Array.from(file.float32('w.bf16'))).toEqual([3.140625, -1]);
    expect(Array.from(file.float32('w.f64'))).toEqual([Math.fround(Math.PI), -0]);
    expect(Array.from(file.float64('w.f64'))).toEqual([Math.PI, -1e-300]);
    expect(Array.from(file.float64('w.f16'))).toEqual([1, -(2 ** -24), Infinity]);
    expect(Array.from(file.float64('w.f32'))).toEqual(Array.from(tensors['w.f32'].data as Float32Array));
    expect(Array.from(file.float32('scalar'))).toEqual([42]);
    expect(file.float32('empty').length).toBe(0);
  });

  it('lays the file out like the Python library: descending dtype size, then name; header padded with spaces', () => {
    const { dataOffset, tensors: infos } = file.header;
    expect((dataOffset - 8) % 8).toBe(0);
    const headerText = new TextDecoder().decode(bytes.subarray(8, dataOffset));
    expect(headerText).toMatch(/^\{"__metadata__":\{.*\} *$/);
    expect(headerText.length - headerText.trimEnd().length).toBeLessThan(8);
    expect([...infos.keys()]).toEqual([
      'w.i64',
      'w.f64',
      'empty',
      'scalar',
      'w.f32',
      'w.i32',
      'w.bf16',
      'w.f16',
      'w.u8',
      'w.bool',
    ]);
    let offset = 0;
    for (const info of infos.values()) {
      expect(info.begin).toBe(offset);
      expect((dataOffset + info.begin) % DTYPE_BYTES[info.dtype]).toBe(0); // every tensor lands aligned
      offset = info.end;
    }
    expect(dataOffset + offset).toBe(bytes.length);
  });

  it('writes byte for byte what the Rust crate writes (its own test vectors)', () => {
    const data = Float32Array.of(0, 1, 2, 3, 4, 5);
    const bytesOf = (s: string) => Array.from(new TextEncoder().encode(s));
    const le = (x: number) => [x, 0, 0, 0, 0, 0, 0, 0];
    const floats = Array.from(new Uint8Array(data.buffer));
    // test_serialization: the 64-byte header needs no padding.
    expect(Array.from(writeSafetensors({ 'attn.0': { dtype: 'F32', shape: [1, 2, 3], data } }))).toEqual([
      ...le(64),
      ...bytesOf('{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}'),
      ...floats,
    ]);
    // test_serialization_forced_alignement: 65 bytes of JSON padded to 72.
    expect(Array.from(writeSafetensors({ attn0: { dtype: 'F32', shape: [1, 1, 2, 3], data } }))).toEqual([
      ...le(72),
      ...bytesOf('{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       '),
      ...floats,
    ]);
    // test_empty, without and with metadata.
    expect(Array.from(writeSafetensors({}))).toEqual([...le(8), ...bytesOf('{}      ')]);
    expect(Array.from(writeSafetensors({}, { framework: 'pt' }))).toEqual([
      ...le(40),
      ...bytesOf('{"__metadata__":{"framework":"pt"}}     '),
    ]);
  });

  it('keeps integer-like names in sorted order in the header text', () => {
    const one = (x: number): WritableTensor => ({ dtype: 'F32', shape: [1], data: Float32Array.of(x) });
    const out = writeSafetensors({ '2': one(2), '10': one(10), b: one(3) });
    const text = new TextDecoder().decode(out.subarray(8, headerByteLength(out, out.length)));
    expect(text.indexOf('"10"')).toBeLessThan(text.indexOf('"2"'));
    expect(text.indexOf('"2"')).toBeLessThan(text.indexOf('"b"'));
    expect(Array.from(SafetensorsFile.parse(out).float32('10'))).toEqual([10]);
  });

  it('rejects tensors whose data does not match dtype and shape', () => {
    const cases: [Record<string, WritableTensor>, RegExp][] = [
      [{ a: { dtype: 'F32', shape: [3], data: new Float32Array(2) } }, /needs 12 bytes, data has 8/],
      [{ a: { dtype: 'F16', shape: [2, 2], data: new Float32Array(4) } }, /needs 8 bytes, data has 16/],
      [{ a: { dtype: 'F32', shape: [-1], data: new Float32Array(0) } }, /shape/],
      [{ a: { dtype: 'F32', shape: [1.5], data: new Float32Array(0) } }, /shape/],
      [{ a: { dtype: 'U16' as 'U8', shape: [1], data: new Uint16Array(1) } }, /cannot write dtype "U16"/],
    ];
    for (const [tensors, pattern] of cases) {
      const e = errorOf(() => writeSafetensors(tensors));
      expect(e.tensor).toBe('a');
      expect(e.message).toMatch(pattern);
    }
    const reserved = errorOf(() =>
      writeSafetensors({ __metadata__: { dtype: 'U8', shape: [0], data: new Uint8Array(0) } }),
    );
    expect(reserved.message).toMatch(/reserved/);
    const metadata = errorOf(() => writeSafetensors({}, { n: 1 as unknown as string }));
    expect(metadata.message).toMatch(/__metadata__\.n is not a string/);
  });
});

describe('reading tensors', () => {
  const values = Float32Array.of(1.5, -2, 3.25);
  const halves = Uint16Array.of(0x3c00, 0xc000, 0x0001);
  const bytes = writeSafetensors({
    x: { dtype: 'F32', shape: [3], data: values },
    h: { dtype: 'F16', shape: [3], data: halves },
    b: { dtype: 'BF16', shape: [3], data: halves },
    d: { dtype: 'F64', shape: [3], data: Float64Array.from(values) },
    u: { dtype: 'U8', shape: [2], data: Uint8Array.of(1, 2) },
    i: { dtype: 'I32', shape: [1], data: Int32Array.of(1) },
    q: { dtype: 'BOOL', shape: [1], data: Uint8Array.of(1) },
  });

  it('views aligned F32 data without copying', () => {
    const file = SafetensorsFile.parse(bytes);
    const x = file.float32('x');
    expect(x.buffer).toBe(bytes.buffer);
    expect(Array.from(x)).toEqual([1.5, -2, 3.25]);
    expect(file.bytes('x').buffer).toBe(bytes.buffer);
  });

  it('copies when the file sits at an unaligned offset in its buffer', () => {
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 3);
    const file = SafetensorsFile.parse(shifted.subarray(3));
    const x = file.float32('x');
    expect(x.buffer).not.toBe(shifted.buffer);
    expect(Array.from(x)).toEqual([1.5, -2, 3.25]);
    expect(Array.from(file.float32('h'))).toEqual(Array.from(f16ToF32(halves)));
    expect(Array.from(file.float32('b'))).toEqual(Array.from(bf16ToF32(halves)));
    expect(Array.from(file.float64('d'))).toEqual([1.5, -2, 3.25]);
  });

  it('copies when an unpadded header leaves the data section unaligned', () => {
    const data = new Uint8Array(Float32Array.of(7, 8).buffer);
    const file = SafetensorsFile.parse(craft({ v: f32([2], 0) }, data)); // 54 header bytes: data at offset 62
    expect(file.header.dataOffset % 4).not.toBe(0);
    expect(Array.from(file.float32('v'))).toEqual([7, 8]);
    expect(Array.from(file.float64('v'))).toEqual([7, 8]);
  });

  it('names the tensor when it is missing or not a float', () => {
    const file = SafetensorsFile.parse(bytes, 'model.safetensors');
    for (const [call, name, pattern] of [
      [() => file.info('nope'), 'nope', /no such tensor/],
      [() => file.bytes('nope'), 'nope', /no such tensor/],
      [() => file.float32('u'), 'u', /dtype U8 is not a float type/],
      [() => file.float32('i'), 'i', /dtype I32 is not a float type/],
      [() => file.float64('q'), 'q', /dtype BOOL is not a float type/],
    ] as const) {
      const e = errorOf(call);
      expect(e.tensor).toBe(name);
      expect(e.file).toBe('model.safetensors');
      expect(e.message).toMatch(new RegExp(`^model\\.safetensors: tensor '${name}': `));
      expect(e.message).toMatch(pattern);
    }
  });

  it('reads the header from a prefix, given the file size (for streaming large files)', () => {
    const n = headerByteLength(bytes.subarray(0, 8), bytes.length, 'big.safetensors');
    const header = parseSafetensorsHeader(bytes.subarray(0, n), bytes.length, 'big.safetensors');
    expect(header).toEqual({ ...SafetensorsFile.parse(bytes, 'big.safetensors').header });
    expect(header.dataOffset).toBe(n);
    const short = errorOf(() =>
      parseSafetensorsHeader(bytes.subarray(0, n - 1), bytes.length, 'big.safetensors'),
    );
    expect(short.message).toMatch(/^big\.safetensors: need the first \d+ bytes/);
    expect(errorOf(() => headerByteLength(bytes.subarray(0, 4), bytes.length)).message).toMatch(
      /need the first 8 bytes/,
    );
  });
});

describe('accepted edge cases', () => {
  it('an empty file: no tensors, no data', () => {
    const file = SafetensorsFile.parse(
      Uint8Array.of(8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32),
    );
    expect(file.names).toEqual([]);
    expect(file.header.metadata).toEqual({});
  });

  it('zero-element tensors sharing an offset, a scalar, and unknown fields in an entry', () => {
    const header = {
      c: f32([1], 0),
      a: entry('F32', [0], [0, 0]),
      b: { ...entry('F16', [2, 0, 3], [0, 0]), extra: 'ignored' },
      s: f32([], 4),
    };
    const file = SafetensorsFile.parse(craft(header, new Uint8Array(Float32Array.of(1, 2).buffer)));
    expect(file.names).toEqual(['a', 'b', 'c', 's']);
    expect(Array.from(file.float32('s'))).toEqual([2]);
    expect(file.float32('b').length).toBe(0);
  });

  it('the same key in different objects, and look-alike keys inside strings', () => {
    const header = {
      __metadata__: { a: 'a', dtype: '{"a":1,"a":2}', 'q"uote': 'x\\"}{' },
      a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
      dtype: { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
    };
    const file = SafetensorsFile.parse(craft(header, 8), FILE);
    expect(file.names).toEqual(['a', 'dtype']);
    expect(file.header.metadata['q"uote']).toBe('x\\"}{');
  });
});

describe('rejected files', () => {
  const four = new Uint8Array(4);

  it('a file shorter than 8 bytes', () => {
    expectRejected(new Uint8Array(0), undefined, /0 bytes, shorter than/);
    expectRejected(new Uint8Array(7), undefined, /7 bytes, shorter than/);
  });

  it('a header length past the end of the file or over the cap', () => {
    expectRejected(craft('{}', 0, 3n), undefined, /header length 3 runs past the end of the 10-byte file/);
    expectRejected(
      craft('{}', 0, BigInt(MAX_HEADER_BYTES) + 1n),
      undefined,
      /exceeds the 100000000-byte limit/,
    );
    expectRejected(craft('{}', 0, 2n ** 64n - 1n), undefined, /exceeds/);
    const prefix = craft('', 0, BigInt(MAX_HEADER_BYTES) + 1n);
    expect(errorOf(() => headerByteLength(prefix, 2 ** 40, FILE)).message).toMatch(/exceeds/);
    expect(headerByteLength(craft('', 0, BigInt(MAX_HEADER_BYTES)), 2 ** 40)).toBe(MAX_HEADER_BYTES + 8);
  });

  it('a header that is not UTF-8', () => {
    const header = Uint8Array.of(0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d); // {"\xff":1}
    expectRejected(concat(header, 0), undefined, /not valid UTF-8/);
  });

  it.each(['', '{"a":', "{'a': 1}", '{"a":1}x', '\uFEFF{}'])('a header that is not JSON: %j', (text) => {
    expectRejected(craft(text), undefined, /not valid JSON/);
  });

  it.each(['[]', '1', 'null', '"{}"', 'true'])('a header that is not an object: %s', (text) => {
    expectRejected(craft(text), undefined, /not a JSON object/);
  });

  const T = '{"dtype":"F32","shape":[1],"data_offsets":[0,4]}';
  it.each([
    [`{"a":${T},"a":${T}}`, 'a', /duplicate key "a"/],
    [`{"a":${T},"\\u0061":${T}}`, 'a', /duplicate key "a"/],
    [`{"a":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 'a', /duplicate key "dtype"/],
    [`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"shape":[1]}}`, 'a', /duplicate key "shape"/],
    [`{"__metadata__":{"k":"1","k":"2"},"a":${T}}`, undefined, /duplicate key "k"/],
    [`{"__metadata__":{},"a":${T},"__metadata__":{}}`, undefined, /duplicate key "__metadata__"/],
  ])('duplicate keys: %s', (text, tensor, pattern) => {
    expectRejected(craft(text, 4), tensor, pattern);
  });

  it.each([[[]], ['pt'], [null], [1]])('__metadata__ that is not an object: %j', (metadata) => {
    expectRejected(craft({ __metadata__: metadata }), undefined, /__metadata__ is not an object/);
  });

  it.each([
    [1],
    [null],
    [{ x: 'y' }],
    [true],
  ])('__metadata__ with a value that is not a string: %j', (value) => {
    expectRejected(
      craft({ __metadata__: { ok: 'fine', k: value } }),
      undefined,
      /__metadata__\.k is not a string/,
    );
  });

  it.each([[[]], ['F32'], [null], [3]])('an entry that is not an object: %j', (value) => {
    expectRejected(craft({ w: value }), 'w', /entry is not an object/);
  });

  it.each([
    ['F128'],
    ['float32'],
    ['f32'],
    [5],
    [null],
    ['toString'],
    ['__proto__'],
  ])('an unknown dtype: %j', (dtype) => {
    expectRejected(craft({ w: entry(dtype, [1], [0, 4]) }, 4), 'w', /unknown dtype/);
  });

  it('a missing dtype', () => {
    expectRejected(craft({ w: { shape: [1], data_offsets: [0, 4] } }, 4), 'w', /unknown dtype undefined/);
  });

  it.each([
    [[-1]],
    [[1.5]],
    [[2 ** 53]],
    [[1e300]],
    [['2']],
    [[null]],
    [[true]],
    ['4'],
    [{}],
    [null],
    [undefined],
    [[[1]]],
  ])('a shape that is not a list of non-negative integers: %j', (shape) => {
    expectRejected(
      craft({ w: entry('F32', shape, [0, 4]) }, 4),
      'w',
      /shape .* is not a list of non-negative integers/,
    );
  });

  it.each([
    [[2 ** 40, 2 ** 40]],
    [[2 ** 30, 2 ** 30, 2 ** 30, 0]],
    [[2 ** 52, 3]],
  ])('an element count that overflows: %j', (shape) => {
    expectRejected(craft({ w: entry('U8', shape, [0, 0]) }), 'w', /overflows the element count/);
  });

  it('an element count beyond the file size', () => {
    expectRejected(
      craft({ w: entry('F32', [1_000_000], [0, 4]) }, 4),
      'w',
      /needs 4000000 bytes, more than the 4-byte data section/,
    );
    expectRejected(
      craft({ w: entry('F64', [2 ** 50], [0, 4]) }, 4),
      'w',
      /more than the 4-byte data section/,
    );
  });

  it.each([
    [[0]],
    [[0, 4, 8]],
    [[-1, 3]],
    [[0.5, 4]],
    [['0', '4']],
    [null],
    ['0,4'],
    [undefined],
    [{ 0: 0, 1: 4 }],
    [[0, 2 ** 53]],
  ])('data_offsets that are not two non-negative integers: %j', (offsets) => {
    expectRejected(
      craft({ w: entry('F32', [1], offsets) }, 4),
      'w',
      /data_offsets .* is not two non-negative integers/,
    );
  });

  it('data_offsets that end before they begin', () => {
    expectRejected(
      craft({ w: entry('F32', [1], [4, 0]) }, 4),
      'w',
      /data_offsets \[4, 0\] end before they begin/,
    );
  });

  it('a byte length that does not match shape and dtype', () => {
    const rest = entry('U8', [4], [4, 8]);
    expectRejected(
      craft({ w: entry('F32', [2], [0, 4]), rest }, 8),
      'w',
      /needs 8 bytes but data_offsets \[0, 4\] hold 4/,
    );
    expectRejected(
      craft({ w: entry('F16', [3], [0, 4]), rest }, 8),
      'w',
      /needs 6 bytes but data_offsets \[0, 4\] hold 4/,
    );
    expectRejected(
      craft({ w: entry('F32', [1], [0, 8]) }, 8),
      'w',
      /needs 4 bytes but data_offsets \[0, 8\] hold 8/,
    );
    expectRejected(craft({ w: entry('BOOL', [0], [0, 4]) }, 4), 'w', /needs 0 bytes/);
  });

  it('a first tensor that does not start at 0', () => {
    expectRejected(craft({ w: f32([1], 4) }, 8), 'w', /gap of 4 bytes before it \(expected begin 0\)/);
  });

  it('a gap between tensors', () => {
    expectRejected(craft({ a: f32([1], 0), b: f32([1], 8) }, 12), 'b', /gap of 4 bytes/);
  });

  it('overlapping tensors', () => {
    expectRejected(craft({ a: f32([2], 0), b: f32([1], 4) }, 8), 'b', /overlap of 4 bytes/);
    expectRejected(craft({ b: f32([1], 0), a: f32([1], 0) }, 4), 'a', /overlap of 4 bytes/);
  });

  it('trailing bytes after the last tensor', () => {
    expectRejected(
      craft({ a: f32([1], 0) }, 8),
      'a',
      /tensors end at byte 4 of the 8-byte data section \(trailing bytes\)/,
    );
    expectRejected(craft({}, four), undefined, /tensors end at byte 0 of the 4-byte data section/);
  });

  it('a tensor past the end of the data section', () => {
    expectRejected(
      craft({ a: f32([2], 0) }, 4),
      'a',
      /data_offsets \[0, 8\] run past the 4-byte data section/,
    );
    expectRejected(craft({ a: f32([1], 0), b: f32([1], 4) }, 4), 'b', /run past/);
  });
});
