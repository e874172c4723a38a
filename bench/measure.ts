// The timing loops, shared by Node and the browser page. Each function here is self-contained (no
// imports, no closures over this module) because the browser runs take its source text
// (`fn.toString()`) into the page, so Node and Chromium time a forward the same way.
import type * as Library from '../src/index.js';
import type { AnyDinov2Model } from '../src/model/auto.js';

export type Lib = typeof Library;

/** How many runs to time and how a run ends. */
export interface RunPlan {
  /** Forwards before timing; the first of them is reported as firstRunMs (pipeline compilation included). At least 1. */
  warmup: number;
  runs: number;
  /** Stop timing after this many seconds of timed runs (at least one run is timed); no limit when absent. */
  maxSeconds?: number;
}

export interface TimedRuns {
  /** The first run: pipelines compiled, position embeddings resampled and uploaded, buffers first touched. */
  firstRunMs: number;
  /** Every timed run, in order. */
  timesMs: number[];
  medianMs: number;
  /** Nearest-rank 90th percentile. */
  p90Ms: number;
  minMs: number;
  meanMs: number;
}

/**
 * Runs `once` warmup times (the first timed apart as firstRunMs), then `runs` times, each timed with
 * performance.now() around one awaited call; median and nearest-rank p90 of the timed runs.
 */
export async function timeRuns(
  once: () => Promise<void>,
  plan: RunPlan,
  log: (line: string) => void,
): Promise<TimedRuns> {
  if (!(Number.isInteger(plan.warmup) && plan.warmup >= 1))
    throw new Error(`warmup must be an integer >= 1, got ${plan.warmup}`);
  if (!(Number.isInteger(plan.runs) && plan.runs >= 1))
    throw new Error(`runs must be an integer >= 1, got ${plan.runs}`);
  const timed = async () => {
    const t0 = performance.now();
    await once();
    return performance.now() - t0;
  };
  const firstRunMs = await timed();
  log(`first run ${firstRunMs.toFixed(1)} ms (first-use costs included: pipeline compilation, uploads)`);
  for (let i = 1; i < plan.warmup; i++)
    log(`warm-up ${i + 1}/${plan.warmup}: ${(await timed()).toFixed(1)} ms`);
  const timesMs: number[] = [];
  const start = performance.now();
  for (let i = 0; i < plan.runs; i++) {
    timesMs.push(await timed());
    log(`run ${i + 1}/${plan.runs}: ${timesMs[i].toFixed(1)} ms`);
    if (
      plan.maxSeconds !== undefined &&
      performance.now() - start > plan.maxSeconds * 1000 &&
      i + 1 < plan.runs
    ) {
      log(`stopping after ${i + 1} runs: --max-seconds ${plan.maxSeconds} reached`);
      break;
    }
  }
  const sorted = [...timesMs].sort((a, b) => a - b);
  const n = sorted.length;
  const medianMs = n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  const p90Ms = sorted[Math.min(n - 1, Math.ceil(0.9 * n) - 1)];
  return {
    firstRunMs,
    timesMs,
    medianMs,
    p90Ms,
    minMs: sorted[0],
    meanMs: timesMs.reduce((a, b) => a + b, 0) / n,
  };
}

export interface ForwardRequest extends RunPlan {
  batch: number;
  /** Image height and width in pixels. */
  size: number;
  /**
   * 'read': forward() then read() of every output (for the base model last_hidden_state and
   * pooler_output: what a caller waits for, and what onnxruntime-web's run() hands back);
   * 'done': forward() then queue.onSubmittedWorkDone(), no readback (what torch.cuda.synchronize()
   * measures). The first run reads the outputs either way, to check they are finite.
   */
  sync: 'read' | 'done';
  /** One more forward with a KernelTimer attached, for per-kernel times (when the library and device allow). */
  kernelTimes: boolean;
}

export interface KernelRow {
  kernel: string;
  /** Dispatches of this kernel in one forward. */
  calls: number;
  /** Their summed GPU time in that forward. */
  ms: number;
}

/** What benchModel needs of an output tensor. */
interface GpuTensorLike {
  read(): Promise<Float32Array>;
  dispose(): void;
}

export interface ForwardReport extends TimedRuns {
  timedTo: string;
  imagesPerSecond: number;
  /** Dispatches recorded by the last forward (model.lastStats.dispatches). */
  dispatches: number;
  /** GPU bytes the model holds between forwards (weights, cached position tables): model.bytesAllocated. */
  bytesAllocated: number;
  /** The most GPU bytes its buffers held at once so far (scratch and outputs of a forward included). */
  peakBytes: number;
  /** Per-kernel GPU time of one profiled forward, slowest first; null when not measured (see kernelTimesNote). */
  kernelTimes: KernelRow[] | null;
  kernelTimesNote: string;
  /** Whether the first run's outputs were all finite (a broken kernel shows here, never a speed). */
  outputsFinite: boolean;
}

/**
 * Times model.forward on random pixel values [batch, channels, size, size]. `timeRuns` is passed in
 * (not imported) so the page can run this function from its source text.
 */
export async function benchModel(
  lib: Lib,
  model: AnyDinov2Model,
  req: ForwardRequest,
  timeRuns: (once: () => Promise<void>, plan: RunPlan, log: (line: string) => void) => Promise<TimedRuns>,
  log: (line: string) => void,
): Promise<ForwardReport> {
  const channels = model.config.num_channels;
  const data = new Float32Array(req.batch * channels * req.size * req.size);
  let state = 0x2545f491;
  for (let i = 0; i < data.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    data[i] = (state / 4294967296) * 4 - 2; // about the range of normalized pixels
  }
  const pixels = { data, dims: [req.batch, channels, req.size, req.size] };
  const device = model.deviceInfo.device;
  let outputsFinite = true;
  let checked = false;

  const once = async () => {
    // Whatever the class returns (base outputs, logits or feature maps), as a caller gets it.
    const out = (await model.forward(pixels)) as unknown as Record<
      string,
      GpuTensorLike | GpuTensorLike[] | undefined
    >;
    const tensors = Object.values(out).flatMap((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]));
    try {
      if (req.sync === 'done') await device.queue.onSubmittedWorkDone();
      if (req.sync === 'read' || !checked) {
        for (const t of tensors) {
          const values = await t.read();
          if (!checked) outputsFinite &&= values.every((v) => Number.isFinite(v));
        }
      }
      checked = true;
    } finally {
      for (const t of tensors) t.dispose();
    }
  };
  const timed = await timeRuns(once, req, log);

  let kernelTimes: KernelRow[] | null = null;
  let kernelTimesNote = 'not asked for';
  if (req.kernelTimes) {
    if (!device.features.has('timestamp-query'))
      kernelTimesNote = 'the device has no timestamp-query feature';
    else {
      const timer = lib.KernelTimer.attach(device);
      try {
        await once();
        const times = await timer.read();
        if (times.length === 0) kernelTimesNote = 'no dispatch was timed';
        else {
          const rows = new Map<string, KernelRow>();
          for (const t of times) {
            const row = rows.get(t.kernel) ?? { kernel: t.kernel, calls: 0, ms: 0 };
            row.calls++;
            row.ms += Math.max(0, t.endNs - t.beginNs) / 1e6;
            rows.set(t.kernel, row);
          }
          kernelTimes = [...rows.values()].sort((a, b) => b.ms - a.ms);
          const total = kernelTimes.reduce((a, r) => a + r.ms, 0);
          // Quantized timestamps (Dawn's default: multiples of 65536 ns) make short kernels read 0.
          const quantized = times.every((t) => t.beginNs % 65536 === 0 && t.endNs % 65536 === 0);
          kernelTimesNote =
            `${times.length} dispatches of one forward, each in its own compute pass; sum ${total.toFixed(2)} ms` +
            (quantized ? '; WARNING: timestamps look quantized to 65536 ns' : '') +
            (timer.dropped ? `; ${timer.dropped} dispatches beyond the query set untimed` : '');
        }
      } finally {
        timer.detach();
      }
    }
  }

  return {
    ...timed,
    timedTo:
      req.sync === 'read'
        ? 'forward() + read() of every output'
        : 'forward() + device.queue.onSubmittedWorkDone()',
    imagesPerSecond: (req.batch * 1000) / timed.medianMs,
    dispatches: model.lastStats.dispatches,
    bytesAllocated: model.bytesAllocated,
    peakBytes: model.memory.peakBytes,
    kernelTimes,
    kernelTimesNote,
    outputsFinite,
  };
}
