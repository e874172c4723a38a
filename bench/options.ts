// The command line shared by `npm run bench` (Node, Dawn) and `npm run bench:browser` (Chromium),
// and the record both print.
import { cpus } from 'node:os';
import { parseArgs, UsageError } from '../src/cli/args.js';
import type { AdapterInfo } from '../src/gpu/device.js';
import { isDinov3, type ModelConfig } from '../src/io/model_config.js';
import type { ForwardReport, ForwardRequest } from './measure.js';
import { isOfficialSize, type OfficialSize, OFFICIAL_SIZES } from './weights.js';

export const BENCH_USAGE = `--model DIR|ID | --random-weights ${Object.keys(OFFICIAL_SIZES).join('|')}
    [--size 224] [--batch 1] [--runs 20] [--warmup 2] [--max-seconds S] [--sync read|done] [--dtype fp32|fp16|fp16-emulated]
    [--seed 0] [--no-kernel-times] [--require-gpu] [--json]

  --warmup N       forwards before timing (at least 1); the first is reported apart as firstRunMs
  --max-seconds S  stop timing once the timed runs have taken S seconds (at least one run; "runs" in the JSON is the count timed)
  --sync read      a run is forward() + read() of every output (default; what onnxruntime-web's run() returns)
  --sync done      a run is forward() + device.queue.onSubmittedWorkDone(), no readback (like torch.cuda.synchronize())
  --dtype          fp16 needs the adapter's shader-f16; fp16-emulated gives fp16's numbers on any adapter (not its speed)
  --require-gpu    fail (exit 3) when the adapter is a software one (SwiftShader, llvmpipe, ...)
  --json           the last line printed is one JSON object with every number`;

export const BENCH_DTYPES = ['fp32', 'fp16', 'fp16-emulated'] as const;
export type BenchDtype = (typeof BENCH_DTYPES)[number];

export interface BenchOptions {
  model: { kind: 'random'; size: OfficialSize } | { kind: 'dir'; path: string };
  seed: number;
  dtype: BenchDtype;
  forward: ForwardRequest;
  json: boolean;
  requireGpu: boolean;
}

function positiveInteger(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < 1)
    throw new UsageError(`--${name} takes a positive integer, got ${JSON.stringify(text)}`);
  return Number(text);
}

export function parseBenchArgs(argv: string[]): BenchOptions {
  const args = parseArgs(
    argv,
    ['model', 'random-weights', 'size', 'batch', 'runs', 'warmup', 'max-seconds', 'sync', 'dtype', 'seed'],
    ['json', 'no-kernel-times', 'require-gpu'],
  );
  if (args.positional.length) throw new UsageError(`unexpected argument ${args.positional[0]}`);
  const dir = args.values.get('model');
  const random = args.values.get('random-weights');
  if ((dir === undefined) === (random === undefined))
    throw new UsageError('give exactly one of --model DIR|ID and --random-weights SIZE');
  if (random !== undefined && !isOfficialSize(random))
    throw new UsageError(`--random-weights takes ${Object.keys(OFFICIAL_SIZES).join(', ')}; got ${random}`);
  const dtype = args.values.get('dtype') ?? 'fp32';
  if (!(BENCH_DTYPES as readonly string[]).includes(dtype))
    throw new UsageError(`--dtype takes ${BENCH_DTYPES.join(', ')}; got ${dtype}`);
  const sync = args.values.get('sync') ?? 'read';
  if (sync !== 'read' && sync !== 'done') throw new UsageError(`--sync takes read or done, got ${sync}`);
  const seedText = args.values.get('seed') ?? '0';
  if (!/^\d+$/.test(seedText)) throw new UsageError(`--seed takes a non-negative integer, got ${seedText}`);
  return {
    model:
      random !== undefined ? { kind: 'random', size: random as OfficialSize } : { kind: 'dir', path: dir! },
    seed: Number(seedText),
    dtype: dtype as BenchDtype,
    forward: {
      size: positiveInteger(args.values.get('size'), 'size', 224),
      batch: positiveInteger(args.values.get('batch'), 'batch', 1),
      runs: positiveInteger(args.values.get('runs'), 'runs', 20),
      warmup: positiveInteger(args.values.get('warmup'), 'warmup', 2),
      ...(args.values.has('max-seconds')
        ? { maxSeconds: positiveInteger(args.values.get('max-seconds'), 'max-seconds', 0) }
        : {}),
      sync,
      kernelTimes: !args.flags.has('no-kernel-times'),
    },
    json: args.flags.has('json'),
    requireGpu: args.flags.has('require-gpu'),
  };
}

export interface AdapterReport extends AdapterInfo {
  /** The library's verdict (src/gpu/device.ts): a CPU implementation, never to be taken for a GPU. */
  isSoftware: boolean;
}

/** One benchmark's record: the --json line. */
export interface BenchRecord extends ForwardReport {
  engine: 'dinov2-webgpu';
  runtime: string;
  model: string;
  architecture: string;
  config: {
    hidden_size: number;
    num_hidden_layers: number;
    num_attention_heads: number;
    patch_size: number;
    num_register_tokens: number;
    model_type: string;
    /** SwiGLU (DINOv2's use_swiglu_ffn) or DINOv3's use_gated_mlp. */
    gated_mlp: boolean;
  };
  size: number;
  batch: number;
  /** 1 (cls) + registers + patches per image. */
  tokens: number;
  dtype: BenchDtype;
  warmup: number;
  runs: number;
  loadMs: number;
  adapter: AdapterReport;
  versions: Record<string, string>;
  host: { cpus: number; cpuModel: string };
  date: string;
}

export function hostInfo(): BenchRecord['host'] {
  const list = cpus();
  return { cpus: list.length, cpuModel: list[0]?.model.trim() ?? 'unknown' };
}

export function adapterLine(a: AdapterReport): string {
  const what =
    [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' / ') || '(no adapter info)';
  return `${what}${a.isSoftware ? ' [SOFTWARE: a CPU implementation, not a GPU]' : ''}`;
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** The human-readable summary printed before the JSON line. */
export function summary(r: BenchRecord): string[] {
  const lines = [
    `${r.engine} on ${r.runtime}: ${r.model} (${r.architecture}, hidden ${r.config.hidden_size}, ${r.config.num_hidden_layers} layers, ${r.config.num_attention_heads} heads), ` +
      `${r.batch} x ${r.size}x${r.size} (${r.tokens} tokens), ${r.dtype}`,
    `adapter: ${adapterLine(r.adapter)}`,
    `first run ${r.firstRunMs.toFixed(1)} ms; median ${r.medianMs.toFixed(2)} ms, p90 ${r.p90Ms.toFixed(2)} ms over ${r.runs} runs after ${r.warmup} warm-up(s); ` +
      `${r.imagesPerSecond.toFixed(2)} images/s`,
    `timed: ${r.timedTo}`,
    `${r.dispatches} dispatches per forward; GPU memory held ${mib(r.bytesAllocated)}, peak ${mib(r.peakBytes)}; outputs finite: ${r.outputsFinite}`,
    `per-kernel times: ${r.kernelTimesNote}`,
  ];
  for (const k of r.kernelTimes ?? []) {
    lines.push(
      `  ${k.kernel.padEnd(32)} ${String(k.calls).padStart(4)} calls ${k.ms.toFixed(3).padStart(10)} ms  ${((100 * k.ms) / r.medianMs).toFixed(1).padStart(5)}% of the median`,
    );
  }
  return lines;
}

/** Prints the summary and, with --json, the record as the last line; exit code 3 for --require-gpu on software. */
export function finish(record: BenchRecord, options: BenchOptions): void {
  for (const line of summary(record)) console.log(line);
  if (options.json) console.log(JSON.stringify(record));
  if (!record.outputsFinite) {
    console.error('bench: the outputs were not all finite: the forward is broken, its time means nothing');
    process.exitCode = 1;
  }
  if (options.requireGpu && record.adapter.isSoftware) {
    console.error(`bench: --require-gpu, but the adapter is a software one: ${adapterLine(record.adapter)}`);
    process.exitCode = 3;
  }
}

export function configSummary(c: ModelConfig): Pick<BenchRecord, 'config' | 'architecture'> {
  return {
    architecture: c.architectures[0] ?? (isDinov3(c) ? 'DINOv3ViTModel' : 'Dinov2WithRegistersModel'),
    config: {
      model_type: c.model_type,
      hidden_size: c.hidden_size,
      num_hidden_layers: c.num_hidden_layers,
      num_attention_heads: c.num_attention_heads,
      patch_size: c.patch_size,
      num_register_tokens: c.num_register_tokens,
      gated_mlp: isDinov3(c) ? c.use_gated_mlp : c.use_swiglu_ffn,
    },
  };
}

export function tokensPerImage(c: { patch_size: number; num_register_tokens: number }, size: number): number {
  const grid = Math.floor(size / c.patch_size);
  return 1 + c.num_register_tokens + grid * grid;
}
