import { bufferSize, COPY_DST, type GpuMemory, UNIFORM } from './buffers.js';
import { type GpuError, openErrorScopes, watchDevice } from './errors.js';
import { type Constants, type KernelCache, packUniform, uniformLayout } from './kernel.js';
import { SHAPE_WGSL, type ShaderName, shaderVariant, type StorageTypes } from './shaders.js';
import { type KernelTimer, kernelTimerFor } from './timing.js';

/** The per-call sizes of shaders/shape.wgsl's `Shape`, by field name (its layout comes from reflection). */
export type ShapeFields = Record<
  'rows' | 'batch' | 'tokens' | 'height' | 'width' | 'grid_h' | 'grid_w' | 'patches',
  number
>;

/** Largest workgroup count per dimension that every WebGPU device accepts. */
const MAX_WORKGROUPS_PER_DIM = 65535;

/**
 * Scratch buffers and `shape` uniforms of one input shape. A Recorder given none makes its own and
 * frees it at submit; a model keeps one per recent input shape (src/model/modeling.ts) so that
 * repeated forwards of a shape reuse the buffers, and with them the bind groups over them.
 * Nothing in a workspace carries over from one forward to the next: every scratch buffer is
 * written by the forward (upload or dispatch) before it is read, and a uniform holds its key.
 */
export class Workspace {
  private readonly buffers = new Map<string, GPUBuffer>();

  constructor(readonly memory: GpuMemory) {}

  /** The buffer named `label` of at least `bytes` bytes: made the first time, then the same one. */
  buffer(label: string, bytes: number, usage?: number): GPUBuffer {
    let buffer = this.buffers.get(label);
    if (buffer && buffer.size !== bufferSize(bytes)) {
      this.memory.destroy(buffer);
      buffer = undefined;
    }
    if (!buffer) {
      buffer = this.memory.create(label, bytes, usage);
      this.buffers.set(label, buffer);
    }
    return buffer;
  }

  /** The uniform holding `values`, written once when made (its contents are its key). */
  uniform(values: Uint32Array): GPUBuffer {
    const label = `shape ${values.join(',')}`;
    let buffer = this.buffers.get(label);
    if (!buffer) {
      buffer = this.memory.create(label, values.byteLength, UNIFORM | COPY_DST, false);
      this.memory.write(buffer, values);
      this.buffers.set(label, buffer);
    }
    return buffer;
  }

  /** Bytes of the buffers held. */
  get bytes(): number {
    let n = 0;
    for (const b of this.buffers.values()) n += b.size;
    return n;
  }

  /** Frees every buffer (WebGPU keeps them alive until submitted work that uses them is done). */
  release(): void {
    for (const buffer of this.buffers.values()) this.memory.destroy(buffer);
    this.buffers.clear();
  }
}

/**
 * Records one forward: a single command encoder, compute passes split only where a buffer copy
 * must sit between dispatches, one submit at the end. Scratch buffers and shape uniforms come from
 * `workspace`; without one they are this call's own and are released once the work is submitted.
 * Bind groups are memoized by GpuMemory.bindGroup.
 */
export class Recorder {
  readonly encoder: GPUCommandEncoder;
  private pass: GPUComputePassEncoder | undefined;
  readonly workspace: Workspace;
  private readonly ownsWorkspace: boolean;
  /** Scratch names taken by this forward: one name is one buffer. */
  private readonly taken = new Set<string>();
  private input: Partial<ShapeFields> = {};
  private readonly scopes: ReturnType<typeof openErrorScopes>;
  /** When a KernelTimer is attached to the device, every dispatch gets a timed pass of its own. */
  private readonly timer: KernelTimer | undefined;
  dispatches = 0;

  constructor(
    readonly memory: GpuMemory,
    readonly kernels: KernelCache,
    readonly label: string,
    workspace?: Workspace,
  ) {
    watchDevice(memory.device).check(label);
    this.workspace = workspace ?? new Workspace(memory);
    this.ownsWorkspace = workspace === undefined;
    // Everything recorded until submit() is inside these scopes (recording never awaits).
    this.scopes = openErrorScopes(memory.device);
    this.encoder = memory.device.createCommandEncoder({ label });
    this.timer = kernelTimerFor(memory.device);
  }

  /** A scratch buffer of this forward (from the workspace); each label names one buffer. */
  scratchBuffer(label: string, bytes: number): GPUBuffer {
    if (this.taken.has(label)) throw new Error(`${this.label}: scratch buffer '${label}' taken twice`);
    this.taken.add(label);
    return this.workspace.buffer(label, bytes);
  }

  /** The input sizes of this forward (batch, image, grid): the default fields of every shape uniform. */
  setInput(fields: Partial<ShapeFields>): void {
    this.input = { ...fields };
  }

  /** The `shape` uniform for a dispatch: this forward's input sizes with `fields` (at least `rows`) on top. */
  shape(fields: Partial<ShapeFields> & { rows: number }): GPUBuffer {
    const all = { ...this.input, ...fields };
    return this.workspace.uniform(packUniform(uniformLayout(SHAPE_WGSL, 'Shape'), all));
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
      throw new Error(
        `${shader}.${entryPoint}: dispatch ${x}x${y}x${z} exceeds ${MAX_WORKGROUPS_PER_DIM} workgroups per dimension`,
      );
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
    this.pass.setBindGroup(0, kernel.bind(buffers, this.memory));
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
      if (this.ownsWorkspace) this.workspace.release();
    }
    return this.scopes.close(this.label);
  }

  /** Closes the error scopes without submitting, after recording failed part-way. */
  abandon(): void {
    if (this.ownsWorkspace) this.workspace.release();
    void this.scopes.close(this.label);
  }
}

/**
 * Workgroups for `rows` when each workgroup handles one: rows spill into y past the largest count
 * per dimension; the kernels find their row as id.x + id.y * num_workgroups.x (or the next pair).
 */
export function rowsGrid(rows: number): [number, number] {
  return rows <= MAX_WORKGROUPS_PER_DIM
    ? [rows, 1]
    : [MAX_WORKGROUPS_PER_DIM, Math.ceil(rows / MAX_WORKGROUPS_PER_DIM)];
}
