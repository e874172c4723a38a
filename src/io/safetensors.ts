// The safetensors format (https://github.com/huggingface/safetensors):
//   [8 bytes]  N, the header length, little-endian u64
//   [N bytes]  UTF-8 JSON object: {"__metadata__": {str: str}?, NAME: {dtype, shape, data_offsets}, ...}
//              (writers pad it with spaces so the data starts 8-byte aligned)
//   [rest]     the data section; data_offsets [begin, end) are relative to it, and the tensors,
//              sorted by begin, tile it exactly. Little-endian, row-major.
// Every check below is one the Rust crate makes, plus a few it leaves out (duplicate keys,
// tensors past the end of a file that is only partly read).
import { bf16ToF32, f16ToF32 } from './dtype.js';

export type Dtype =
  | 'F64'
  | 'F32'
  | 'F16'
  | 'BF16'
  | 'I64'
  | 'I32'
  | 'I16'
  | 'I8'
  | 'U64'
  | 'U32'
  | 'U16'
  | 'U8'
  | 'BOOL'
  | 'F8_E4M3'
  | 'F8_E5M2';

export const DTYPE_BYTES: Record<Dtype, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
};

export interface TensorInfo {
  name: string;
  dtype: Dtype;
  shape: number[];
  /** Byte range [begin, end) within the data section. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  file: string;
  /** In data order (ascending begin). */
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
  /** Where the data section starts in the file: 8 + N. */
  dataOffset: number;
  fileSize: number;
}

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
  constructor(
    readonly file: string,
    message: string,
    readonly tensor?: string,
  ) {
    super(`${file}: ${tensor === undefined ? '' : `tensor '${clip(tensor)}': `}${message}`);
  }
}

const MESSAGE_VALUE_CHARS = 120;

function clip(text: string): string {
  return text.length > MESSAGE_VALUE_CHARS ? `${text.slice(0, MESSAGE_VALUE_CHARS - 3)}...` : text;
}

/**
 * A value from a file, as JSON for an error message: clipped, and safe on values nested too deep for
 * JSON.stringify (a hostile header may nest arrays a million deep, and JSON.parse reads them).
 */
export function describeJson(value: unknown): string {
  try {
    return clip(JSON.stringify(value) ?? String(value));
  } catch {
    if (typeof value !== 'object' || value === null) return clip(String(value)); // a BigInt, from a caller's object
    return Array.isArray(value) ? '[...] (too deep to print)' : '{...} (too deep or cyclic to print)';
  }
}

/** The Rust crate's limit on N. */
export const MAX_HEADER_BYTES = 100_000_000;

const DEFAULT_FILE = '<memory>';
const METADATA_KEY = '__metadata__';

export function headerByteLength(prefix: Uint8Array, fileSize: number, file = DEFAULT_FILE): number {
  if (!Number.isSafeInteger(fileSize) || fileSize < 0) {
    throw new SafetensorsError(file, `invalid file size ${fileSize}`);
  }
  if (fileSize < 8)
    throw new SafetensorsError(file, `file is ${fileSize} bytes, shorter than the 8-byte header length`);
  if (prefix.length < 8) throw new SafetensorsError(file, `need the first 8 bytes, got ${prefix.length}`);
  const view = new DataView(prefix.buffer, prefix.byteOffset, 8);
  const n = view.getUint32(4, true) * 2 ** 32 + view.getUint32(0, true); // exact below 2^53, and huge above
  if (n > MAX_HEADER_BYTES) {
    throw new SafetensorsError(file, `header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  }
  if (8 + n > fileSize) {
    throw new SafetensorsError(file, `header length ${n} runs past the end of the ${fileSize}-byte file`);
  }
  return 8 + n;
}

export function parseSafetensorsHeader(
  prefix: Uint8Array,
  fileSize: number,
  file = DEFAULT_FILE,
): SafetensorsHeader {
  const dataOffset = headerByteLength(prefix, fileSize, file);
  if (prefix.length < dataOffset) {
    throw new SafetensorsError(
      file,
      `need the first ${dataOffset} bytes to read the header, got ${prefix.length}`,
    );
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(prefix.subarray(8, dataOffset));
  } catch {
    throw new SafetensorsError(file, 'header is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(file, `header is not valid JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(json)) throw new SafetensorsError(file, 'header is not a JSON object');
  checkDuplicateKeys(text, file);

  const dataSize = fileSize - dataOffset;
  let metadata: Record<string, string> = {};
  const tensors: TensorInfo[] = [];
  for (const [name, entry] of Object.entries(json)) {
    if (name === METADATA_KEY) metadata = parseMetadata(entry, file);
    else tensors.push(parseEntry(name, entry, dataSize, file));
  }

  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const t of tensors) {
    if (t.begin !== expected) {
      const what =
        t.begin > expected
          ? `a gap of ${t.begin - expected} bytes`
          : `an overlap of ${expected - t.begin} bytes`;
      throw new SafetensorsError(
        file,
        `data_offsets [${t.begin}, ${t.end}] leave ${what} before it (expected begin ${expected})`,
        t.name,
      );
    }
    expected = t.end;
  }
  if (expected !== dataSize) {
    const last = tensors[tensors.length - 1]?.name;
    throw new SafetensorsError(
      file,
      `tensors end at byte ${expected} of the ${dataSize}-byte data section (trailing bytes)`,
      last,
    );
  }
  return { file, tensors: new Map(tensors.map((t) => [t.name, t])), metadata, dataOffset, fileSize };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseMetadata(entry: unknown, file: string): Record<string, string> {
  if (!isPlainObject(entry)) throw new SafetensorsError(file, `${METADATA_KEY} is not an object`);
  for (const [k, v] of Object.entries(entry)) {
    if (typeof v !== 'string') throw new SafetensorsError(file, `${METADATA_KEY}.${clip(k)} is not a string`);
  }
  return entry as Record<string, string>;
}

function parseEntry(name: string, entry: unknown, dataSize: number, file: string): TensorInfo {
  const fail = (message: string): never => {
    throw new SafetensorsError(file, message, name);
  };
  if (!isPlainObject(entry)) return fail('entry is not an object');
  const { dtype, shape, data_offsets: offsets } = entry;
  if (typeof dtype !== 'string' || !Object.hasOwn(DTYPE_BYTES, dtype))
    return fail(`unknown dtype ${describeJson(dtype)}`);
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    return fail(`shape ${describeJson(shape)} is not a list of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    return fail(`data_offsets ${describeJson(offsets)} is not two non-negative integers`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) return fail(`data_offsets [${begin}, ${end}] end before they begin`);
  if (end > dataSize)
    return fail(`data_offsets [${begin}, ${end}] run past the ${dataSize}-byte data section`);
  // Left to right like the Rust crate's checked_mul: a later zero does not excuse an overflow.
  let count = 1;
  for (const d of shape as number[]) {
    count *= d;
    if (count > Number.MAX_SAFE_INTEGER)
      return fail(`shape ${describeJson(shape)} overflows the element count`);
  }
  const size = DTYPE_BYTES[dtype as Dtype];
  if (count * size > dataSize) {
    return fail(
      `shape ${describeJson(shape)} of ${dtype} needs ${count * size} bytes, more than the ${dataSize}-byte data section`,
    );
  }
  if (count * size !== end - begin) {
    return fail(
      `shape ${describeJson(shape)} of ${dtype} needs ${count * size} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`,
    );
  }
  return { name, dtype: dtype as Dtype, shape: [...(shape as number[])], begin, end };
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * JSON.parse keeps the last of repeated keys; a header with two entries for one name is ambiguous,
 * so reject it. Walks the (already valid) JSON text, keeping the keys seen in each open object.
 */
function checkDuplicateKeys(text: string, file: string): void {
  type Frame = { keys: Set<string>; expectKey: boolean } | null; // null: an array
  const stack: Frame[] = [];
  let topKey: string | undefined; // the current key of the outermost object: the tensor name
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{') stack.push({ keys: new Set(), expectKey: true });
    else if (c === '[') stack.push(null);
    else if (c === '}' || c === ']') stack.pop();
    else if (c === ',') {
      const top = stack[stack.length - 1];
      if (top) top.expectKey = true;
    } else if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const top = stack[stack.length - 1];
      if (top?.expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string; // unescaped, so "\u0061" equals "a"
        if (top.keys.has(key)) {
          const tensor = stack.length === 1 ? key : topKey;
          throw new SafetensorsError(
            file,
            `duplicate key ${describeJson(key)} in the header`,
            tensor === METADATA_KEY ? undefined : tensor,
          );
        }
        top.keys.add(key);
        top.expectKey = false;
        if (stack.length === 1) topKey = key;
      }
      i = j;
    }
  }
}

/** A whole safetensors file in memory. */
export class SafetensorsFile {
  private constructor(
    readonly header: SafetensorsHeader,
    private readonly data: Uint8Array,
  ) {}

  static parse(bytes: Uint8Array, file = DEFAULT_FILE): SafetensorsFile {
    const header = parseSafetensorsHeader(bytes, bytes.length, file);
    return new SafetensorsFile(header, bytes.subarray(header.dataOffset));
  }

  /** Tensor names in data order. */
  get names(): string[] {
    return [...this.header.tensors.keys()];
  }

  has(name: string): boolean {
    return this.header.tensors.has(name);
  }

  info(name: string): TensorInfo {
    const info = this.header.tensors.get(name);
    if (!info) throw new SafetensorsError(this.header.file, 'no such tensor', name);
    return info;
  }

  /** The tensor's bytes, a view into the file (no copy). */
  bytes(name: string): Uint8Array {
    const { begin, end } = this.info(name);
    return this.data.subarray(begin, end);
  }

  /** F32 as a view when aligned (else a copy); F16, BF16, F64 converted. */
  float32(name: string): Float32Array {
    const { dtype } = this.info(name);
    const bytes = this.bytes(name);
    switch (dtype) {
      case 'F32':
        return typedView(Float32Array, bytes);
      case 'F16':
        return f16ToF32(typedView(Uint16Array, bytes));
      case 'BF16':
        return bf16ToF32(typedView(Uint16Array, bytes));
      case 'F64':
        return new Float32Array(typedView(Float64Array, bytes));
      default:
        throw this.notFloat(name, dtype);
    }
  }

  /** Widened to float64 (exact for F32, F16, BF16), for CPU references. F64 is a view when aligned. */
  float64(name: string): Float64Array {
    const { dtype } = this.info(name);
    if (dtype === 'F64') return typedView(Float64Array, this.bytes(name));
    if (dtype === 'F32' || dtype === 'F16' || dtype === 'BF16') return new Float64Array(this.float32(name));
    throw this.notFloat(name, dtype);
  }

  private notFloat(name: string, dtype: Dtype): SafetensorsError {
    return new SafetensorsError(
      this.header.file,
      `dtype ${dtype} is not a float type (F64, F32, F16, BF16)`,
      name,
    );
  }
}

type TypedArrayCtor<T> = {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): T;
  new (buffer: ArrayBufferLike): T;
  BYTES_PER_ELEMENT: number;
};

/** A typed view over `bytes` (little-endian host assumed), copied first when the offset is unaligned. */
function typedView<T>(ctor: TypedArrayCtor<T>, bytes: Uint8Array): T {
  const n = bytes.byteLength / ctor.BYTES_PER_ELEMENT;
  if (bytes.byteOffset % ctor.BYTES_PER_ELEMENT === 0) return new ctor(bytes.buffer, bytes.byteOffset, n);
  return new ctor(bytes.slice().buffer);
}

export type WritableTensor = {
  dtype: 'F32' | 'F16' | 'BF16' | 'F64' | 'U8' | 'BOOL' | 'I64' | 'I32';
  shape: number[];
  data: ArrayBufferView;
};

// The Rust crate's Dtype declaration order; it writes tensors by descending order, then by name.
const DTYPE_ORDER: Dtype[] = [
  'BOOL',
  'U8',
  'I8',
  'F8_E5M2',
  'F8_E4M3',
  'I16',
  'U16',
  'F16',
  'BF16',
  'I32',
  'U32',
  'F32',
  'F64',
  'I64',
  'U64',
];
const WRITABLE = new Set<string>(['F32', 'F16', 'BF16', 'F64', 'U8', 'BOOL', 'I64', 'I32']);

/** Serializes like the Python library: same tensor order, contiguous offsets, header padded with spaces to 8 bytes. */
export function writeSafetensors(
  tensors: Record<string, WritableTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const file = 'writeSafetensors';
  const entries = Object.entries(tensors);
  for (const [name, { dtype, shape, data }] of entries) {
    const fail = (message: string): never => {
      throw new SafetensorsError(file, message, name);
    };
    if (name === METADATA_KEY) fail(`${METADATA_KEY} is reserved`);
    if (!WRITABLE.has(dtype)) fail(`cannot write dtype ${describeJson(dtype)}`);
    if (!Array.isArray(shape) || !shape.every(isCount))
      fail(`shape ${describeJson(shape)} is not a list of non-negative integers`);
    const bytes = shape.reduce((a, b) => a * b, DTYPE_BYTES[dtype]);
    if (data.byteLength !== bytes)
      fail(`shape ${describeJson(shape)} of ${dtype} needs ${bytes} bytes, data has ${data.byteLength}`);
  }
  for (const [k, v] of Object.entries(metadata ?? {})) {
    if (typeof v !== 'string') throw new SafetensorsError(file, `${METADATA_KEY}.${k} is not a string`);
  }
  entries.sort(
    ([an, a], [bn, b]) =>
      DTYPE_ORDER.indexOf(b.dtype) - DTYPE_ORDER.indexOf(a.dtype) || compareCodePoints(an, bn),
  );

  // Written by hand: JSON.stringify of an object would move integer-like names ("0") to the front.
  const fields = metadata ? [`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(metadata)}`] : [];
  let offset = 0;
  for (const [name, t] of entries) {
    const info = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    fields.push(`${JSON.stringify(name)}:${JSON.stringify(info)}`);
    offset += t.data.byteLength;
  }
  const json = new TextEncoder().encode(`{${fields.join(',')}}`);
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let at = 8 + padded;
  for (const [, { data }] of entries) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    at += data.byteLength;
  }
  return out;
}

/** Rust's str ordering (UTF-8 bytes), which is code point order; JS `<` compares UTF-16 units. */
function compareCodePoints(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i].codePointAt(0)! - y[i].codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}
