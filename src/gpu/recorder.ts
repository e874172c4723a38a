import { GpuMemory } from './buffers.js';
import { Constants, KernelCache } from './kernel.js';
import { SHADERS, ShaderName } from './shaders.js';

/** Largest workgroup count per dimension that every WebGPU device accepts. */
export const MAX_WORKGROUPS_PER_DIM = 65535;

/**
 * Records one forward: a single command encoder, compute passes split only where a buffer copy
 * must sit between dispatches, one submit at the end. Scratch buffers are per call (never shared
 * between calls in flight) and are released once the work is submitted.
 */
export class Recorder {
  readonly encoder: GPUCommandEncoder;
  private pass: GPUComputePassEncoder | undefined;
  private readonly scratch: GPUBuffer[] = [];
  dispatches = 0;

  constructor(
    readonly memory: GpuMemory,
    readonly kernels: KernelCache,
    readonly label: string,
  ) {
    this.encoder = memory.device.createCommandEncoder({ label });
  }

  /** A buffer that lives until submit. */
  scratchBuffer(label: string, bytes: number): GPUBuffer {
    const buffer = this.memory.create(label, bytes);
    this.scratch.push(buffer);
    return buffer;
  }

  dispatch(
    shader: ShaderName,
    entryPoint: string,
    constants: Constants,
    buffers: Record<string, GPUBuffer | GPUBufferBinding>,
    workgroups: [number, number?, number?],
  ): void {
    const [x, y = 1, z = 1] = workgroups;
    if (x > MAX_WORKGROUPS_PER_DIM || y > MAX_WORKGROUPS_PER_DIM || z > MAX_WORKGROUPS_PER_DIM) {
      throw new Error(`${shader}.${entryPoint}: dispatch ${x}x${y}x${z} exceeds ${MAX_WORKGROUPS_PER_DIM} workgroups per dimension`);
    }
    if (x === 0 || y === 0 || z === 0) return;
    const kernel = this.kernels.get(shader, SHADERS[shader], entryPoint, constants);
    this.pass ??= this.encoder.beginComputePass({ label: this.label });
    this.pass.setPipeline(kernel.pipeline);
    this.pass.setBindGroup(0, kernel.bind(buffers));
    this.pass.dispatchWorkgroups(x, y, z);
    this.dispatches++;
  }

  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.endPass();
    this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = undefined;
  }

  submit(): void {
    this.endPass();
    this.memory.device.queue.submit([this.encoder.finish()]);
    for (const buffer of this.scratch) this.memory.destroy(buffer);
    this.scratch.length = 0;
  }
}

/** Workgroups for `rows` when each workgroup handles one: rows spill into y past 65535. */
export function rowsGrid(rows: number): [number, number] {
  return rows <= MAX_WORKGROUPS_PER_DIM ? [rows, 1] : [MAX_WORKGROUPS_PER_DIM, Math.ceil(rows / MAX_WORKGROUPS_PER_DIM)];
}
