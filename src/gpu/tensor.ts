import { COPY_DST, GpuMemory, MAP_READ } from './buffers.js';

/** A float32 tensor that lives on the GPU; nothing is read back until `read()`. */
export class GpuTensor {
  readonly size: number;
  private disposed = false;

  constructor(
    readonly memory: GpuMemory,
    readonly buffer: GPUBuffer,
    readonly dims: number[],
    readonly name: string,
  ) {
    this.size = dims.reduce((a, b) => a * b, 1);
  }

  /** Copy to the CPU. */
  async read(): Promise<Float32Array> {
    if (this.disposed) throw new Error(`${this.name} was disposed`);
    const bytes = this.size * 4;
    const device = this.memory.device;
    const staging = this.memory.create(`${this.name} readback`, bytes, MAP_READ | COPY_DST, false);
    try {
      const encoder = device.createCommandEncoder({ label: `read ${this.name}` });
      encoder.copyBufferToBuffer(this.buffer, 0, staging, 0, Math.ceil(bytes / 4) * 4);
      device.queue.submit([encoder.finish()]);
      await staging.mapAsync(MAP_READ, 0, staging.size);
      return new Float32Array(staging.getMappedRange(0, staging.size).slice(0, bytes));
    } finally {
      if (staging.mapState === 'mapped') staging.unmap();
      this.memory.destroy(staging);
    }
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

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.memory.destroy(this.buffer);
  }
}
