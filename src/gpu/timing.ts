// GPU time of every dispatch, from timestamp queries (the `timestamp-query` feature). While a
// KernelTimer is attached to a device, each Recorder on that device gives every dispatch a compute
// pass of its own whose timestampWrites bracket it, and resolves the queries when it submits; read()
// then returns one time per dispatch. A pass per dispatch is not how a forward normally runs (one
// pass between copies), so time forwards without a timer and use it only for the breakdown.
//
// Browsers and Dawn quantize timestamps (Dawn: to 65536 ns) unless told not to: in Node pass
// 'disable-dawn-features=timestamp_quantization' to webgpu's create(); in Chromium start it with
// --enable-webgpu-developer-features.

import { COPY_DST, COPY_SRC, MAP_READ } from './buffers.js';

const QUERY_RESOLVE = 0x200; // GPUBufferUsage.QUERY_RESOLVE, spelled out as buffers.ts does

/** The most queries one QuerySet may hold (WebGPU's limit): two per dispatch. */
const MAX_QUERIES = 4096;

export interface KernelTime {
  /** `shader.entryPoint`, e.g. `linear.main`. */
  kernel: string;
  /** The recorder's label (which call the dispatch belonged to). */
  label: string;
  beginNs: number;
  endNs: number;
}

interface Pending {
  names: { kernel: string; label: string }[];
  readback: GPUBuffer;
}

const timers = new WeakMap<GPUDevice, KernelTimer>();

/** The timer attached to `device`, if any: what Recorder asks when it is created. */
export function kernelTimerFor(device: GPUDevice): KernelTimer | undefined {
  return timers.get(device);
}

export class KernelTimer {
  private readonly querySet: GPUQuerySet;
  /** Where queries are resolved; each encoder copies them out to a readback of its own. */
  private readonly resolved: GPUBuffer;
  /** Dispatches of the command encoder being recorded; query 2i brackets the start of dispatch i, 2i + 1 its end. */
  private names: { kernel: string; label: string }[] = [];
  private pending: Pending[] = [];
  /** Dispatches that got no queries because one encoder had more than MAX_QUERIES / 2. */
  dropped = 0;

  private constructor(readonly device: GPUDevice) {
    this.querySet = device.createQuerySet({ label: 'kernel timer', type: 'timestamp', count: MAX_QUERIES });
    this.resolved = device.createBuffer({
      label: 'kernel timer resolve',
      size: MAX_QUERIES * 8,
      usage: QUERY_RESOLVE | COPY_SRC,
    });
  }

  /** Starts timing every dispatch on `device` (which must have been created with `timestamp-query`). */
  static attach(device: GPUDevice): KernelTimer {
    if (!device.features.has('timestamp-query'))
      throw new Error('kernel timing needs a device created with the timestamp-query feature');
    if (timers.has(device)) throw new Error('a KernelTimer is already attached to this device');
    const timer = new KernelTimer(device);
    timers.set(device, timer);
    return timer;
  }

  /** Stops timing; results not yet read are dropped. */
  detach(): void {
    if (timers.get(this.device) === this) timers.delete(this.device);
    for (const p of this.pending) p.readback.destroy();
    this.pending = [];
    this.querySet.destroy();
    this.resolved.destroy();
  }

  /** The descriptor of the compute pass that holds only this dispatch (Recorder calls it per dispatch). */
  pass(kernel: string, label: string): GPUComputePassDescriptor {
    const i = this.names.length;
    if (2 * i + 2 > MAX_QUERIES) {
      this.dropped++;
      return { label };
    }
    this.names.push({ kernel, label });
    return {
      label,
      timestampWrites: {
        querySet: this.querySet,
        beginningOfPassWriteIndex: 2 * i,
        endOfPassWriteIndex: 2 * i + 1,
      },
    };
  }

  /**
   * Resolves the queries of the encoder's dispatches into a buffer read() maps later (Recorder calls
   * it just before finish()). Recording never awaits, so one encoder's queries are resolved and
   * copied out before the next encoder writes them again; the queue keeps that order on the GPU.
   */
  resolve(encoder: GPUCommandEncoder): void {
    const n = 2 * this.names.length;
    if (n === 0) return;
    const bytes = n * 8;
    const readback = this.device.createBuffer({
      label: 'kernel timer readback',
      size: bytes,
      usage: MAP_READ | COPY_DST,
    });
    encoder.resolveQuerySet(this.querySet, 0, n, this.resolved, 0);
    encoder.copyBufferToBuffer(this.resolved, 0, readback, 0, bytes);
    this.pending.push({ names: this.names, readback });
    this.names = [];
  }

  /** Every dispatch submitted since the last read, in submission order (waits for the GPU). */
  async read(): Promise<KernelTime[]> {
    const pending = this.pending;
    this.pending = [];
    const out: KernelTime[] = [];
    for (const { names, readback } of pending) {
      await readback.mapAsync(MAP_READ); // GPUMapMode.READ is 1, as GPUBufferUsage.MAP_READ
      const t = new BigUint64Array(readback.getMappedRange());
      names.forEach(({ kernel, label }, i) =>
        out.push({ kernel, label, beginNs: Number(t[2 * i]), endNs: Number(t[2 * i + 1]) }),
      );
      readback.unmap();
      readback.destroy();
    }
    return out;
  }
}
