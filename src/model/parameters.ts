// The walk from checkpoint keys to GPU buffers. Modules declare their parameters by key while the
// module tree is built, each with a declarative Packing (src/model/packing.ts: how its buffer is
// laid out); the whole checkpoint is then checked at once (missing, unexpected and mis-shaped
// tensors in one error) before anything is uploaded. The upload moves raw tensor bytes into the GPU
// as they arrive and packs them there (src/model/packer.ts, shaders/pack.wgsl), so a checkpoint
// never needs a whole tensor on the host; only host-side parameters (position embeddings) are
// assembled in memory. A checkpoint in memory is read as a stream too (streamOf).
import type { GpuMemory } from '../gpu/buffers.js';
import type { GpuError } from '../gpu/errors.js';
import { KernelCache } from '../gpu/kernel.js';
import { streamOf, type TensorIndex, type TensorSource, type TensorStream } from '../io/tensors.js';
import { TensorPacker } from './packer.js';
import { Parameter, type Packing, type ParameterSource } from './packing.js';

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

const FLOAT_DTYPES = ['F32', 'F16', 'BF16', 'F64'] as const;

export interface UploadOptions {
  /** The checkpoint's name in error messages. */
  file?: string;
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

  declare(label: string, sources: ParameterSource[], packing: Packing, hostOnly = false): Parameter {
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
   * Uploads every parameter: each tensor's bytes go to a GPU staging buffer as they arrive and are
   * packed there once complete, so the host holds one piece at a time (plus the host-only
   * parameters). The checkpoint must have been validated against this set. Sizes are checked
   * before anything is allocated (a GpuLimitError is thrown at once); the promise settles once the
   * GPU has packed everything, rejecting with the first GPU error (buffers released).
   */
  upload(
    memory: GpuMemory,
    weights: TensorSource | TensorStream,
    options: UploadOptions = {},
  ): Promise<void> {
    const stream = streamOf(weights);
    const file = options.file ?? 'checkpoint';
    this.checkDtypes(stream, file);
    const packer = new TensorPacker(
      memory,
      options.kernels ?? KernelCache.forDevice(memory.device),
      this.params,
      stream,
      options.onTensor,
    );
    return this.stream(memory, packer, stream, file, options);
  }

  private async stream(
    memory: GpuMemory,
    packer: TensorPacker,
    stream: TensorStream,
    file: string,
    options: UploadOptions,
  ): Promise<void> {
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
