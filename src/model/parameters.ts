// The walk from checkpoint keys to GPU buffers. Modules declare their parameters by key while the
// module tree is built, each with a declarative Packing (how its buffer is laid out); the whole
// checkpoint is then checked at once (missing, unexpected and mis-shaped tensors in one error)
// before anything is uploaded. The upload moves raw tensor bytes into the GPU and packs them there
// (src/model/packer.ts, shaders/pack.wgsl), so a checkpoint streamed in chunks never needs a whole
// tensor on the host; only host-side parameters (position embeddings) are assembled in memory.
import type { StorageType } from '../gpu/shaders.js';
import type { GpuMemory } from '../gpu/buffers.js';
import type { GpuError } from '../gpu/errors.js';
import { KernelCache } from '../gpu/kernel.js';
import { bf16ToF32, f16ToF32 } from '../io/dtype.js';
import { TensorPacker } from './packer.js';

/** What the loader needs of a checkpoint in memory: a SafetensorsFile, or several shards behind one face. */
export interface TensorSource {
  readonly names: string[];
  info(name: string): { dtype: string; shape: number[] };
  float32(name: string): Float32Array;
  /** The tensor's stored bytes (little-endian, `info(name).dtype`); when present they are converted on the GPU. */
  bytes?(name: string): Uint8Array;
}

/** Names and shapes of a checkpoint: what validate() reads. */
export type TensorIndex = Pick<TensorSource, 'names' | 'info'>;

/** Receives consecutive pieces of a tensor's stored bytes; `offset` counts from the tensor's first byte. */
export type TensorSink = (name: string, offset: number, bytes: Uint8Array) => void | Promise<void>;

/**
 * A checkpoint whose bytes arrive in pieces (src/io/stream.ts): names and shapes are known first
 * (from the safetensors headers), then `read` hands every tensor's bytes to the sink in order,
 * awaiting what the sink returns (backpressure), and resolves once every tensor has been delivered.
 */
export interface TensorStream extends TensorIndex {
  read(sink: TensorSink, signal?: AbortSignal): Promise<void>;
}

export class CheckpointError extends Error {
  override name = 'CheckpointError';
  constructor(
    message: string,
    readonly missing: string[] = [],
    readonly unexpected: string[] = [],
    readonly mismatched: string[] = [],
  ) {
    super(message);
  }
}

/**
 * How a parameter's buffer is made from its checkpoint tensors, declared rather than computed, so
 * that the GPU packer (shaders/pack.wgsl) can execute it on bytes as they arrive.
 *   linear    the sources are consecutive row blocks of one [rows, cols] matrix (one block for a
 *             plain nn.Linear; query, key, value for the fused projection), stored transposed and
 *             padded as [cols, ceil(rows / 4) * 4] (linear.wgsl's wT); `glu` interleaves the two
 *             halves of the rows (SwiGLU's weights_in). cols = 1 is a bias: a padded vector.
 *             `split`: where the whole is larger than one binding, its rows (output features) are
 *             split into pieces that fit, each stored the same way in a buffer of its own.
 *   tensor    one tensor as it is, in float32.
 *   vector4   one vector padded with zeros to a multiple of 4 (read as vec4).
 *   constant  a value of our own (the zero bias of a linear layer without one); no sources.
 */
export type Packing =
  | { kind: 'linear'; rows: number; cols: number; glu?: boolean; storage?: StorageType; split?: boolean }
  | { kind: 'tensor' }
  | { kind: 'vector4' }
  | { kind: 'constant'; value: Float32Array };

/** An arbitrary host-side packing, for what no Packing describes; runs on the CPU with whole tensors. */
export type Pack = (tensors: Float32Array[]) => Float32Array;

/** The matrix view every GPU packing reduces to: sources are row blocks of [rows, cols], stored [cols, rows4]. */
export interface PackLayout {
  rows: number;
  cols: number;
  glu: boolean;
  /** How the packed values are stored: f32, or rounded to f16 once packed (src/model/precision.ts). */
  storage: StorageType;
  /** Whether the rows may be split into pieces that each fit one binding (a linear weight). */
  split: boolean;
}

/** Rows [row0, row0 + rows) of a split weight's matrix, stored [cols, ceil(rows / 4) * 4] in `buffer`. */
export interface WeightPiece {
  row0: number;
  rows: number;
  buffer: GPUBuffer;
}

export const FLOAT_DTYPES = ['F32', 'F16', 'BF16', 'F64'] as const;

export class Parameter {
  buffer: GPUBuffer | undefined;
  /** A weight larger than one binding, split along its rows when packed; `buffer` is then unset. */
  pieces: WeightPiece[] | undefined;
  /** For parameters the host computes with (position embeddings): kept here, not uploaded. */
  host: Float32Array | undefined;

  constructor(
    readonly label: string,
    readonly sources: { key: string; shape: number[] }[],
    readonly packing: Packing | Pack,
    readonly hostOnly: boolean,
  ) {}

  get gpu(): GPUBuffer {
    if (this.pieces)
      throw new Error(`${this.label} is split into ${this.pieces.length} pieces: bind gpuPieces`);
    if (!this.buffer) throw new Error(`${this.label} is not loaded`);
    return this.buffer;
  }

  /** Its buffers with the rows of the matrix each holds: the pieces of a split weight, or the whole. */
  get gpuPieces(): WeightPiece[] {
    return this.pieces ?? [{ row0: 0, rows: this.layout?.rows ?? 0, buffer: this.gpu }];
  }

  /** The GPU layout of this parameter, or undefined where the host packs it (a closure, a constant, host-only). */
  get layout(): PackLayout | undefined {
    return this.hostOnly ? undefined : packLayout(this.packing, this.sources);
  }
}

const count = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

export function packLayout(packing: Packing | Pack, sources: { shape: number[] }[]): PackLayout | undefined {
  if (typeof packing === 'function') return undefined;
  switch (packing.kind) {
    case 'linear':
      return {
        rows: packing.rows,
        cols: packing.cols,
        glu: packing.glu ?? false,
        storage: packing.storage ?? 'f32',
        split: packing.split ?? false,
      };
    case 'tensor':
    case 'vector4':
      return {
        rows: sources.reduce((n, s) => n + count(s.shape), 0),
        cols: 1,
        glu: false,
        storage: 'f32',
        split: false,
      };
    case 'constant':
      return undefined;
  }
}

/** Floats in the packed buffer: [cols, ceil(rows / 4) * 4]. */
export function packedLength(layout: PackLayout): number {
  return layout.cols * Math.ceil(layout.rows / 4) * 4;
}

/** Rows a piece of a split weight holds a multiple of: one vec4 column of wT, two with GLU (4 outputs of y, whole pairs). */
export function pieceUnit(layout: PackLayout): number {
  return layout.glu ? 8 : 4;
}

/**
 * How a linear weight is split so that every piece, [cols, rows4] at `elementBytes` each (rounded up
 * to 16 bytes as GpuMemory.create does), fits `limit` bytes: the whole when it fits, else pieces of
 * the most whole units that fit and a smaller last one. Undefined when not even one unit fits.
 */
export function splitRows(
  layout: PackLayout,
  limit: number,
  elementBytes = 4,
): { row0: number; rows: number }[] | undefined {
  const fit = Math.floor(limit / 16) * 16; // ceil(b / 16) * 16 <= limit  <=>  b <= fit
  if (packedLength(layout) * elementBytes <= fit) return [{ row0: 0, rows: layout.rows }];
  const unit = pieceUnit(layout);
  const per = Math.floor(fit / (layout.cols * unit * elementBytes)) * unit;
  if (per === 0) return undefined;
  const pieces: { row0: number; rows: number }[] = [];
  for (let row0 = 0; row0 < layout.rows; row0 += per)
    pieces.push({ row0, rows: Math.min(per, layout.rows - row0) });
  return pieces;
}

/** Pads a row-major [rows, cols] matrix transposed to [cols, ceil(rows / 4) * 4]: the layout linear.wgsl reads. */
export function transposePadded(w: Float32Array, rows: number, cols: number): Float32Array {
  const rows4 = Math.ceil(rows / 4) * 4;
  const out = new Float32Array(cols * rows4);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows4 + r] = w[r * cols + c];
  }
  return out;
}

export function padTo4(v: Float32Array): Float32Array {
  const out = new Float32Array(Math.ceil(v.length / 4) * 4);
  out.set(v);
  return out;
}

/** Interleave the two halves of a SwiGLU projection's rows: (x1_0, x2_0, x1_1, x2_1, ...). */
export function interleaveHalves(t: Float32Array, rows: number, cols: number): Float32Array {
  const half = rows / 2;
  const out = new Float32Array(t.length);
  for (let j = 0; j < half; j++) {
    out.set(t.subarray(j * cols, (j + 1) * cols), 2 * j * cols);
    out.set(t.subarray((half + j) * cols, (half + j + 1) * cols), (2 * j + 1) * cols);
  }
  return out;
}

function concat(ts: Float32Array[]): Float32Array {
  const out = new Float32Array(ts.reduce((n, t) => n + t.length, 0));
  let o = 0;
  for (const t of ts) {
    out.set(t, o);
    o += t.length;
  }
  return out;
}

/** The CPU twin of the GPU packer (shaders/pack.wgsl): what the packed buffer must hold. */
export function packOnCpu(packing: Packing | Pack, tensors: Float32Array[]): Float32Array {
  if (typeof packing === 'function') return packing(tensors);
  switch (packing.kind) {
    case 'tensor':
      return tensors.length === 1 ? tensors[0] : concat(tensors);
    case 'vector4':
      return padTo4(concat(tensors));
    case 'constant':
      return packing.value;
    case 'linear': {
      const w = concat(tensors);
      return transposePadded(
        packing.glu ? interleaveHalves(w, packing.rows, packing.cols) : w,
        packing.rows,
        packing.cols,
      );
    }
  }
}

/** Stored bytes of a float dtype widened to float32 on the host (exactly as SafetensorsFile.float32). */
export function bytesToFloat32(dtype: string, bytes: Uint8Array): Float32Array {
  const aligned = (size: number) => (bytes.byteOffset % size === 0 ? bytes : bytes.slice());
  switch (dtype) {
    case 'F32': {
      const b = aligned(4);
      return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
    }
    case 'F16':
    case 'BF16': {
      const b = aligned(2);
      const halves = new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2);
      return dtype === 'F16' ? f16ToF32(halves) : bf16ToF32(halves);
    }
    case 'F64': {
      const b = aligned(8);
      return new Float32Array(new Float64Array(b.buffer, b.byteOffset, b.byteLength / 8));
    }
    default:
      throw new Error(`dtype ${dtype} is not a float type (F64, F32, F16, BF16)`);
  }
}

export interface StreamUploadOptions {
  /** Called after each parameter is complete. */
  onTensor?: (done: number, total: number) => void;
  signal?: AbortSignal;
  /** Submit the pack work and wait for the GPU after this many bytes (bounds the driver's staging memory). Default 64 MiB. */
  flushBytes?: number;
  kernels?: KernelCache;
}

export class ParameterSet {
  /** `prefix` is prepended to every key (e.g. "dinov2_with_registers." in classification checkpoints). */
  constructor(
    readonly prefix = '',
    private readonly params: Parameter[] = [],
    private readonly keys = new Map<string, number[]>(),
  ) {}

  /** The same set, declaring under another prefix (a head beside the prefixed base model). */
  withPrefix(prefix: string): ParameterSet {
    return new ParameterSet(prefix, this.params, this.keys);
  }

  declare(
    label: string,
    sources: { key: string; shape: number[] }[],
    packing: Packing | Pack,
    hostOnly = false,
  ): Parameter {
    for (const s of sources) this.keys.set(s.key, s.shape);
    const p = new Parameter(label, sources, packing, hostOnly);
    this.params.push(p);
    return p;
  }

  /** A tensor uploaded as it is. */
  tensor(key: string, shape: number[], hostOnly = false): Parameter {
    const full = this.prefix + key;
    return this.declare(full, [{ key: full, shape }], { kind: 'tensor' }, hostOnly);
  }

  /** A vector padded to a multiple of 4 (read as vec4 by linear.wgsl). */
  vector4(key: string, length: number): Parameter {
    const full = this.prefix + key;
    return this.declare(full, [{ key: full, shape: [length] }], { kind: 'vector4' });
  }

  /** A constant of our own (e.g. the zero bias of a linear layer without one). */
  constant(label: string, value: Float32Array): Parameter {
    return this.declare(label, [], { kind: 'constant', value });
  }

  /** Expected key -> shape of everything declared so far. */
  get expected(): ReadonlyMap<string, number[]> {
    return this.keys;
  }

  /** Every declared parameter, in declaration order. */
  get all(): readonly Parameter[] {
    return this.params;
  }

  /**
   * Every declared key must be in the checkpoint with its shape, and every checkpoint key must be
   * declared, except those matched by `ignore` (heads the chosen class does not use).
   */
  validate(source: TensorIndex, file: string, ignore: (key: string) => boolean = () => false): void {
    const names = new Set(source.names);
    const missing = [...this.keys.keys()].filter((k) => !names.has(k));
    const unexpected = [...names].filter((k) => !this.keys.has(k) && !ignore(k));
    const mismatched: string[] = [];
    for (const [key, shape] of this.keys) {
      if (!names.has(key)) continue;
      const got = source.info(key).shape;
      if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) {
        mismatched.push(`${key}: checkpoint [${got.join(', ')}], config expects [${shape.join(', ')}]`);
      }
    }
    if (missing.length || unexpected.length || mismatched.length) {
      const parts: string[] = [];
      if (missing.length) parts.push(`missing ${missing.length}: ${missing.join(', ')}`);
      if (unexpected.length) parts.push(`unexpected ${unexpected.length}: ${unexpected.join(', ')}`);
      if (mismatched.length) parts.push(`mis-shaped ${mismatched.length}: ${mismatched.join('; ')}`);
      throw new CheckpointError(
        `${file} does not match config.json: ${parts.join('. ')}`,
        missing,
        unexpected,
        mismatched,
      );
    }
  }

  /** Every declared tensor must be a float type the packer converts (F32, F16, BF16, F64). */
  checkDtypes(source: TensorIndex, file: string): void {
    const bad = [...this.keys.keys()]
      .map((k) => [k, source.info(k).dtype] as const)
      .filter(([, dtype]) => !(FLOAT_DTYPES as readonly string[]).includes(dtype));
    if (bad.length) {
      throw new CheckpointError(
        `${file}: ${bad.length} tensors are not float (F32, F16, BF16, F64): ${bad.map(([k, d]) => `${k} ${d}`).join(', ')}`,
      );
    }
  }

  /**
   * Upload every parameter from tensors in memory; `onTensor` reports progress. Stored bytes
   * (when the source offers them) are converted and packed on the GPU, as a stream's would be.
   */
  upload(
    memory: GpuMemory,
    source: TensorSource,
    onTensor?: (done: number, total: number) => void,
    kernels?: KernelCache,
  ): Promise<GpuError | undefined> {
    this.checkDtypes(source, 'checkpoint');
    const packer = new TensorPacker(
      memory,
      kernels ?? KernelCache.forDevice(memory.device),
      this.params,
      source,
      onTensor,
    );
    try {
      for (const p of this.params) {
        for (const { key } of p.sources) {
          const raw = source.bytes?.(key);
          if (raw) packer.write(key, 0, raw, source.info(key).dtype);
          else {
            const f = source.float32(key);
            packer.write(key, 0, new Uint8Array(f.buffer, f.byteOffset, f.byteLength), 'F32');
          }
        }
      }
      return packer.finish();
    } catch (e) {
      packer.abandon();
      throw e;
    }
  }

  /**
   * Upload every parameter from a stream: each tensor's bytes go to a GPU staging buffer as they
   * arrive and are packed there once complete, so the host holds one piece at a time (plus the
   * host-only parameters). The checkpoint must have been validated against this set.
   */
  async uploadStream(
    memory: GpuMemory,
    stream: TensorStream,
    file: string,
    options: StreamUploadOptions = {},
  ): Promise<void> {
    this.checkDtypes(stream, file);
    const packer = new TensorPacker(
      memory,
      options.kernels ?? KernelCache.forDevice(memory.device),
      this.params,
      stream,
      options.onTensor,
    );
    const flushBytes = options.flushBytes ?? 64 * 2 ** 20;
    let sinceFlush = 0;
    const settle = async (submitted: Promise<GpuError | undefined>) => {
      const error = await submitted;
      if (error) throw error;
      await memory.device.queue.onSubmittedWorkDone();
    };
    try {
      await stream.read((name, offset, bytes) => {
        options.signal?.throwIfAborted();
        if (!packer.wants(name)) return;
        packer.write(name, offset, bytes, stream.info(name).dtype);
        sinceFlush += bytes.byteLength;
        if (sinceFlush >= flushBytes) {
          sinceFlush = 0;
          return settle(packer.flush());
        }
      }, options.signal);
      await settle(packer.finish(file));
    } catch (e) {
      packer.abandon();
      this.release(memory);
      throw e;
    }
  }

  release(memory: GpuMemory): void {
    for (const p of this.params) {
      if (p.buffer) memory.destroy(p.buffer);
      for (const piece of p.pieces ?? []) memory.destroy(piece.buffer);
      p.buffer = undefined;
      p.pieces = undefined;
    }
  }
}
