// The walk from checkpoint keys to GPU buffers. Modules declare their parameters by key while the
// module tree is built; the whole checkpoint is then checked at once (missing, unexpected and
// mis-shaped tensors in one error) before anything is uploaded.
import { GpuMemory } from '../gpu/buffers.js';

/** What the loader needs of a checkpoint: a SafetensorsFile, or several shards behind one face. */
export interface TensorSource {
  readonly names: string[];
  info(name: string): { dtype: string; shape: number[] };
  float32(name: string): Float32Array;
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

type Pack = (tensors: Float32Array[]) => Float32Array;

export class Parameter {
  buffer: GPUBuffer | undefined;
  /** For parameters the host computes with (position embeddings): kept here, not uploaded. */
  host: Float32Array | undefined;

  constructor(
    readonly label: string,
    readonly sources: { key: string; shape: number[] }[],
    readonly pack: Pack,
    readonly hostOnly: boolean,
  ) {}

  get gpu(): GPUBuffer {
    if (!this.buffer) throw new Error(`${this.label} is not loaded`);
    return this.buffer;
  }
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

  declare(label: string, sources: { key: string; shape: number[] }[], pack: Pack, hostOnly = false): Parameter {
    for (const s of sources) this.keys.set(s.key, s.shape);
    const p = new Parameter(label, sources, pack, hostOnly);
    this.params.push(p);
    return p;
  }

  /** A tensor uploaded as it is. */
  tensor(key: string, shape: number[], hostOnly = false): Parameter {
    const full = this.prefix + key;
    return this.declare(full, [{ key: full, shape }], ([t]) => t, hostOnly);
  }

  /** A vector padded to a multiple of 4 (read as vec4 by linear.wgsl). */
  vector4(key: string, length: number): Parameter {
    const full = this.prefix + key;
    return this.declare(full, [{ key: full, shape: [length] }], ([t]) => padTo4(t));
  }

  /** A constant of our own (e.g. the zero bias of a linear layer without one). */
  constant(label: string, value: Float32Array): Parameter {
    return this.declare(label, [], () => value);
  }

  /** Expected key -> shape of everything declared so far. */
  get expected(): ReadonlyMap<string, number[]> {
    return this.keys;
  }

  /**
   * Every declared key must be in the checkpoint with its shape, and every checkpoint key must be
   * declared, except those matched by `ignore` (heads the chosen class does not use).
   */
  validate(source: TensorSource, file: string, ignore: (key: string) => boolean = () => false): void {
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
      throw new CheckpointError(`${file} does not match config.json: ${parts.join('. ')}`, missing, unexpected, mismatched);
    }
  }

  /** Upload every parameter; `onTensor` reports progress. */
  upload(memory: GpuMemory, source: TensorSource, onTensor?: (done: number, total: number) => void): void {
    this.params.forEach((p, i) => {
      const data = p.pack(p.sources.map((s) => source.float32(s.key)));
      if (p.hostOnly) p.host = data;
      else p.buffer = memory.upload(p.label, data);
      onTensor?.(i + 1, this.params.length);
    });
  }

  release(memory: GpuMemory): void {
    for (const p of this.params) {
      if (p.buffer) memory.destroy(p.buffer);
      p.buffer = undefined;
    }
  }
}
