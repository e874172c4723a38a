// Hostile safetensors files, generated: every file is either loaded exactly as written, or rejected
// with a SafetensorsError that names the file (and the tensor, when one is to blame); the reader
// never allocates more than the file holds, and never runs long. 11,000 files in all.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DTYPE_BYTES,
  type Dtype,
  MAX_HEADER_BYTES,
  SafetensorsError,
  SafetensorsFile,
  headerByteLength,
  parseSafetensorsHeader,
  type SafetensorsHeader,
  writeSafetensors,
} from '../../src/io/safetensors.js';
import { f16ToF32 } from '../../src/io/dtype.js';
import { installAllocationTracker, measureAllocations } from '../reliability/allocations.js';
import { deepArray, type J, jsonText, Obj, Raw, type TextStyle } from '../reliability/json_text.js';

const FILE = 'hostile.safetensors';
const SEED = 0x5afe7e45;
const DTYPES = Object.keys(DTYPE_BYTES) as Dtype[];
const FLOATS = new Set<Dtype>(['F32', 'F16', 'BF16', 'F64']);
const TIMEOUT_MS = 60_000;

let uninstall: () => void;
beforeAll(() => {
  f16ToF32(new Uint16Array(1)); // builds its lookup table once, before anything is measured
  uninstall = installAllocationTracker();
});

const stats = {
  files: 0,
  accepted: 0,
  rejected: 0,
  slowestParseMs: 0,
  largestParseAllocation: 0,
  largestReadRatio: 0,
};
afterAll(() => {
  uninstall();
  console.log(`safetensors properties: ${JSON.stringify(stats)}`);
});

// ---------- the oracle: what must hold of any outcome ----------

const elements = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function headerJson(bytes: Uint8Array, n: number): Record<string, unknown> {
  return JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>;
}

/** Parses `bytes` with allocations measured; checks the outcome against every rule; returns it. */
function judge(bytes: Uint8Array): { file?: SafetensorsFile; error?: SafetensorsError; ms: number } {
  stats.files++;
  const start = performance.now();
  const { value: file, error, log } = measureAllocations(() => SafetensorsFile.parse(bytes, FILE));
  const ms = performance.now() - start;
  stats.slowestParseMs = Math.max(stats.slowestParseMs, ms);
  stats.largestParseAllocation = Math.max(stats.largestParseAllocation, log.total);
  // Parsing looks at the header only: whatever it claims, nothing is allocated beyond the file's size.
  expect(log.total, 'bytes allocated while parsing').toBeLessThanOrEqual(bytes.length);

  // The streaming path (the header prefix and the file size) reaches the same verdict.
  let prefix = bytes.length;
  try {
    prefix = headerByteLength(bytes, bytes.length, FILE);
  } catch {
    // rejected by both below
  }
  const streamed = measureAllocations(() =>
    parseSafetensorsHeader(bytes.subarray(0, prefix), bytes.length, FILE),
  );
  expect(streamed.log.total).toBeLessThanOrEqual(bytes.length);

  if (error !== undefined) {
    stats.rejected++;
    checkError(error, bytes);
    expect((streamed.error as Error | undefined)?.message, 'streamed parse: same error').toBe(
      (error as Error).message,
    );
    return { error: error as SafetensorsError, ms };
  }
  stats.accepted++;
  expect(streamed.error, 'streamed parse: also accepted').toBeUndefined();
  checkLoaded(file!, bytes, streamed.value!);
  return { file, ms };
}

function checkError(error: unknown, bytes: Uint8Array): void {
  if (!(error instanceof SafetensorsError)) {
    throw new Error(
      `expected a SafetensorsError, got ${(error as Error)?.name}: ${(error as Error)?.message}`,
    );
  }
  expect(error.name).toBe('SafetensorsError');
  expect(error.file).toBe(FILE);
  expect(error.message.startsWith(`${FILE}: `), error.message).toBe(true);
  expect(error.message.length, 'a message of bounded length').toBeLessThan(1000);
  if (error.tensor !== undefined) {
    expect(error.message.startsWith(`${FILE}: tensor '`), error.message).toBe(true);
    // The blamed tensor is a key of the header (which is valid JSON whenever a tensor is blamed).
    const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
    expect(
      Object.hasOwn(headerJson(bytes, n), error.tensor),
      `blamed '${error.tensor}' is in the header`,
    ).toBe(true);
  }
}

/** Fails the property with `message` unless `ok` (plain checks: these run per tensor of 100,000-tensor files). */
function must(ok: boolean, message: () => string): void {
  if (!ok) throw new Error(message());
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

/** An accepted file is a valid one: the header's tensors tile the data section, sizes agree, reads are views. */
function checkLoaded(file: SafetensorsFile, bytes: Uint8Array, streamed: SafetensorsHeader): void {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  const json = headerJson(bytes, n);
  const { dataOffset, tensors, metadata } = file.header;
  must(dataOffset === 8 + n, () => `dataOffset ${dataOffset}, header length ${n}`);
  const keys = Object.keys(json).filter((k) => k !== '__metadata__');
  must(
    keys.length === tensors.size && keys.every((k) => tensors.has(k)),
    () => "the tensors are the header's keys",
  );
  must(
    Object.values(metadata).every((v) => typeof v === 'string'),
    () => 'metadata values are strings',
  );
  must(
    streamed.dataOffset === dataOffset && streamed.tensors.size === tensors.size,
    () => 'the streamed header agrees',
  );
  let at = 0;
  for (const info of tensors.values()) {
    const entry = json[info.name] as { dtype: string; shape: number[] };
    const again = streamed.tensors.get(info.name);
    must(
      again?.begin === info.begin && again.end === info.end && again.dtype === info.dtype,
      () => `streamed '${info.name}' agrees`,
    );
    must(
      info.dtype === entry.dtype &&
        info.shape.length === entry.shape.length &&
        info.shape.every((d, i) => d === entry.shape[i]),
      () => `'${info.name}' is as stated`,
    );
    must(
      info.begin === at,
      () => `'${info.name}' begins at ${info.begin}, the previous tensor ends at ${at}`,
    );
    must(
      info.end - info.begin === elements(info.shape) * DTYPE_BYTES[info.dtype],
      () => `'${info.name}' holds as many bytes as its shape needs`,
    );
    at = info.end;
    const view = file.bytes(info.name);
    must(
      view.buffer === bytes.buffer &&
        view.byteOffset === bytes.byteOffset + dataOffset + info.begin &&
        view.byteLength === info.end - info.begin,
      () => `bytes('${info.name}') is a view of its range`,
    );
    if (FLOATS.has(info.dtype)) {
      // Reads allocate in proportion to the tensor's real bytes: at most a copy and the widened result.
      const count = elements(info.shape);
      const f32 = measureAllocations(() => file.float32(info.name));
      must(
        f32.value!.length === count && f32.log.total <= view.byteLength + 4 * count,
        () => `float32('${info.name}') allocates ${f32.log.total} bytes`,
      );
      const f64 = measureAllocations(() => file.float64(info.name));
      must(
        f64.value!.length === count && f64.log.total <= view.byteLength + 12 * count,
        () => `float64('${info.name}') allocates ${f64.log.total} bytes`,
      );
      if (view.byteLength > 0)
        stats.largestReadRatio = Math.max(stats.largestReadRatio, f64.log.total / bytes.length);
      if (info.dtype === 'F32')
        must(
          sameBytes(new Uint8Array(f32.value!.buffer, f32.value!.byteOffset, view.byteLength), view),
          () => 'F32 read bit for bit',
        );
    }
  }
  must(
    dataOffset + at === bytes.length,
    () => `the tensors end at ${dataOffset + at} of ${bytes.length} bytes`,
  );
}

// ---------- generated files ----------

interface Spec {
  name: string;
  dtype: Dtype;
  shape: number[];
  data: Uint8Array;
}

/** Deterministic bytes: tensor contents (random, NaN payloads and all) and layout choices. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffled<T>(items: T[], rand: () => number): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

const nameArb = fc
  .oneof(
    fc.string({ maxLength: 10 }),
    fc.string({ unit: 'binary', maxLength: 6 }),
    fc.constantFrom(
      '__proto__',
      'constructor',
      'toString',
      'hasOwnProperty',
      '0',
      '1',
      '10',
      '',
      '"',
      '\\',
      'a"b',
      '{',
      'é',
      '\u{1F600}',
      '\u2028',
      'encoder.layer.0.mlp.fc1.weight',
      ' __metadata__',
      '__METADATA__',
    ),
  )
  .filter((name) => name !== '__metadata__');

const tensorArb = fc.record({
  name: nameArb,
  dtype: fc.constantFrom(...DTYPES),
  shape: fc.array(fc.nat({ max: 4 }), { maxLength: 4 }),
  seed: fc.integer(),
});

function toSpec(t: { name: string; dtype: Dtype; shape: number[]; seed: number }): Spec {
  const rand = prng(t.seed);
  const data = new Uint8Array(elements(t.shape) * DTYPE_BYTES[t.dtype]);
  for (let i = 0; i < data.length; i++) data[i] = Math.floor(rand() * 256);
  return { ...t, data };
}

const tensorsArb = (minLength: number) =>
  fc.uniqueArray(tensorArb, { selector: (t) => t.name, minLength, maxLength: 6 }).map((ts) => ts.map(toSpec));

/** At least one tensor, and the first one has bytes, so that every fault has a tensor to act on. */
const someTensorsArb = fc
  .uniqueArray(tensorArb, { selector: (t) => t.name, minLength: 1, maxLength: 6 })
  .map(([first, ...rest]) => [{ ...first, shape: first.shape.map((d) => d || 1) }, ...rest].map(toSpec));

const metadataArb = fc.option(
  fc.uniqueArray(
    fc.tuple(
      fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('__proto__', 'format')),
      fc.string({ maxLength: 8 }),
    ),
    {
      selector: ([k]) => k,
      maxLength: 3,
    },
  ),
  { nil: undefined },
);

/** How a valid file is laid out: data order, key order, whitespace, escapes, padding, extra fields. */
const layoutArb = fc.record({
  seed: fc.integer(),
  escapeKeys: fc.boolean(),
  space: fc.constantFrom('', ' ', '\n', '\t', ' \r\n '),
  pad: fc.nat({ max: 9 }),
  extra: fc.boolean(),
});
type Layout = { seed: number; escapeKeys: boolean; space: string; pad: number; extra: boolean };

interface Built {
  header: Obj;
  data: Uint8Array;
  style: TextStyle;
  pad: number;
  /** Tensors in data order, with their data_offsets. */
  placed: (Spec & { begin: number; end: number })[];
  metadata?: [string, string][];
}

function build(tensors: Spec[], metadata: [string, string][] | undefined, layout: Layout): Built {
  const rand = prng(layout.seed);
  let offset = 0;
  const placed = shuffled(tensors, rand).map((t) => {
    const begin = offset;
    offset += t.data.length;
    return { ...t, begin, end: offset };
  });
  const data = new Uint8Array(offset);
  for (const t of placed) data.set(t.data, t.begin);
  const pairs: [string, J][] = shuffled(placed, rand).map((t) => {
    const fields: [string, J][] = shuffled<[string, J]>(
      [
        ['dtype', t.dtype],
        ['shape', t.shape],
        ['data_offsets', [t.begin, t.end]],
      ],
      rand,
    );
    if (layout.extra)
      fields.splice(Math.floor(rand() * 4), 0, [
        'extra',
        new Obj([
          ['note', 'ignored'],
          ['list', [1, null]],
        ]),
      ]);
    return [t.name, new Obj(fields)];
  });
  if (metadata) pairs.splice(Math.floor(rand() * (pairs.length + 1)), 0, ['__metadata__', new Obj(metadata)]);
  return {
    header: new Obj(pairs),
    data,
    style: { escapeKeys: layout.escapeKeys, space: layout.space },
    pad: layout.pad,
    placed,
    metadata,
  };
}

/** 8-byte length, header text (padded with spaces), data; `n` overrides the length field. */
function fileOf(header: Uint8Array | string, data: Uint8Array, pad = 0, n?: bigint): Uint8Array {
  const text = typeof header === 'string' ? new TextEncoder().encode(header + ' '.repeat(pad)) : header;
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, n ?? BigInt(text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

const bytesOf = (b: Built) => fileOf(jsonText(b.header, b.style), b.data, b.pad);

/** The file holds exactly what was written: names, dtypes, shapes, bytes, metadata. */
function expectExactly(
  file: SafetensorsFile | undefined,
  tensors: Spec[],
  metadata: [string, string][] | undefined,
): void {
  expect(file, 'accepted').toBeDefined();
  expect(file!.names.slice().sort()).toEqual(tensors.map((t) => t.name).sort());
  for (const t of tensors) {
    expect(file!.info(t.name)).toMatchObject({ dtype: t.dtype, shape: t.shape });
    expect(file!.bytes(t.name)).toEqual(t.data);
  }
  expect(Object.entries(file!.header.metadata).sort()).toEqual((metadata ?? []).slice().sort());
}

// ---------- faults: one per file, with the verdict it must get ----------

/**
 * What a rejected file's error must say. `tensor`: the one blamed (undefined: none, the fault is the
 * file's); a list: any of them; 'some': some tensor; 'any': the fault may lie anywhere.
 */
interface Verdict {
  tensor: string | undefined | 'some' | 'any' | (string | undefined)[];
  pattern: RegExp;
}

const deepArb = fc.integer({ min: 10_000, max: 30_000 }).map(deepArray);
const notObjectArb: fc.Arbitrary<J> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.string({ maxLength: 8 }),
  fc.array(fc.integer(), { maxLength: 3 }),
  deepArb,
);
const badDtypeArb: fc.Arbitrary<J | undefined> = fc.oneof(
  fc.string({ maxLength: 8 }).filter((s) => !Object.hasOwn(DTYPE_BYTES, s)),
  fc.constantFrom('f32', 'float32', 'F128', 'F32 ', 'toString', '__proto__', 'constructor', 'hasOwnProperty'),
  fc.constant(undefined), // missing
  notObjectArb.filter((v) => typeof v !== 'string'),
  fc.constant(new Obj([['F32', 1]])),
);
const badCountArb: fc.Arbitrary<J> = fc.oneof(
  fc.integer({ max: -1 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((x) => !Number.isInteger(x)),
  fc.constantFrom<J>(
    2 ** 53,
    1e300,
    '3',
    null,
    true,
    [1],
    new Raw('1e400'),
    new Raw('-1e400'),
    new Raw('9007199254740993'),
  ),
  fc.constant(new Obj([])),
  deepArb,
);
const badShapeArb: fc.Arbitrary<{ entry?: J; whole?: J | undefined }> = fc.oneof(
  badCountArb.map((entry) => ({ entry })),
  fc
    .oneof(fc.constantFrom<J | undefined>('4', 3, null, undefined, new Obj([['0', 1]])), deepArb)
    .map((whole) => ({ whole })),
);
const badOffsetsArb: fc.Arbitrary<(b: number, e: number) => J | undefined> = fc.oneof(
  fc.constant(() => undefined), // missing
  fc.constant((b: number) => [b]),
  fc.constant((b: number, e: number) => [b, e, e]),
  fc.constant((_: number, e: number) => [-1, e]),
  fc.constant((b: number, e: number) => [b + 0.5, e]),
  fc.constant((b: number, e: number) => [String(b), String(e)]),
  fc.constant((b: number, e: number) => `${b},${e}`),
  fc.constant(
    (b: number, e: number) =>
      new Obj([
        ['0', b],
        ['1', e],
      ]),
  ),
  fc.constant((b: number) => [b, 2 ** 53]),
  fc.constant((b: number) => [b, new Raw('1e400')]),
  fc.constant(() => null),
  deepArb.map((deep) => () => deep),
);

type Fault =
  | { kind: 'length past the end'; extra: number }
  | { kind: 'length over the cap'; n: bigint }
  | { kind: 'length short of the header'; cut: number }
  | { kind: 'file under 8 bytes'; size: number }
  | { kind: 'truncated'; cut: number }
  | { kind: 'trailing bytes'; extra: number }
  | { kind: 'not UTF-8'; at: number; byte: number }
  | { kind: 'JSON cut short'; cut: number }
  | { kind: 'not JSON'; text: string }
  | { kind: 'not an object'; value: J }
  | { kind: 'duplicate tensor'; pick: number; at: number }
  | { kind: 'duplicate field'; pick: number; field: number }
  | { kind: 'duplicate metadata key'; key: string }
  | { kind: 'two __metadata__' }
  | { kind: '__metadata__ not an object'; value: J }
  | { kind: 'metadata value not a string'; value: J }
  | { kind: 'entry not an object'; pick: number; value: J }
  | { kind: 'unknown dtype'; pick: number; value: J | undefined }
  | { kind: 'bad shape'; pick: number; bad: { entry?: J; whole?: J | undefined }; at: number }
  | { kind: 'element count overflow'; pick: number; a: number; b: number; zero: boolean }
  | { kind: 'shape larger than the data'; pick: number; more: number }
  | { kind: 'length not matching shape'; pick: number; k: number }
  | { kind: 'bad data_offsets'; pick: number; make: (b: number, e: number) => J | undefined }
  | { kind: 'data_offsets reversed'; pick: number }
  | { kind: 'data_offsets past the end'; pick: number; extra: number }
  | { kind: 'data_offsets shifted'; pick: number; by: number }
  | { kind: 'deep unknown field'; pick: number; deep: Raw };

const faultArb: fc.Arbitrary<Fault> = fc.oneof(
  fc.record({ kind: fc.constant('length past the end' as const), extra: fc.nat({ max: 1000 }) }),
  fc.record({
    kind: fc.constant('length over the cap' as const),
    n: fc.oneof(
      fc.bigInt({ min: BigInt(MAX_HEADER_BYTES) + 1n, max: 2n ** 64n - 1n }),
      fc.constantFrom(BigInt(MAX_HEADER_BYTES) + 1n, 2n ** 64n - 1n, 2n ** 53n),
    ),
  }),
  fc.record({ kind: fc.constant('length short of the header' as const), cut: fc.nat() }),
  fc.record({ kind: fc.constant('file under 8 bytes' as const), size: fc.nat({ max: 7 }) }),
  fc.record({ kind: fc.constant('truncated' as const), cut: fc.nat() }),
  fc.record({ kind: fc.constant('trailing bytes' as const), extra: fc.integer({ min: 1, max: 64 }) }),
  fc.record({
    kind: fc.constant('not UTF-8' as const),
    at: fc.nat(),
    byte: fc.constantFrom(0xff, 0xfe, 0xc0, 0xc1, 0xf8),
  }),
  fc.record({ kind: fc.constant('JSON cut short' as const), cut: fc.nat() }),
  fc.record({
    kind: fc.constant('not JSON' as const),
    text: fc
      .oneof(
        fc.string({ maxLength: 20 }),
        fc.constantFrom("{'a': 1}", '{"a":1,}', '{"a":1}x', '\uFEFF{}', '{"a":NaN}', '{a:1}', ''),
      )
      .filter((s) => {
        try {
          JSON.parse(s);
          return false;
        } catch {
          return true;
        }
      }),
  }),
  fc.record({ kind: fc.constant('not an object' as const), value: notObjectArb }),
  fc.record({ kind: fc.constant('duplicate tensor' as const), pick: fc.nat(), at: fc.nat() }),
  fc.record({ kind: fc.constant('duplicate field' as const), pick: fc.nat(), field: fc.nat({ max: 2 }) }),
  fc.record({ kind: fc.constant('duplicate metadata key' as const), key: fc.string({ maxLength: 4 }) }),
  fc.record({ kind: fc.constant('two __metadata__' as const) }),
  fc.record({ kind: fc.constant('__metadata__ not an object' as const), value: notObjectArb }),
  fc.record({
    kind: fc.constant('metadata value not a string' as const),
    value: notObjectArb.filter((v) => typeof v !== 'string'),
  }),
  fc.record({ kind: fc.constant('entry not an object' as const), pick: fc.nat(), value: notObjectArb }),
  fc.record({ kind: fc.constant('unknown dtype' as const), pick: fc.nat(), value: badDtypeArb }),
  fc.record({ kind: fc.constant('bad shape' as const), pick: fc.nat(), bad: badShapeArb, at: fc.nat() }),
  fc.record({
    kind: fc.constant('element count overflow' as const),
    pick: fc.nat(),
    a: fc.integer({ min: 2 ** 27, max: Number.MAX_SAFE_INTEGER }),
    b: fc.integer({ min: 2 ** 27, max: Number.MAX_SAFE_INTEGER }),
    zero: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('shape larger than the data' as const),
    pick: fc.nat(),
    more: fc.oneof(fc.nat({ max: 100 }), fc.constant(2 ** 50)),
  }),
  fc.record({ kind: fc.constant('length not matching shape' as const), pick: fc.nat(), k: fc.nat() }),
  fc.record({ kind: fc.constant('bad data_offsets' as const), pick: fc.nat(), make: badOffsetsArb }),
  fc.record({ kind: fc.constant('data_offsets reversed' as const), pick: fc.nat() }),
  fc.record({
    kind: fc.constant('data_offsets past the end' as const),
    pick: fc.nat(),
    extra: fc.nat({ max: 1000 }),
  }),
  fc.record({
    kind: fc.constant('data_offsets shifted' as const),
    pick: fc.nat(),
    by: fc.integer({ min: -64, max: 64 }).filter((d) => d !== 0),
  }),
  fc.record({ kind: fc.constant('deep unknown field' as const), pick: fc.nat(), deep: deepArb }),
);

/** The file with `fault` applied, and what the reader must say about it ('accepted': the file as built). */
function inject(b: Built, fault: Fault): { bytes: Uint8Array; verdict: Verdict | 'accepted' } {
  const text = jsonText(b.header, b.style);
  const good = bytesOf(b);
  const headerEnd = 8 + new TextEncoder().encode(text).length + b.pad;
  const dataSize = b.data.length;
  const anyTensor = (pick: number) => b.placed[pick % b.placed.length];
  const nonEmpty = b.placed.filter((t) => t.end > t.begin);
  const anyNonEmpty = (pick: number) => nonEmpty[pick % nonEmpty.length];
  const withEntry = (name: string, f: (entry: Obj) => J) => {
    const entry = b.header.get(name) as Obj;
    return bytesOf({ ...b, header: b.header.with(name, f(entry)) });
  };
  const setField = (name: string, field: string, value: J | undefined) =>
    withEntry(name, (e) => e.with(field, value));
  const file = (tensor: Verdict['tensor'], pattern: RegExp) => ({ tensor, pattern });
  const meta = b.metadata ?? [];

  switch (fault.kind) {
    case 'length past the end': {
      const n = BigInt(good.length - 8 + 1 + fault.extra);
      return {
        bytes: fileOf(good.subarray(8), new Uint8Array(0), 0, n),
        verdict: file(undefined, /header length \d+ runs past the end of the \d+-byte file/),
      };
    }
    case 'length over the cap':
      return {
        bytes: fileOf(good.subarray(8), new Uint8Array(0), 0, fault.n),
        verdict: file(undefined, /header length \d+ exceeds the 100000000-byte limit/),
      };
    case 'length short of the header': {
      const n = BigInt(fault.cut % (headerEnd - 8));
      return { bytes: fileOf(good.subarray(8), new Uint8Array(0), 0, n), verdict: file('any', /./) };
    }
    case 'file under 8 bytes':
      return {
        bytes: good.subarray(0, fault.size),
        verdict: file(undefined, /is \d bytes, shorter than the 8-byte header length/),
      };
    case 'truncated':
      return { bytes: good.subarray(0, 8 + (fault.cut % (good.length - 8))), verdict: file('any', /./) };
    case 'trailing bytes': {
      const last = b.placed.filter((t) => t.end === dataSize).map((t) => t.name);
      return {
        bytes: fileOf(text, new Uint8Array([...b.data, ...new Uint8Array(fault.extra)]), b.pad),
        verdict: file(
          last.length ? last : [undefined],
          /tensors end at byte \d+ of the \d+-byte data section \(trailing bytes\)/,
        ),
      };
    }
    case 'not UTF-8': {
      const bytes = good.slice();
      bytes[8 + (fault.at % (headerEnd - 8))] = fault.byte;
      return { bytes, verdict: file(undefined, /header is not valid UTF-8/) };
    }
    case 'JSON cut short':
      return {
        bytes: fileOf(text.slice(0, fault.cut % text.lastIndexOf('}')), b.data),
        verdict: file(undefined, /header is not valid JSON/),
      };
    case 'not JSON':
      return { bytes: fileOf(fault.text, b.data), verdict: file(undefined, /header is not valid JSON/) };
    case 'not an object':
      return {
        bytes: fileOf(jsonText(fault.value), b.data),
        verdict: file(undefined, /header is not a JSON object/),
      };
    case 'duplicate tensor': {
      const t = anyTensor(fault.pick);
      const pairs = b.header.pairs.slice();
      pairs.splice(fault.at % (pairs.length + 1), 0, [t.name, b.header.get(t.name)!]);
      return {
        bytes: bytesOf({ ...b, header: new Obj(pairs) }),
        verdict: file(t.name, /duplicate key .* in the header/s),
      };
    }
    case 'duplicate field': {
      const t = anyTensor(fault.pick);
      const field = ['dtype', 'shape', 'data_offsets'][fault.field];
      const bytes = withEntry(t.name, (e) => new Obj([...e.pairs, [field, e.get(field)!]]));
      return { bytes, verdict: file(t.name, new RegExp(`duplicate key "${field}" in the header`)) };
    }
    case 'duplicate metadata key': {
      const metadata = new Obj([...meta, [fault.key, 'one'], [fault.key, 'two']]);
      return {
        bytes: bytesOf({ ...b, header: b.header.with('__metadata__', metadata) }),
        verdict: file(undefined, /duplicate key .* in the header/s),
      };
    }
    case 'two __metadata__': {
      const header = new Obj([
        ['__metadata__', new Obj(meta)],
        ...b.header.with('__metadata__', undefined).pairs,
        ['__metadata__', new Obj([])],
      ]);
      return { bytes: bytesOf({ ...b, header }), verdict: file(undefined, /duplicate key "__metadata__"/) };
    }
    case '__metadata__ not an object':
      return {
        bytes: bytesOf({ ...b, header: b.header.with('__metadata__', fault.value) }),
        verdict: file(undefined, /__metadata__ is not an object/),
      };
    case 'metadata value not a string': {
      const metadata = new Obj([...meta, ['\u0000bad', fault.value]]);
      return {
        bytes: bytesOf({ ...b, header: b.header.with('__metadata__', metadata) }),
        verdict: file(undefined, /__metadata__\..* is not a string/s),
      };
    }
    case 'entry not an object': {
      const t = anyTensor(fault.pick);
      return {
        bytes: bytesOf({ ...b, header: b.header.with(t.name, fault.value) }),
        verdict: file(t.name, /entry is not an object/),
      };
    }
    case 'unknown dtype': {
      const t = anyTensor(fault.pick);
      return { bytes: setField(t.name, 'dtype', fault.value), verdict: file(t.name, /unknown dtype/) };
    }
    case 'bad shape': {
      const t = anyTensor(fault.pick);
      let shape: J | undefined;
      if ('entry' in fault.bad) {
        shape = t.shape.slice() as J[];
        shape.splice(fault.at % (shape.length + 1), 0, fault.bad.entry!);
      } else shape = fault.bad.whole;
      return {
        bytes: setField(t.name, 'shape', shape),
        verdict: file(t.name, /shape .* is not a list of non-negative integers/s),
      };
    }
    case 'element count overflow': {
      const t = anyTensor(fault.pick);
      const a = fault.a * fault.b > Number.MAX_SAFE_INTEGER ? fault.a : 2 ** 27;
      const shape = [a, Math.max(fault.b, 2 ** 27), ...(fault.zero ? [0] : [])];
      return {
        bytes: setField(t.name, 'shape', shape),
        verdict: file(t.name, /shape .* overflows the element count/s),
      };
    }
    case 'shape larger than the data': {
      const t = anyTensor(fault.pick);
      const size = DTYPE_BYTES[t.dtype];
      const shape = [Math.floor(dataSize / size) + 1 + fault.more];
      return {
        bytes: setField(t.name, 'shape', shape),
        verdict: file(t.name, /needs \d+ bytes, more than the \d+-byte data section/),
      };
    }
    case 'length not matching shape': {
      const t = anyNonEmpty(fault.pick);
      const size = DTYPE_BYTES[t.dtype];
      let k = fault.k % (Math.floor(dataSize / size) + 1);
      if (k * size === t.end - t.begin) k = 0;
      return {
        bytes: setField(t.name, 'shape', [k]),
        verdict: file(t.name, /needs \d+ bytes but data_offsets \[\d+, \d+\] hold \d+/),
      };
    }
    case 'bad data_offsets': {
      const t = anyTensor(fault.pick);
      return {
        bytes: setField(t.name, 'data_offsets', fault.make(t.begin, t.end)),
        verdict: file(t.name, /data_offsets .* is not two non-negative integers/s),
      };
    }
    case 'data_offsets reversed': {
      const t = anyNonEmpty(fault.pick);
      return {
        bytes: setField(t.name, 'data_offsets', [t.end, t.begin]),
        verdict: file(t.name, /data_offsets \[\d+, \d+\] end before they begin/),
      };
    }
    case 'data_offsets past the end': {
      const t = anyTensor(fault.pick);
      return {
        bytes: setField(t.name, 'data_offsets', [t.begin, dataSize + 1 + fault.extra]),
        verdict: file(t.name, /data_offsets \[\d+, \d+\] run past the \d+-byte data section/),
      };
    }
    case 'data_offsets shifted': {
      const t = anyNonEmpty(fault.pick);
      const by = Math.max(fault.by, -t.begin) || 1; // never below 0: that is 'bad data_offsets'
      return {
        bytes: setField(t.name, 'data_offsets', [t.begin + by, t.end + by]),
        verdict: file('some', /gap of|overlap of|run past|trailing bytes/),
      };
    }
    case 'deep unknown field': {
      const t = anyTensor(fault.pick);
      return { bytes: setField(t.name, 'unknown', fault.deep), verdict: 'accepted' };
    }
  }
}

function expectVerdict(outcome: ReturnType<typeof judge>, verdict: Verdict, label: string): void {
  expect(outcome.error, `${label}: rejected`).toBeDefined();
  const e = outcome.error!;
  expect(e.message, label).toMatch(verdict.pattern);
  if (verdict.tensor === 'any') return;
  if (verdict.tensor === 'some') {
    expect(e.tensor, `${label}: ${e.message}`).toBeDefined();
    return;
  }
  if (Array.isArray(verdict.tensor)) expect(verdict.tensor, `${label}: ${e.message}`).toContain(e.tensor);
  else expect(e.tensor, `${label}: ${e.message}`).toBe(verdict.tensor);
}

describe('safetensors files, generated (fast-check, seed fixed)', () => {
  it('2,000 valid files in any layout load exactly as written', { timeout: TIMEOUT_MS }, () => {
    fc.assert(
      fc.property(tensorsArb(0), metadataArb, layoutArb, (tensors, metadata, layout) => {
        const built = build(tensors, metadata, layout);
        expectExactly(judge(bytesOf(built)).file, tensors, metadata);
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('1,000 files from writeSafetensors round-trip', { timeout: TIMEOUT_MS }, () => {
    const writable = ['F32', 'F16', 'BF16', 'F64', 'U8', 'BOOL', 'I64', 'I32'] as const;
    const arb = fc.uniqueArray(
      fc.record({
        name: nameArb,
        dtype: fc.constantFrom(...writable),
        shape: fc.array(fc.nat({ max: 4 }), { maxLength: 4 }),
        seed: fc.integer(),
      }),
      { selector: (t) => t.name, maxLength: 6 },
    );
    fc.assert(
      fc.property(arb, metadataArb, (list, metadata) => {
        const tensors = list.map(toSpec);
        const record = Object.fromEntries(
          tensors.map((t) => [
            t.name,
            { dtype: t.dtype as (typeof writable)[number], shape: t.shape, data: t.data },
          ]),
        );
        const bytes = writeSafetensors(record, metadata && Object.fromEntries(metadata));
        expectExactly(judge(bytes).file, tensors, metadata);
      }),
      { seed: SEED + 1, numRuns: 1000 },
    );
  });

  it(
    '5,000 files with one fault each are rejected, naming the file and the tensor at fault',
    { timeout: TIMEOUT_MS },
    () => {
      const seen = new Map<string, number>();
      fc.assert(
        fc.property(someTensorsArb, metadataArb, layoutArb, faultArb, (specs, metadata, layout, fault) => {
          seen.set(fault.kind, (seen.get(fault.kind) ?? 0) + 1);
          const built = build(specs, metadata, layout);
          const { bytes, verdict } = inject(built, fault);
          const outcome = judge(bytes);
          if (verdict === 'accepted') expectExactly(outcome.file, specs, metadata);
          else expectVerdict(outcome, verdict, fault.kind);
        }),
        { seed: SEED + 2, numRuns: 5000 },
      );
      expect(seen.size, 'every kind of fault was tried').toBe(27);
      for (const [kind, n] of seen) expect(n, kind).toBeGreaterThan(50);
    },
  );

  it(
    '2,000 files with random byte-level damage: rejected properly or loaded as a valid file',
    { timeout: TIMEOUT_MS },
    () => {
      const damage = fc.array(
        fc.record({
          op: fc.constantFrom('flip', 'set', 'insert', 'delete', 'truncate', 'append', 'length'),
          at: fc.nat(),
          inHeader: fc.boolean(),
          value: fc.nat({ max: 255 }),
          length: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        }),
        { minLength: 1, maxLength: 4 },
      );
      fc.assert(
        fc.property(tensorsArb(0), metadataArb, layoutArb, damage, (tensors, metadata, layout, ops) => {
          const built = build(tensors, metadata, layout);
          let bytes = bytesOf(built);
          const headerEnd = bytes.length - built.data.length;
          for (const op of ops) {
            const span = op.inHeader ? Math.min(headerEnd, bytes.length) : bytes.length;
            const at = span === 0 ? 0 : op.at % span;
            const copy = Array.from(bytes);
            if (op.op === 'flip' && copy.length) copy[at] ^= 1 << (op.value % 8);
            if (op.op === 'set' && copy.length) copy[at] = op.value;
            if (op.op === 'insert') copy.splice(at, 0, op.value);
            if (op.op === 'delete') copy.splice(at, 1);
            if (op.op === 'truncate') copy.length = at;
            if (op.op === 'append') copy.push(op.value);
            bytes = Uint8Array.from(copy);
            if (op.op === 'length' && bytes.length >= 8)
              new DataView(bytes.buffer).setBigUint64(0, op.length % BigInt(bytes.length + 16), true);
          }
          judge(bytes);
        }),
        { seed: SEED + 3, numRuns: 2000 },
      );
    },
  );

  it(
    '1,000 files with arbitrary headers: random JSON, entries of random fields, random bytes',
    { timeout: TIMEOUT_MS },
    () => {
      const small = fc.oneof(fc.integer({ min: -2, max: 8 }), fc.constantFrom<J>(0.5, '4', null, 2 ** 53));
      const entry = fc.record(
        {
          dtype: fc.oneof(fc.constantFrom(...DTYPES), fc.string({ maxLength: 4 })),
          shape: fc.oneof(fc.array(small, { maxLength: 3 }), small),
          data_offsets: fc.oneof(fc.tuple(small, small), fc.array(small, { maxLength: 3 })),
        },
        { requiredKeys: [] },
      );
      const header = fc.oneof(
        fc.json({ maxDepth: 3 }),
        fc.dictionary(nameArb, entry, { maxKeys: 4 }).map((o) => JSON.stringify(o)),
        fc.uint8Array({ maxLength: 40 }),
      );
      fc.assert(
        fc.property(header, fc.nat({ max: 40 }), (text, dataSize) => {
          judge(fileOf(text, new Uint8Array(dataSize)));
        }),
        { seed: SEED + 4, numRuns: 1000 },
      );
    },
  );
});

describe('hostile files at scale: linear work, bounded messages', () => {
  // Each of these would take minutes or crash if any step were quadratic or recursive; measured
  // runs take well under a second, so the bound is generous.
  const BOUND_MS = 10_000;
  const timed = (bytes: Uint8Array) => {
    const outcome = judge(bytes);
    expect(outcome.ms).toBeLessThan(BOUND_MS);
    return outcome;
  };

  it('100,000 tensors', () => {
    const pairs: [string, J][] = Array.from({ length: 100_000 }, (_, i) => [
      `t${i}`,
      new Obj([
        ['dtype', 'U8'],
        ['shape', [1]],
        ['data_offsets', [i, i + 1]],
      ]),
    ]);
    const { file } = timed(fileOf(jsonText(new Obj(pairs)), new Uint8Array(100_000)));
    expect(file!.names.length).toBe(100_000);
  });

  it('100,000 tensors, each a duplicate of the first', () => {
    const t = new Obj([
      ['dtype', 'U8'],
      ['shape', [0]],
      ['data_offsets', [0, 0]],
    ]);
    const { error } = timed(
      fileOf(
        jsonText(new Obj(Array.from({ length: 100_000 }, () => ['x', t] as [string, J]))),
        new Uint8Array(0),
      ),
    );
    expect(error!.tensor).toBe('x');
  });

  it('a shape of a million ones, a name of a million characters, 200,000-deep nesting', () => {
    const ones = new Obj([
      [
        'w',
        new Obj([
          ['dtype', 'F32'],
          ['shape', new Array(1_000_000).fill(1)],
          ['data_offsets', [0, 4]],
        ]),
      ],
    ]);
    expect(timed(fileOf(jsonText(ones), new Uint8Array(4))).file!.info('w').shape.length).toBe(1_000_000);
    const name = 'n'.repeat(1_000_000);
    const long = new Obj([
      [
        name,
        new Obj([
          ['dtype', 'F33'],
          ['shape', [1]],
          ['data_offsets', [0, 4]],
        ]),
      ],
    ]);
    expect(timed(fileOf(jsonText(long), new Uint8Array(4))).error!.tensor).toBe(name);
    const deep = new Obj([
      [
        'w',
        new Obj([
          ['dtype', 'F32'],
          ['shape', deepArray(200_000)],
          ['data_offsets', [0, 4]],
        ]),
      ],
    ]);
    expect(timed(fileOf(jsonText(deep), new Uint8Array(4))).error!.message).toMatch(
      /shape .* is not a list/s,
    );
  });

  it('a shape of a million twos overflows at once', () => {
    const twos = new Obj([
      [
        'w',
        new Obj([
          ['dtype', 'U8'],
          ['shape', new Array(1_000_000).fill(2)],
          ['data_offsets', [0, 0]],
        ]),
      ],
    ]);
    expect(timed(fileOf(jsonText(twos), new Uint8Array(0))).error!.message).toMatch(
      /overflows the element count/,
    );
  });
});

describe('the allocation tracker itself', () => {
  it('sees the copies a read makes, and not the views', () => {
    const f16 = writeSafetensors({ h: { dtype: 'F16', shape: [1000], data: new Uint16Array(1000) } });
    const shifted = new Uint8Array(f16.length + 1);
    shifted.set(f16, 1);
    const file = SafetensorsFile.parse(shifted.subarray(1));
    file.float32('h'); // f16ToF32's table, once
    const read = measureAllocations(() => file.float32('h'));
    expect(read.log.total).toBe(2000 + 4000); // the unaligned copy, then the widened result
    expect(read.log.largest).toBe(4000);
    expect(measureAllocations(() => new Float64Array(8)).log.total).toBe(64);
    expect(measureAllocations(() => new Uint8Array(new ArrayBuffer(16), 4, 4)).log.total).toBe(16);
    expect(measureAllocations(() => file.bytes('h')).log.total).toBe(0);
  });
});
