// npm run bench:compare -- [--runs 3] [--warmup 1] [--threads N] [--engines ours,ort-webgpu,ort-wasm] [--onnx PATH] [--json]
// Side by side in one headless Chromium: our engine on random weights of ViT-S/14's shapes, and
// onnxruntime-web (what transformers.js runs) on ../shared/bench/vits14-reg-random-224.onnx, the
// same model exported at a fixed 1 x 3 x 224 x 224, on its WebGPU backend and, for reference, its
// wasm backend. Timings do not depend on the weight values. Each engine gets a fresh page; every
// run is timed to outputs on the CPU (our read(), ORT's run()).
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { basename, dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs, UsageError } from '../src/cli/args.js';
import { checkpointFolder } from './browser.js';
import { openBenchBrowser, REPO_ROOT, runInPage } from './chromium_bench.js';
import { type OrtResult, oursInPage, type OursResult, ortInPage } from './in_page.js';
import { benchModel, timeRuns } from './measure.js';
import { adapterLine, hostInfo } from './options.js';

const progress = (line: string) => process.stderr.write(`[bench:compare] ${line}\n`);

const ONNX_NAME = 'vits14-reg-random-224.onnx';
/** Where the shared benchmark model lives beside a checkout (/work/shared/bench for /work/main). */
const ONNX_DEFAULT = resolve(REPO_ROOT, '../shared/bench', ONNX_NAME);
/** The shapes the ONNX file was exported with (../shared/bench/README.md). */
const ONNX_SHAPE = { size: 224, batch: 1, randomWeights: 'small' as const };
const ENGINES = ['ours', 'ort-webgpu', 'ort-wasm'] as const;
type Engine = (typeof ENGINES)[number];

export const COMPARE_USAGE = `npm run bench:compare -- [--runs 3] [--warmup 1] [--threads N] [--engines ${ENGINES.join(',')}] [--onnx PATH] [--json]`;

function onnxPath(given: string | undefined): string {
  const path = resolve(given ?? process.env.DINOV2_BENCH_ONNX ?? ONNX_DEFAULT);
  if (!existsSync(path)) {
    throw new Error(
      `${path} is missing: bench:compare runs onnxruntime-web on ${ONNX_NAME} (ViT-S/14 with registers at 224 x 224, random weights; ` +
        `described in ../shared/bench/README.md). Put it there, or pass --onnx PATH (or set DINOV2_BENCH_ONNX).`,
    );
  }
  return path;
}

interface CompareOptions {
  runs: number;
  warmup: number;
  threads: number;
  engines: Engine[];
  onnx: string;
  json: boolean;
}

function parseCompareArgs(argv: string[]): CompareOptions {
  const args = parseArgs(argv, ['runs', 'warmup', 'threads', 'engines', 'onnx'], ['json']);
  if (args.positional.length) throw new UsageError(`unexpected argument ${args.positional[0]}`);
  const int = (name: string, fallback: number) => {
    const v = args.values.get(name);
    if (v === undefined) return fallback;
    if (!/^\d+$/.test(v) || Number(v) < 1)
      throw new UsageError(`--${name} takes a positive integer, got ${v}`);
    return Number(v);
  };
  const engines = (args.values.get('engines') ?? ENGINES.join(',')).split(',').map((s) => s.trim());
  for (const e of engines)
    if (!(ENGINES as readonly string[]).includes(e))
      throw new UsageError(`--engines: unknown engine ${e} (${ENGINES.join(', ')})`);
  return {
    runs: int('runs', 3),
    warmup: int('warmup', 1),
    threads: int('threads', Math.min(cpus().length, 8)),
    engines: engines as Engine[],
    onnx: onnxPath(args.values.get('onnx')),
    json: args.flags.has('json'),
  };
}

const s = (ms: number) => `${(ms / 1000).toFixed(3)} s`;

export async function compare(o: CompareOptions) {
  const checkpoint = checkpointFolder(
    {
      model: { kind: 'random', size: ONNX_SHAPE.randomWeights },
      seed: 0,
      dtype: 'fp32',
      forward: {
        size: ONNX_SHAPE.size,
        batch: ONNX_SHAPE.batch,
        warmup: o.warmup,
        runs: o.runs,
        sync: 'read',
        kernelTimes: false,
      },
      json: false,
      requireGpu: false,
    },
    progress,
  );
  const browser = await openBenchBrowser({ '/model/': checkpoint.dir, '/onnx/': dirname(o.onnx) }, progress);
  const ortDist = '/node_modules/onnxruntime-web/dist/';
  const results: { ours?: OursResult; 'ort-webgpu'?: OrtResult; 'ort-wasm'?: OrtResult } = {};
  try {
    const adapter = await browser.adapter();
    progress(
      `Chromium ${browser.version}; WebGPU adapter: ${adapter ? adapterLine({ ...adapter, isSoftware: adapter.isFallbackAdapter || /swiftshader/i.test(adapter.architecture) }) : 'none'}`,
    );
    // Fastest first, so a broken setup shows early.
    for (const engine of ['ort-wasm', 'ours', 'ort-webgpu'] as const) {
      if (!o.engines.includes(engine)) continue;
      progress(`${engine}: ${o.warmup} warm-up(s) (the first reported apart), then ${o.runs} timed run(s)`);
      const page = await browser.freshPage();
      if (engine === 'ours') {
        results.ours = await runInPage(page, oursInPage, {
          libraryUrl: `${browser.server.origin}/dist/index.js`,
          modelUrl: '/model/',
          timeRunsSource: timeRuns.toString(),
          benchModelSource: benchModel.toString(),
          forward: {
            size: ONNX_SHAPE.size,
            batch: ONNX_SHAPE.batch,
            warmup: o.warmup,
            runs: o.runs,
            sync: 'read',
            kernelTimes: false,
          },
        });
      } else {
        results[engine] = await runInPage(page, ortInPage, {
          ortUrl: `${browser.server.origin}${ortDist}${engine === 'ort-webgpu' ? 'ort.webgpu.min.mjs' : 'ort.wasm.min.mjs'}`,
          wasmPaths: `${browser.server.origin}${ortDist}`,
          modelUrl: `/onnx/${basename(o.onnx)}`,
          backend: engine === 'ort-webgpu' ? 'webgpu' : 'wasm',
          threads: o.threads,
          batch: ONNX_SHAPE.batch,
          size: ONNX_SHAPE.size,
          warmup: o.warmup,
          runs: o.runs,
          timeRunsSource: timeRuns.toString(),
        });
      }
    }
    for (const p of browser.chromium.problems) progress(`page problem: ${p}`);
    return { adapter, chromium: browser.version, results };
  } finally {
    await browser.close();
  }
}

function report(o: CompareOptions, r: Awaited<ReturnType<typeof compare>>): void {
  const { ours, 'ort-webgpu': webgpu, 'ort-wasm': wasm } = r.results;
  const rows: [string, string, number | undefined, number | undefined, number | undefined, string][] = [
    [
      'dinov2-webgpu (WebGPU)',
      'random small weights',
      ours?.report.firstRunMs,
      ours?.report.medianMs,
      ours?.report.p90Ms,
      ours ? `${ours.report.dispatches} dispatches` : '',
    ],
    [
      'onnxruntime-web WebGPU',
      basename(o.onnx),
      webgpu?.firstRunMs,
      webgpu?.medianMs,
      webgpu?.p90Ms,
      webgpu ? `session ${s(webgpu.createMs)}` : '',
    ],
    [
      'onnxruntime-web wasm',
      basename(o.onnx),
      wasm?.firstRunMs,
      wasm?.medianMs,
      wasm?.p90Ms,
      wasm ? `${wasm.threads} thread(s), isolated ${wasm.crossOriginIsolated}` : '',
    ],
  ];
  console.log(
    `ViT-S/14 with 4 registers, 1 x 3 x 224 x 224, fp32, in Chromium ${r.chromium} (headless); ${o.warmup} warm-up(s), ${o.runs} timed run(s)`,
  );
  console.log(
    `WebGPU adapter: ${r.adapter ? [r.adapter.vendor, r.adapter.architecture, r.adapter.description].filter(Boolean).join(' / ') : 'none'}`,
  );
  console.log(
    `${'engine'.padEnd(24)}${'weights'.padEnd(30)}${'first run'.padStart(12)}${'median'.padStart(12)}${'p90'.padStart(12)}  notes`,
  );
  for (const [engine, weights, first, median, p90, notes] of rows) {
    if (median === undefined) continue;
    console.log(
      `${engine.padEnd(24)}${weights.padEnd(30)}${s(first!).padStart(12)}${s(median).padStart(12)}${s(p90!).padStart(12)}  ${notes}`,
    );
  }
  const ratio = (name: string, other: number, mine: number) =>
    console.log(
      `${name} median / ours: ${(other / mine).toFixed(2)} (ours ${other >= mine ? `${(other / mine).toFixed(2)}x faster` : `${(mine / other).toFixed(2)}x slower`})`,
    );
  if (ours && webgpu) ratio('onnxruntime-web WebGPU', webgpu.medianMs, ours.report.medianMs);
  if (ours && wasm) ratio('onnxruntime-web wasm', wasm.medianMs, ours.report.medianMs);
  const broken = [
    ours && !ours.report.outputsFinite && 'ours',
    webgpu && !webgpu.outputsFinite && 'ort-webgpu',
    wasm && !wasm.outputsFinite && 'ort-wasm',
  ].filter(Boolean);
  if (broken.length) {
    console.error(`bench:compare: non-finite outputs from ${broken.join(', ')}: those times mean nothing`);
    process.exitCode = 1;
  }
  if (o.json) {
    console.log(
      JSON.stringify({
        tool: 'dinov2-webgpu bench:compare',
        shape: { batch: ONNX_SHAPE.batch, size: ONNX_SHAPE.size, model: 'ViT-S/14, 4 registers' },
        chromium: r.chromium,
        adapter: r.adapter,
        onnx: o.onnx,
        ours: ours && { ...ours.report, loadMs: ours.loadMs, adapter: ours.adapter },
        ortWebgpu: webgpu,
        ortWasm: wasm,
        ortWebgpuOverOurs: ours && webgpu ? webgpu.medianMs / ours.report.medianMs : null,
        ortWasmOverOurs: ours && wasm ? wasm.medianMs / ours.report.medianMs : null,
        host: hostInfo(),
        date: new Date().toISOString(),
      }),
    );
  }
}

const isMain =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (isMain) {
  try {
    const options = parseCompareArgs(process.argv.slice(2));
    report(options, await compare(options));
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`bench:compare: ${e.message}\nusage: ${COMPARE_USAGE}`);
      process.exitCode = 2;
    } else {
      console.error(
        `bench:compare: ${process.env.DINOV2_WEBGPU_DEBUG ? ((e as Error).stack ?? e) : (e as Error).message}`,
      );
      process.exitCode = 1;
    }
  }
}
