// The GPU half of ParameterSet.upload. Every destination buffer is created up front from its
// declared Packing; each source tensor's stored bytes go into a staging buffer of its own as they
// arrive (writes 4-byte aligned, an odd tail carried over to the next piece), and once a tensor (or a
// chunk of its rows) is complete shaders/pack.wgsl converts it to float32 and lays it out in its
// parameter's buffer.
// Parameters the host needs (position embeddings) and constants are assembled in memory instead.
// Limits: the GPU-packed buffers are sized against the device's before any is created. A linear
// weight (`split` in its Packing) larger than one binding is split along its rows (output features)
// into pieces that fit (splitRows); a tensor's stored bytes are staged in chunks of whole rows that
// fit, each packed once full.
import {
  bufferSize,
  COPY_DST,
  GpuLimitError,
  type GpuMemory,
  STORAGE,
  storageLimit,
  UNIFORM,
} from '../gpu/buffers.js';
import type { GpuError } from '../gpu/errors.js';
import { type KernelCache, packUniform, uniformLayout } from '../gpu/kernel.js';
import { Recorder, rowsGrid } from '../gpu/recorder.js';
import { SHADERS, storageBytes, type StorageType } from '../gpu/shaders.js';
import { DTYPE_BYTES, type Dtype } from '../io/safetensors.js';
import type { TensorIndex } from '../io/tensors.js';
import {
  bytesToFloat32,
  type PackLayout,
  packedLength,
  packOnCpu,
  type Parameter,
  pieceUnit,
  splitRows,
} from './packing.js';

/** shaders/pack.wgsl's DTYPE codes. */
const DTYPE_CODES: Record<string, number> = { F32: 0, F16: 1, BF16: 2, F64: 3 };
/** pack.wgsl's workgroup size (its THREADS override): one thread per element. */
const PACK_THREADS = 256;
/** Bytes of an element as pack.wgsl writes it (f32); a half-precision copy is made from that. */
const PACKED_BYTES = 4;

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
  /** Source rows per staging buffer: all of them, or as many whole rows as fit one binding (4-byte aligned). */
  chunkRows: number;
  /** One staging buffer per chunk, created when its first bytes arrive and packed once full. */
  staging: (GPUBuffer | undefined)[];
  /** Bytes written to the staging buffers: a multiple of 4. */
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
    // Everything is sized first, so that a GpuLimitError leaves nothing allocated.
    const limit = storageLimit(memory.device.limits);
    const plans = new Map<Parameter, { row0: number; rows: number }[]>();
    for (const p of params) {
      const layout = p.layout;
      p.pieces = undefined;
      if (layout) plans.set(p, this.planPieces(p.label, layout, limit));
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
          row0: s.row0 ?? row0,
          layout,
          chunkRows: layout
            ? this.chunkRows(s.key, elements / layout.cols, layout.cols * DTYPE_BYTES[dtype as Dtype], limit)
            : 0,
          staging: [],
          written: 0,
          carry: new Uint8Array(4),
          carryLength: 0,
          complete: false,
        });
        if (layout) row0 = (s.row0 ?? row0) + elements / layout.cols;
      });
      // Blocks placed by row0 may leave rows absent (zero); blocks that follow each other fill them all.
      const placed = p.sources.some((s) => s.row0 !== undefined);
      if (layout && (placed ? row0 > layout.rows : row0 !== layout.rows)) {
        throw new Error(
          `${p.label}: its sources hold ${row0} rows of ${layout.cols}, its packing declares ${layout.rows}`,
        );
      }
      this.states.set(p, { remaining: p.sources.length, parts: [] });
    }
    for (const p of params) {
      const plan = plans.get(p);
      const layout = p.layout!;
      // Zeroed: the padding stays 0.
      if (plan?.length === 1) p.buffer = memory.create(p.label, packedLength(layout) * PACKED_BYTES);
      else if (plan) {
        p.pieces = plan.map(({ row0, rows }) => ({
          row0,
          rows,
          buffer: memory.create(
            `${p.label} rows ${row0}..${row0 + rows}`,
            packedLength({ ...layout, rows }) * PACKED_BYTES,
          ),
        }));
      }
      if (p.sources.length === 0) this.paramComplete(p);
    }
  }

  /** Row ranges of a parameter's buffers: the whole, or the pieces of a weight that may be split. */
  private planPieces(
    label: string,
    layout: PackLayout,
    limit: { bytes: number; name: string },
  ): { row0: number; rows: number }[] {
    if (!layout.split) {
      this.memory.check(label, packedLength(layout) * PACKED_BYTES);
      return [{ row0: 0, rows: layout.rows }];
    }
    // Each piece must fit as packed (f32) and as stored (f16 with dtype 'fp16').
    const bytes = Math.max(PACKED_BYTES, storageBytes(layout.storage));
    const pieces = splitRows(layout, limit.bytes, bytes);
    if (!pieces) {
      const unit = pieceUnit(layout);
      throw new GpuLimitError(
        `${label}: cannot be split to fit this device's ${limit.name} (${limit.bytes}): its smallest piece, ${unit} of its ${layout.rows} ` +
          `output rows by ${layout.cols} inputs, needs ${bufferSize(unit * layout.cols * bytes)} bytes`,
      );
    }
    return pieces;
  }

  /** Source rows per staging buffer: all, or the most whole rows that fit with a size that is a multiple of 4 bytes. */
  private chunkRows(
    key: string,
    rows: number,
    rowBytes: number,
    limit: { bytes: number; name: string },
  ): number {
    const fit = Math.floor(limit.bytes / 16) * 16;
    if (rows * rowBytes <= fit) return rows;
    let aligned = 1;
    while ((aligned * rowBytes) % 4 !== 0) aligned *= 2;
    const chunk = Math.floor(fit / (aligned * rowBytes)) * aligned;
    if (chunk === 0) {
      throw new GpuLimitError(
        `${key}: ${aligned} row(s) of its stored bytes (${aligned * rowBytes} bytes) exceed this device's ${limit.name} (${limit.bytes})`,
      );
    }
    return chunk;
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
    if (offset !== t.received)
      throw new Error(`${key}: bytes at ${offset} arrived while ${t.received} were expected next`);
    if (t.received + bytes.byteLength > t.total)
      throw new Error(`${key}: more than its ${t.total} bytes arrived`);
    if (t.layout) this.stage(t, bytes);
    else {
      t.host ??= new Uint8Array(t.total);
      t.host.set(bytes, offset);
    }
    t.received += bytes.byteLength;
    if (t.received === t.total) this.tensorComplete(t);
  }

  private stage(t: Incoming, bytes: Uint8Array): void {
    const put = (data: Uint8Array) => this.put(t, data);
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

  /** 4-byte-aligned bytes into the staging chunks at `t.written`; each chunk is packed once full. */
  private put(t: Incoming, data: Uint8Array): void {
    const chunkBytes = Math.ceil((t.chunkRows * t.layout!.cols * DTYPE_BYTES[t.dtype as Dtype]) / 4) * 4; // a whole tensor's bytes padded to 4
    const end = Math.ceil(t.total / 4) * 4;
    const chunks = Math.ceil(end / chunkBytes);
    for (let at = 0; at < data.byteLength; ) {
      const c = Math.floor(t.written / chunkBytes);
      const start = c * chunkBytes;
      const size = Math.min(chunkBytes, end - start);
      const label =
        chunks === 1 ? `${t.key} (stored bytes)` : `${t.key} (stored bytes of rows ${c * t.chunkRows}..)`;
      const staging = (t.staging[c] ??= this.memory.create(label, size, STORAGE | COPY_DST));
      const n = Math.min(data.byteLength - at, start + size - t.written);
      this.memory.device.queue.writeBuffer(
        staging,
        t.written - start,
        data.buffer as ArrayBuffer,
        data.byteOffset + at,
        n,
      );
      t.written += n;
      at += n;
      if (t.written === start + size) this.pack(t, c);
    }
  }

  private tensorComplete(t: Incoming): void {
    t.complete = true;
    const p = t.param;
    if (t.layout) {
      if (t.carryLength > 0) {
        t.carry.fill(0, t.carryLength);
        t.carryLength = 0;
        this.put(t, t.carry); // the last chunk is full now, and packed
      }
    } else {
      this.states.get(p)!.parts[t.part] = bytesToFloat32(t.dtype, t.host ?? new Uint8Array(0));
      t.host = undefined;
    }
    const state = this.states.get(p)!;
    if (--state.remaining === 0) this.paramComplete(p);
  }

  /**
   * Packs one full staging chunk into every piece its rows land in: recorded and submitted at once
   * (a Recorder's error scopes must not stay open across the awaits of a download), then the chunk
   * is released.
   */
  private pack(t: Incoming, c: number): void {
    const layout = t.layout!;
    const rows = Math.min(t.chunkRows, t.elements / layout.cols - c * t.chunkRows);
    const row0 = t.row0 + c * t.chunkRows;
    const [lo, hi] = packedRows(row0, row0 + rows, layout);
    const groups = Math.ceil((rows * layout.cols) / PACK_THREADS);
    const rec = new Recorder(this.memory, this.kernels, `pack ${t.key}`);
    const uniforms: GPUBuffer[] = [];
    try {
      for (const piece of t.param.gpuPieces) {
        if (piece.row0 >= hi || piece.row0 + piece.rows <= lo) continue;
        const part = packUniform(
          uniformLayout(SHADERS.pack, 'Part'),
          {
            rows,
            cols: layout.cols,
            row0,
            out_rows4: Math.ceil(piece.rows / 4) * 4,
            glu_half: layout.glu ? layout.rows / 2 : 0,
            piece_row0: piece.row0,
            piece_rows: piece.rows,
          },
          true,
        );
        const uniform = this.memory.create(`${t.key} pack sizes`, part.byteLength, UNIFORM | COPY_DST, false);
        uniforms.push(uniform);
        this.memory.write(uniform, part);
        rec.dispatch(
          'pack',
          'main',
          { DTYPE: DTYPE_CODES[t.dtype], THREADS: PACK_THREADS },
          { src: t.staging[c]!, dst: piece.buffer, part: uniform },
          rowsGrid(groups),
        );
      }
    } catch (e) {
      rec.abandon();
      for (const u of uniforms) this.memory.destroy(u);
      throw e;
    }
    this.errors.push(rec.submit());
    for (const u of uniforms) this.memory.destroy(u); // WebGPU keeps them alive until the submitted work is done
    this.memory.destroy(t.staging[c]!);
    t.staging[c] = undefined;
  }

  private paramComplete(p: Parameter): void {
    const state = this.states.get(p)!;
    const layout = p.layout;
    if (layout) this.finishBuffers(p, layout);
    else {
      const data = packOnCpu(p.packing, state.parts);
      if (p.hostOnly) p.host = data;
      else p.buffer = this.memory.upload(p.label, data);
    }
    state.parts = [];
    this.done++;
    this.onTensor?.(this.done, this.params.length);
  }

  /** A packed parameter's final buffers, once all its pack work is queued: each piece (or the whole) in its stored type. */
  private finishBuffers(p: Parameter, layout: PackLayout): void {
    const storage = layout.storage;
    if (storage === 'f32') return;
    const half = (wide: GPUBuffer, rows: number) =>
      this.toHalf(wide.label, wide, packedLength({ ...layout, rows }), storage);
    if (p.pieces) for (const piece of p.pieces) piece.buffer = half(piece.buffer, piece.rows);
    else if (p.buffer) p.buffer = half(p.buffer, layout.rows);
  }

  /**
   * A packed f32 buffer of `floats` into half precision (shaders/pack.wgsl to_half / round_half), queued
   * after its pack work: 'f16' moves it into a buffer of half the size, 'f16-emulated' rounds it in place.
   */
  private toHalf(
    label: string,
    wide: GPUBuffer,
    floats: number,
    storage: Exclude<StorageType, 'f32'>,
  ): GPUBuffer {
    const words = storage === 'f16' ? Math.ceil(floats / 2) : floats;
    const groups = Math.ceil(words / PACK_THREADS);
    const grid = rowsGrid(groups);
    const rec = new Recorder(this.memory, this.kernels, `${label} to ${storage}`);
    let narrow: GPUBuffer | undefined;
    try {
      if (storage === 'f16') {
        narrow = this.memory.create(label, words * 4);
        rec.dispatch('pack', 'to_half', { THREADS: PACK_THREADS }, { wide, narrow }, grid);
      } else {
        rec.dispatch('pack', 'round_half', { THREADS: PACK_THREADS }, { values: wide }, grid);
      }
    } catch (e) {
      rec.abandon();
      if (narrow) this.memory.destroy(narrow);
      throw e;
    }
    this.errors.push(rec.submit());
    if (!narrow) return wide;
    this.memory.destroy(wide); // WebGPU keeps it alive until the submitted work is done
    return narrow;
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
      throw new Error(
        `${file}: the data ended before ${short.length} tensors were complete: ${list.join(', ')}${short.length > 5 ? ', ...' : ''}`,
      );
    }
    return this.flush();
  }

  /** After a failure: free the staging buffers of the tensors not yet packed. */
  abandon(): void {
    for (const t of this.incoming.values()) {
      for (const staging of t.staging) if (staging) this.memory.destroy(staging);
      t.staging = [];
      t.host = undefined;
    }
    this.errors = [];
  }
}

/** The rows of the packed matrix that source rows [s0, s1) land in, as [lo, hi): GLU interleaves the halves. */
function packedRows(s0: number, s1: number, layout: PackLayout): [number, number] {
  if (!layout.glu) return [s0, s1];
  const half = layout.rows / 2;
  let lo = Infinity;
  let hi = -Infinity;
  if (s0 < Math.min(s1, half)) [lo, hi] = [2 * s0, 2 * (Math.min(s1, half) - 1) + 1];
  if (Math.max(s0, half) < s1)
    [lo, hi] = [Math.min(lo, 2 * (Math.max(s0, half) - half) + 1), Math.max(hi, 2 * (s1 - 1 - half) + 2)];
  return [lo, hi];
}
