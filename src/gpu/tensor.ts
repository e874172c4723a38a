import { COPY_DST, type GpuMemory, MAP_READ } from './buffers.js';
import { GpuError, openErrorScopes, watchDevice } from './errors.js';

/**
 * A tensor whose GPU memory is gone: it was disposed, or the model that made it was disposed
 * (before its read, or while the forward that produced it ran). Its data cannot be read.
 */
export class DisposedError extends GpuError {
  override name = 'DisposedError';
}

/** A contiguous part of a tensor's data, in one GPU buffer (a tensor larger than one binding allows has several). */
export interface TensorSegment {
  buffer: GPUBuffer;
  /** Floats in this segment. */
  length: number;
}

/** A float32 tensor that lives on the GPU; nothing is read back until `read()`. */
export class GpuTensor {
  readonly size: number;
  readonly segments: TensorSegment[];
  private disposed = false;

  constructor(
    readonly memory: GpuMemory,
    buffers: GPUBuffer | TensorSegment[],
    readonly dims: number[],
    readonly name: string,
    /** Resolves to the error of the work that produced this tensor, if it failed. */
    private readonly produced: Promise<GpuError | undefined> = Promise.resolve(undefined),
  ) {
    this.size = dims.reduce((a, b) => a * b, 1);
    this.segments = Array.isArray(buffers) ? buffers : [{ buffer: buffers, length: this.size }];
  }

  /** The single buffer of an unsegmented tensor. */
  get buffer(): GPUBuffer {
    if (this.segments.length !== 1)
      throw new Error(`${this.name} is split over ${this.segments.length} buffers`);
    return this.segments[0].buffer;
  }

  /** Whether the tensor's GPU memory is still there (not disposed, by itself or with its model). */
  get alive(): boolean {
    return !this.disposed && !this.segments.some((s) => this.memory.isDestroyed(s.buffer));
  }

  /** Throws a DisposedError when the tensor's memory is gone. */
  private checkAlive(): void {
    if (this.disposed) throw new DisposedError(`${this.name} was disposed; its data cannot be read`);
    if (!this.alive)
      throw new DisposedError(
        `${this.name}: its model was disposed (before this read, or while the forward that made it ran); its data cannot be read`,
      );
  }

  /**
   * Copy to the CPU. Rejects (typed) when the work that produced the tensor failed, the device was
   * lost, or the tensor's memory is gone (DisposedError): a read never resolves with data that is
   * not the tensor's.
   */
  async read(): Promise<Float32Array> {
    this.checkAlive();
    const device = this.memory.device;
    const watch = watchDevice(device);
    watch.check(`reading ${this.name}`);
    const failure = await this.produced;
    if (failure) throw failure;
    const out = new Float32Array(this.size);
    let offset = 0;
    for (const segment of this.segments) {
      const bytes = segment.length * 4;
      // Checked again after each wait: a dispose may have come in between. From here to the
      // submit nothing waits, and work submitted before a buffer is destroyed still completes.
      this.checkAlive();
      const staging = this.memory.create(`${this.name} readback`, bytes, MAP_READ | COPY_DST, false);
      try {
        const scopes = openErrorScopes(device);
        const encoder = device.createCommandEncoder({ label: `read ${this.name}` });
        encoder.copyBufferToBuffer(segment.buffer, 0, staging, 0, bytes);
        device.queue.submit([encoder.finish()]);
        const copyFailure = scopes.close(`reading ${this.name}`);
        try {
          await staging.mapAsync(MAP_READ, 0, staging.size);
        } catch (e) {
          // A lost device can reject the map just before its lost promise settles: give it a turn.
          await new Promise((resolve) => setTimeout(resolve, 0));
          watch.check(`reading ${this.name}`);
          this.checkAlive(); // the model disposed while this read waited: its staging buffer went too
          throw new GpuError(`reading ${this.name}: ${(e as Error).message}`);
        }
        // A copy WebGPU refused (a buffer destroyed behind this tensor's back) leaves zeros in the staging buffer.
        const refused = await copyFailure;
        if (refused) throw refused;
        out.set(new Float32Array(staging.getMappedRange(0, bytes)), offset);
      } finally {
        if (staging.mapState === 'mapped') staging.unmap();
        this.memory.destroy(staging);
      }
      offset += segment.length;
    }
    return out;
  }

  /** Nested arrays, like transformers.js' Tensor.tolist(). */
  async tolist(): Promise<unknown[]> {
    const data = await this.read();
    const nest = (offset: number, axis: number): unknown[] => {
      const n = this.dims[axis];
      if (axis === this.dims.length - 1) return Array.from(data.subarray(offset, offset + n));
      const stride = this.dims.slice(axis + 1).reduce((a, b) => a * b, 1);
      return Array.from({ length: n }, (_, i) => nest(offset + i * stride, axis + 1));
    };
    return nest(0, 0);
  }

  /** Frees the GPU memory; safe to call twice. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const s of this.segments) this.memory.destroy(s.buffer);
  }
}
