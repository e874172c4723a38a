// npm run bench:browser -- --random-weights small --size 224 --batch 1 --runs 20 --json
// The same measurement as `npm run bench` (bench/measure.ts), in headless Chromium on the page's
// WebGPU (a GPU when Chromium has one, else SwiftShader), with the built bundle dist/index.js.
// Random weights are written once to bench/.cache/ and fetched by the page over the local server.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { UsageError } from '../src/cli/args.js';
import { openBenchBrowser, REPO_ROOT, runInPage } from './chromium_bench.js';
import { oursInPage } from './in_page.js';
import { benchModel, timeRuns } from './measure.js';
import {
  BENCH_USAGE,
  type BenchOptions,
  type BenchRecord,
  configSummary,
  finish,
  hostInfo,
  parseBenchArgs,
  tokensPerImage,
} from './options.js';
import { randomCheckpointDir, resolveModelDir } from './weights.js';

const progress = (line: string) => process.stderr.write(`[bench:browser] ${line}\n`);

export const BENCH_CACHE = join(REPO_ROOT, 'bench/.cache');

/** A folder with config.json and model.safetensors for the page to fetch. */
export function checkpointFolder(options: BenchOptions, log = progress): { name: string; dir: string } {
  if (options.model.kind === 'random') {
    const t0 = performance.now();
    const dir = randomCheckpointDir(options.model.size, BENCH_CACHE, options.seed);
    log(
      `random ${options.model.size} checkpoint in ${dir} (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
    );
    return { name: `random:${options.model.size}`, dir };
  }
  const dir = resolveModelDir(options.model.path);
  if (!existsSync(join(dir, 'model.safetensors')))
    throw new Error(
      `${dir}: the browser benchmark reads model.safetensors (sharded checkpoints: use npm run bench)`,
    );
  return { name: dir, dir };
}

export async function benchBrowser(options: BenchOptions): Promise<BenchRecord> {
  const { name, dir } = checkpointFolder(options);
  const browser = await openBenchBrowser({ '/model/': dir }, progress);
  try {
    progress(`Chromium ${browser.version}`);
    const page = await browser.freshPage();
    const result = await runInPage(page, oursInPage, {
      libraryUrl: `${browser.server.origin}/dist/index.js`,
      modelUrl: '/model/',
      timeRunsSource: timeRuns.toString(),
      benchModelSource: benchModel.toString(),
      forward: options.forward,
      dtype: options.dtype,
    });
    for (const p of browser.chromium.problems) progress(`page problem: ${p}`);
    const c = result.config;
    return {
      engine: 'dinov2-webgpu',
      runtime: `chromium ${browser.version} (headless)`,
      model: name,
      ...configSummary(c),
      size: options.forward.size,
      batch: options.forward.batch,
      tokens: tokensPerImage(c, options.forward.size),
      dtype: options.dtype,
      warmup: options.forward.warmup,
      runs: result.report.timesMs.length,
      loadMs: result.loadMs,
      ...result.report,
      adapter: result.adapter,
      versions: { chromium: browser.version, node: process.versions.node },
      host: hostInfo(),
      date: new Date().toISOString(),
    };
  } finally {
    await browser.close();
  }
}

const isMain =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (isMain) {
  try {
    const options = parseBenchArgs(process.argv.slice(2));
    finish(await benchBrowser(options), options);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`bench:browser: ${e.message}\nusage: npm run bench:browser -- ${BENCH_USAGE}`);
      process.exitCode = 2;
    } else {
      console.error(
        `bench:browser: ${process.env.DINOV2_WEBGPU_DEBUG ? ((e as Error).stack ?? e) : (e as Error).message}`,
      );
      process.exitCode = 1;
    }
  }
}
