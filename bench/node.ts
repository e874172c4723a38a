// npm run bench -- --random-weights small --size 224 --batch 1 --runs 20 --json
// Times forwards of the built library (dist/index.js) in Node on Dawn (npm `webgpu`): a GPU when
// the machine has one, else SwiftShader (reported as software). Progress goes to stderr; the
// summary, then with --json one JSON object as the last line, to stdout.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { UsageError } from '../src/cli/args.js';
import type { ModelConfig } from '../src/io/model_config.js';
import { loadLibrary, nodeDevice } from './library.js';
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
import { randomWeights, resolveModelDir, type Weights } from './weights.js';

const progress = (line: string) => process.stderr.write(`[bench] ${line}\n`);

async function weightsFor(options: BenchOptions): Promise<Weights & { parsed?: ModelConfig }> {
  if (options.model.kind === 'random') {
    const t0 = performance.now();
    const w = randomWeights(options.model.size, options.seed);
    progress(
      `made ${w.source.names.length} random tensors of the ${options.model.size} shapes in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    return w;
  }
  const dir = resolveModelDir(options.model.path);
  const { readLocalCheckpoint } = await import('../src/io/local_checkpoint.js');
  const c = await readLocalCheckpoint(dir);
  return { name: dir, config: c.config, parsed: c.config, source: c.source, file: c.file };
}

function packageVersion(specifier: string): string {
  try {
    const url = import.meta.resolve(`${specifier}/package.json`);
    return (JSON.parse(readFileSync(new URL(url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export async function benchNode(options: BenchOptions): Promise<BenchRecord> {
  const weights = await weightsFor(options); // first: a wrong --model fails before any GPU work
  const { lib, path } = await loadLibrary(progress);
  progress(`library ${path}`);
  const deviceInfo = await nodeDevice(lib);
  const config = weights.parsed ?? lib.parseModelConfig(weights.config);
  const t0 = performance.now();
  const model = await lib.loadModel(config, weights.source, {
    device: deviceInfo,
    file: weights.file,
    dtype: options.dtype,
  });
  const loadMs = performance.now() - t0;
  progress(
    `loaded ${weights.name} in ${(loadMs / 1000).toFixed(1)} s on ${deviceInfo.adapterInfo.description || deviceInfo.adapterInfo.vendor}${deviceInfo.isSoftware ? ' (software)' : ''}`,
  );
  try {
    const report = await benchModel(lib, model, options.forward, timeRuns, progress);
    return {
      engine: 'dinov2-webgpu',
      runtime: 'node (Dawn)',
      model: weights.name,
      ...configSummary(config),
      size: options.forward.size,
      batch: options.forward.batch,
      tokens: tokensPerImage(config, options.forward.size),
      dtype: options.dtype,
      warmup: options.forward.warmup,
      runs: report.timesMs.length,
      loadMs,
      ...report,
      adapter: { ...deviceInfo.adapterInfo, isSoftware: deviceInfo.isSoftware },
      versions: { node: process.versions.node, webgpu: packageVersion('webgpu') },
      host: hostInfo(),
      date: new Date().toISOString(),
    };
  } finally {
    model.dispose();
    deviceInfo.device.destroy();
  }
}

const isMain =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (isMain) {
  try {
    const options = parseBenchArgs(process.argv.slice(2));
    finish(await benchNode(options), options);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`bench: ${e.message}\nusage: npm run bench -- ${BENCH_USAGE}`);
      process.exitCode = 2;
    } else {
      console.error(
        `bench: ${process.env.DINOV2_WEBGPU_DEBUG ? ((e as Error).stack ?? e) : (e as Error).message}`,
      );
      process.exitCode = 1;
    }
  }
  // Dawn keeps the event loop alive; leave once the output is written.
  setTimeout(() => process.exit(), 100).unref();
}
