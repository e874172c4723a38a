// The GPU half of ParameterSet.upload. Every destination buffer is created up front from its
// declared Packing; each source tensor's stored bytes go into a staging buffer of its own as they
// arrive (writes 4-byte aligned, an odd tail carried over to the next piece), and once a tensor is
// complete shaders/pack.wgsl converts it to float32 and lays it out in its parameter's buffer.
// Parameters the host needs (position embeddings) or that only a host closure describes are
// assembled in memory instead.
import { COPY_DST, GpuMemory, STORAGE, UNIFORM } from '../gpu/buffers.js';
import type { GpuError } from '../gpu/errors.js';
import { KernelCache } from '../gpu/kernel.js';
import { Recorder } from '../gpu/recorder.js';
import { DTYPE_BYTES, type Dtype } from '../io/safetensors.js';
import { bytesToFloat32, PackLayout, packedLength, packOnCpu, Parameter, TensorIndex } from './parameters.js';

/** shaders/pack.wgsl's DTYPE codes. */
const DTYPE_CODES: Record<string, number> = { F32: 0, F16: 1, BF16: 2, F64: 3 };
const THREADS = 256;
const MAX_GROUPS = 65535;

interface Incoming {
  key: string;
  param: Parameter;
  part: number;
  dtype: string;
  elements: number;
  /** Stored bytes of the whole tensor. */
  total: number;
  received: number;
  /** First row of this tensor in its parameter's matrix (GPU path). */
  row0: number;
  layout: PackLayout | undefined;
  staging?: GPUBuffer;
  /** Bytes written to the staging buffer: a multiple of 4. */
  written: number;
  carry: Uint8Array;
  carryLength: number;
  /** Host path: the whole tensor. */
  host?: Uint8Array;
  complete: boolean;
}

interface ParamState {
  remaining: number;
  parts: Float32Array[];
}

export class TensorPacker {
  private readonly incoming = new Map<string, Incoming>();
  private readonly states = new Map<Parameter, ParamState>();
  /** The GPU errors of the pack work submitted since the last flush. */
  private errors: Promise<GpuError | undefined>[] = [];
  private done = 0;

  constructor(
    private readonly memory: GpuMemory,
    private readonly kernels: KernelCache,
    private readonly params: readonly Parameter[],
    index: TensorIndex,
    private readonly onTensor?: (done: number, total: number) => void,
  ) {
    for (const p of params) {
      const layout = p.layout;
      let row0 = 0;
      p.sources.forEach((s, part) => {
        const { dtype } = index.info(s.key);
        const elements = s.shape.reduce((a, b) => a * b, 1);
        this.incoming.set(s.key, {
          key: s.key,
          param: p,
          part,
          dtype,
          elements,
          total: elements * DTYPE_BYTES[dtype as Dtype],
          received: 0,
          row0,
          layout,
          written: 0,
          carry: new Uint8Array(4),
          carryLength: 0,
          complete: false,
        });
        if (layout) row0 += elements / layout.cols;
      });
      if (layout && row0 !== layout.rows) {
        throw new Error(`${p.label}: its sources hold ${row0} rows of ${layout.cols}, its packing declares ${layout.rows}`);
      }
      this.states.set(p, { remaining: p.sources.length, parts: [] });
    }
    for (const p of params) {
      const layout = p.layout;
      if (layout) p.buffer = memory.create(p.label, packedLength(layout) * 4); // zeroed: the padding stays 0
      if (p.sources.length === 0) this.paramComplete(p);
    }
  }

  /** Whether `key` is a declared tensor (others, e.g. an unused head, are skipped). */
  wants(key: string): boolean {
    return this.incoming.has(key);
  }

  /** The next piece of `key`'s stored bytes, starting `offset` bytes into the tensor. */
  write(key: string, offset: number, bytes: Uint8Array, dtype: string): void {
    const t = this.incoming.get(key);
    if (!t) throw new Error(`${key} is not a declared parameter`);
    if (dtype !== t.dtype) throw new Error(`${key}: dtype ${dtype}, the index said ${t.dtype}`);
    if (offset !== t.received) throw new Error(`${key}: bytes at ${offset} arrived while ${t.received} were expected next`);
    if (t.received + bytes.byteLength > t.total) throw new Error(`${key}: more than its ${t.total} bytes arrived`);
    if (t.layout) this.stage(t, bytes);
    else {
      t.host ??= new Uint8Array(t.total);
      t.host.set(bytes, offset);
    }
    t.received += bytes.byteLength;
    if (t.received === t.total) this.tensorComplete(t);
  }

  private stage(t: Incoming, bytes: Uint8Array): void {
    const queue = this.memory.device.queue;
    const put = (data: Uint8Array) => {
      queue.writeBuffer(t.staging!, t.written, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
      t.written += data.byteLength;
    };
    t.staging ??= this.memory.create(`${t.key} (stored bytes)`, Math.ceil(t.total / 4) * 4, STORAGE | COPY_DST);
    let data = bytes;
    if (t.carryLength > 0) {
      const take = Math.min(4 - t.carryLength, data.byteLength);
      t.carry.set(data.subarray(0, take), t.carryLength);
      t.carryLength += take;
      data = data.subarray(take);
      if (t.carryLength === 4) {
        put(t.carry);
        t.carryLength = 0;
      }
    }
    const aligned = data.byteLength & ~3;
    if (aligned > 0) put(data.subarray(0, aligned));
    if (aligned < data.byteLength) {
      t.carry.set(data.subarray(aligned));
      t.carryLength = data.byteLength - aligned;
    }
  }

  private tensorComplete(t: Incoming): void {
    t.complete = true;
    const p = t.param;
    if (t.layout) {
      if (t.carryLength > 0) {
        t.carry.fill(0, t.carryLength);
        this.memory.device.queue.writeBuffer(t.staging!, t.written, t.carry.buffer as ArrayBuffer, 0, 4);
        t.carryLength = 0;
      }
      if (t.elements > 0) this.pack(t, t.layout);
      else if (t.staging) this.memory.destroy(t.staging);
      t.staging = undefined;
    } else {
      this.states.get(p)!.parts[t.part] = bytesToFloat32(t.dtype, t.host ?? new Uint8Array(0));
      t.host = undefined;
    }
    const state = this.states.get(p)!;
    if (--state.remaining === 0) this.paramComplete(p);
  }

  /**
   * Packs one complete tensor: recorded and submitted at once (a Recorder's error scopes must not
   * stay open across the awaits of a download), then its staging buffer is released.
   */
  private pack(t: Incoming, layout: PackLayout): void {
    const rec = new Recorder(this.memory, this.kernels, `pack ${t.key}`);
    const groups = Math.ceil(t.elements / THREADS);
    // shaders/pack.wgsl's Part: rows, cols, row0, out_rows4, glu_half.
    const part = Uint32Array.of(t.elements / layout.cols, layout.cols, t.row0, Math.ceil(layout.rows / 4) * 4, layout.glu ? layout.rows / 2 : 0);
    const uniform = this.memory.create(`${t.key} pack sizes`, part.byteLength, UNIFORM | COPY_DST, false);
    this.memory.write(uniform, part);
    try {
      rec.dispatch(
        'pack',
        'main',
        { DTYPE: DTYPE_CODES[t.dtype], THREADS },
        { src: t.staging!, dst: t.param.gpu, part: uniform },
        [Math.min(groups, MAX_GROUPS), Math.ceil(groups / MAX_GROUPS)],
      );
    } catch (e) {
      rec.abandon();
      this.memory.destroy(uniform);
      throw e;
    }
    this.errors.push(rec.submit());
    this.memory.destroy(uniform); // WebGPU keeps both alive until the submitted work is done
    this.memory.destroy(t.staging!);
    t.staging = undefined;
  }

  private paramComplete(p: Parameter): void {
    const state = this.states.get(p)!;
    if (!p.layout) {
      const data = packOnCpu(p.packing, state.parts);
      if (p.hostOnly) p.host = data;
      else p.buffer = this.memory.upload(p.label, data);
    }
    state.parts = [];
    this.done++;
    this.onTensor?.(this.done, this.params.length);
  }

  /** Resolves to the first GPU error of the pack work submitted since the last flush. */
  async flush(): Promise<GpuError | undefined> {
    const errors = this.errors;
    this.errors = [];
    return (await Promise.all(errors)).find((e) => e !== undefined);
  }

  /** Every tensor must be complete (zero-sized ones need no bytes); submits the rest of the work. */
  finish(file = 'checkpoint'): Promise<GpuError | undefined> {
    for (const t of this.incoming.values()) if (!t.complete && t.total === 0) this.tensorComplete(t);
    const short = [...this.incoming.values()].filter((t) => !t.complete);
    if (short.length) {
      const list = short.slice(0, 5).map((t) => `${t.key} (${t.received} of ${t.total} bytes)`);
      throw new Error(`${file}: the data ended before ${short.length} tensors were complete: ${list.join(', ')}${short.length > 5 ? ', ...' : ''}`);
    }
    return this.flush();
  }

  /** After a failure: free the staging buffers of the tensors not yet packed. */
  abandon(): void {
    for (const t of this.incoming.values()) {
      if (t.staging) this.memory.destroy(t.staging);
      t.staging = undefined;
      t.host = undefined;
    }
    this.errors = [];
  }
}
