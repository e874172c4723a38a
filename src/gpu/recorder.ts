import { COPY_DST, GpuMemory, UNIFORM } from './buffers.js';
import { GpuError, openErrorScopes, watchDevice } from './errors.js';
import { Constants, KernelCache } from './kernel.js';
import { ShaderName, shaderVariant, StorageTypes } from './shaders.js';
import { KernelTimer, kernelTimerFor } from './timing.js';

/** The fields of shaders/shape.wgsl's `Shape`, in its order. */
export const SHAPE_FIELDS = ['rows', 'batch', 'tokens', 'height', 'width', 'grid_h', 'grid_w', 'patches'] as const;
export type ShapeFields = { [K in (typeof SHAPE_FIELDS)[number]]: number };

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
  private readonly shapes = new Map<string, GPUBuffer>();
  private input: Partial<ShapeFields> = {};
  private readonly scopes: ReturnType<typeof openErrorScopes>;
  /** When a KernelTimer is attached to the device, every dispatch gets a timed pass of its own. */
  private readonly timer: KernelTimer | undefined;
  dispatches = 0;

  constructor(
    readonly memory: GpuMemory,
    readonly kernels: KernelCache,
    readonly label: string,
  ) {
    watchDevice(memory.device).check(label);
    // Everything recorded until submit() is inside these scopes (recording never awaits).
    this.scopes = openErrorScopes(memory.device);
    this.encoder = memory.device.createCommandEncoder({ label });
    this.timer = kernelTimerFor(memory.device);
  }

  /** A buffer that lives until submit. */
  scratchBuffer(label: string, bytes: number): GPUBuffer {
    const buffer = this.memory.create(label, bytes);
    this.scratch.push(buffer);
    return buffer;
  }

  /** The input sizes of this forward (batch, image, grid): the default fields of every shape uniform. */
  setInput(fields: Partial<ShapeFields>): void {
    this.input = { ...fields };
  }

  /** The `shape` uniform for a dispatch: this forward's input sizes with `fields` (at least `rows`) on top. */
  shape(fields: Partial<ShapeFields> & { rows: number }): GPUBuffer {
    const all = { ...this.input, ...fields };
    const values = Uint32Array.from(SHAPE_FIELDS, (f) => all[f] ?? 0);
    const key = values.join(',');
    let buffer = this.shapes.get(key);
    if (!buffer) {
      buffer = this.memory.create(`shape ${key}`, values.byteLength, UNIFORM | COPY_DST, false);
      this.memory.write(buffer, values);
      this.scratch.push(buffer);
      this.shapes.set(key, buffer);
    }
    return buffer;
  }

  dispatch(
    shader: ShaderName,
    entryPoint: string,
    constants: Constants,
    buffers: Record<string, GPUBuffer | GPUBufferBinding>,
    workgroups: [number, number?, number?],
    types: Partial<StorageTypes> = {},
  ): void {
    const [x, y = 1, z = 1] = workgroups;
    if (x > MAX_WORKGROUPS_PER_DIM || y > MAX_WORKGROUPS_PER_DIM || z > MAX_WORKGROUPS_PER_DIM) {
      throw new Error(`${shader}.${entryPoint}: dispatch ${x}x${y}x${z} exceeds ${MAX_WORKGROUPS_PER_DIM} workgroups per dimension`);
    }
    if (x === 0 || y === 0 || z === 0) return;
    const variant = shaderVariant(shader, types);
    const kernel = this.kernels.get(variant.name, variant.code, entryPoint, constants);
    if (this.timer) {
      this.endPass();
      this.pass = this.encoder.beginComputePass(this.timer.pass(`${shader}.${entryPoint}`, this.label));
    }
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

  /** Submits the work once; resolves to the first GPU error it raised, typed (undefined when none). */
  submit(): Promise<GpuError | undefined> {
    try {
      this.endPass();
      this.timer?.resolve(this.encoder);
      this.memory.device.queue.submit([this.encoder.finish()]);
    } finally {
      for (const buffer of this.scratch) this.memory.destroy(buffer);
      this.scratch.length = 0;
    }
    return this.scopes.close(this.label);
  }

  /** Closes the error scopes without submitting, after recording failed part-way. */
  abandon(): void {
    for (const buffer of this.scratch) this.memory.destroy(buffer);
    this.scratch.length = 0;
    void this.scopes.close(this.label);
  }
}

/** Workgroups for `rows` when each workgroup handles one: rows spill into y past 65535. */
export function rowsGrid(rows: number): [number, number] {
  return rows <= MAX_WORKGROUPS_PER_DIM ? [rows, 1] : [MAX_WORKGROUPS_PER_DIM, Math.ceil(rows / MAX_WORKGROUPS_PER_DIM)];
}
