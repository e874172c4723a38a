// The files `embed` writes and `merge` reads: rows of float32 vectors with the identifier of each
// row, as .npy (identifiers in the .ids.txt beside it, one per line), JSON or safetensors (the
// identifiers in its metadata).
import { existsSync, readFileSync } from 'node:fs';
import { SafetensorsFile, writeSafetensors } from '../io/safetensors.js';

export const FORMATS = ['npy', 'json', 'safetensors'] as const;
export type Format = (typeof FORMATS)[number];
/** Formats that can go to standard output. */
export const STREAMING: readonly Format[] = ['npy', 'json'];

export interface Embeddings {
  /** The model as given (`--model`). */
  model: string;
  pooling: string;
  dim: number;
  ids: string[];
  /** [ids.length, dim], row-major. */
  data: Float32Array;
}

/** A .npy file (format 1.0) header for float32 [rows, cols], little-endian, C order. */
function npyHeader(rows: number, cols: number): Uint8Array {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
  const unpadded = 10 + header.length + 1;
  header += `${' '.repeat((64 - (unpadded % 64)) % 64)}\n`;
  const out = new Uint8Array(10 + header.length);
  out.set([0x93, ...new TextEncoder().encode('NUMPY'), 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  return out;
}

/** A .npy file of float32 [rows, cols]. */
export function npy(data: Float32Array, rows: number, cols: number): Uint8Array {
  const header = npyHeader(rows, cols);
  const out = new Uint8Array(header.length + data.byteLength);
  out.set(header);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), header.length);
  return out;
}

/** The shortest decimal that reads back as the same float32. */
export function float32Text(v: number): string {
  if (!Number.isFinite(v)) throw new Error(`embedding value ${v} is not finite`);
  for (let p = 1; p <= 9; p++) {
    const s = Number(v.toPrecision(p));
    if (Math.fround(s) === v) return String(s);
  }
  return String(v);
}

/** Where the identifiers of a .npy go: `x.npy` -> `x.ids.txt`. */
export function idsPath(output: string): string {
  return `${output.replace(/\.npy$/i, '')}.ids.txt`;
}

export function idsText(ids: readonly string[]): Uint8Array {
  return new TextEncoder().encode(ids.map((id) => `${id}\n`).join(''));
}

/** The bytes of `e` in `format` (for npy, the array only: the identifiers go to idsPath). */
export function encodeEmbeddings(format: Format, e: Embeddings): Uint8Array {
  const rows = e.ids.length;
  if (format === 'npy') return npy(e.data, rows, e.dim);
  if (format === 'safetensors')
    return writeSafetensors(
      { embeddings: { dtype: 'F32', shape: [rows, e.dim], data: e.data } },
      { producer: 'dinov2-webgpu embed', model: e.model, pooling: e.pooling, images: JSON.stringify(e.ids) },
    );
  const lines = e.ids.map(
    (image, i) =>
      `    {"image": ${JSON.stringify(image)}, "embedding": [${Array.from(e.data.subarray(i * e.dim, (i + 1) * e.dim), float32Text).join(', ')}]}`,
  );
  return new TextEncoder().encode(
    `{\n  "model": ${JSON.stringify(e.model)},\n  "pooling": ${JSON.stringify(e.pooling)},\n  "dim": ${e.dim},\n  "embeddings": [\n${lines.join(',\n')}${lines.length ? '\n' : ''}  ]\n}\n`,
  );
}

function readNpy(path: string): { rows: number; cols: number; data: Float32Array } {
  const bytes = new Uint8Array(readFileSync(path));
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((b, i) => bytes[i] !== b)) throw new Error(`${path}: not a .npy file`);
  const length = new DataView(bytes.buffer, bytes.byteOffset).getUint16(8, true);
  const header = new TextDecoder().decode(bytes.subarray(10, 10 + length));
  const m = /'descr': '<f4', 'fortran_order': False, 'shape': \((\d+), (\d+)\)/.exec(header);
  if (!m) throw new Error(`${path}: not a 2-D little-endian float32 .npy (${header.trim()})`);
  const [rows, cols] = [Number(m[1]), Number(m[2])];
  const body = bytes.slice(10 + length);
  if (body.byteLength !== rows * cols * 4)
    throw new Error(`${path}: ${body.byteLength} bytes of data for shape (${rows}, ${cols})`);
  return { rows, cols, data: new Float32Array(body.buffer) };
}

/** Reads a file `embed` wrote (for merge). */
export function readEmbeddings(format: Format, path: string): Embeddings {
  if (format === 'npy') {
    const { rows, cols, data } = readNpy(path);
    const idsFile = idsPath(path);
    if (!existsSync(idsFile))
      throw new Error(`${path}: no ${idsFile} beside it (the identifier of each row)`);
    const ids = readFileSync(idsFile, 'utf8').split('\n').slice(0, -1);
    if (ids.length !== rows)
      throw new Error(`${idsFile}: ${ids.length} identifiers for ${rows} rows of ${path}`);
    return { model: '', pooling: '', dim: cols, ids, data };
  }
  if (format === 'safetensors') {
    const file = SafetensorsFile.parse(new Uint8Array(readFileSync(path)), path);
    const meta = file.header.metadata;
    const [rows, dim] = file.info('embeddings').shape;
    const ids = JSON.parse(meta.images ?? '[]') as string[];
    if (ids.length !== rows) throw new Error(`${path}: ${ids.length} identifiers for ${rows} rows`);
    return {
      model: meta.model ?? '',
      pooling: meta.pooling ?? '',
      dim,
      ids,
      data: file.float32('embeddings'),
    };
  }
  let parsed: {
    model: string;
    pooling: string;
    dim: number;
    embeddings: { image: string; embedding: number[] }[];
  };
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
  const data = new Float32Array(parsed.embeddings.length * parsed.dim);
  parsed.embeddings.forEach((r, i) => data.set(r.embedding, i * parsed.dim));
  return {
    model: parsed.model,
    pooling: parsed.pooling,
    dim: parsed.dim,
    ids: parsed.embeddings.map((r) => r.image),
    data,
  };
}
