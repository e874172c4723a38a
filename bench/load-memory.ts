// Peak JavaScript memory while from_pretrained streams a large checkpoint into the GPU.
//
//   npm run bench:load                       # 1 GB checkpoint (the default)
//   npm run bench:load -- --size 256MB --chunk 1MiB --json
//   npm run bench:load -- --compare          # also the whole-file path (readFile + fromCheckpoint)
//
// A random Dinov2WithRegisters checkpoint of about --size (hidden 1024, 16 heads, image 518: the
// ViT-L layout, with as many layers as the size allows) is written once to a temporary folder,
// served in the hub's URL layout from another process on 127.0.0.1 (test/hub/serve.ts), and loaded
// twice: downloaded (header by Range request, then streamed to the GPU and into a fresh
// huggingface_hub-style cache), then again from that cache (read from disk in --chunk pieces).
// Each load runs twice, measured two ways, always as heapUsed + external (external counts the
// ArrayBuffers) above a baseline taken after a collection just before the load:
//   raw   process.memoryUsage() every 2 ms and at every progress report, the collector left alone:
//         what the process really peaks at, garbage not yet collected included. Most of that
//         garbage is allocated by Dawn's binding (npm `webgpu`), which polls with setImmediate
//         while a GPU promise is pending, so it grows with the time spent waiting for the GPU.
//   live  a full collection right before each sample, taken at progress reports (after each piece
//         of the file, the piece in hand included; at most one per MiB of progress, which keeps
//         a 1 GB download under a minute more): the memory the loader actually holds, which is
//         what its design bounds. (Collecting on a timer instead is not enough: ArrayBuffers freed
//         since the last collection still count, so the figure would follow the allocation rate.)
// Run with node --expose-gc (the npm script does). RSS is printed too: on a software GPU
// (SwiftShader) the "GPU" buffers are host memory, so RSS grows with the model by design.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  checkpointLayout,
  DEFAULT_OPTIONS,
  makeConfig,
  type CheckpointOptions,
} from '../scripts/make_random_checkpoint.js';
import { readLocalCheckpoint } from '../src/io/local_checkpoint.js';
import { loadLibrary } from './library.js';

const MiB = 2 ** 20;

function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(B|KB|KiB|MB|MiB|GB|GiB)?$/i.exec(text.trim());
  if (!m) throw new Error(`not a size: ${text}`);
  const unit = (m[2] ?? 'B').toUpperCase();
  const scale: Record<string, number> = {
    B: 1,
    KB: 1e3,
    KIB: 2 ** 10,
    MB: 1e6,
    MIB: MiB,
    GB: 1e9,
    GIB: 2 ** 30,
  };
  return Math.round(Number(m[1]) * scale[unit]);
}

function args(argv: string[]) {
  const o = {
    size: 1e9,
    chunk: 4 * MiB,
    json: false,
    compare: false,
    keep: false,
    dir: '',
    modes: ['raw', 'live'] as Mode[],
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--size') o.size = parseSize(argv[++i]);
    else if (a === '--chunk') o.chunk = parseSize(argv[++i]);
    else if (a === '--dir') o.dir = argv[++i];
    else if (a === '--json') o.json = true;
    else if (a === '--compare') o.compare = true;
    else if (a === '--keep') o.keep = true;
    else if (a === '--mode') o.modes = argv[++i] === 'both' ? ['raw', 'live'] : [argv[i] as Mode];
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

/** The checkpoint options for about `bytes` of F32 weights in the ViT-L layout. */
function optionsFor(bytes: number): CheckpointOptions {
  const base: CheckpointOptions = {
    ...DEFAULT_OPTIONS,
    hidden: 1024,
    heads: 16,
    layers: 1,
    imageSize: 518,
    registers: 4,
  };
  const size = (o: CheckpointOptions) =>
    checkpointLayout(o).reduce((n, [, shape]) => n + 4 * shape.reduce((a, b) => a * b, 1), 0);
  const perLayer = size({ ...base, layers: 2 }) - size(base);
  const layers = Math.max(1, Math.round((bytes - (size(base) - perLayer)) / perLayer));
  return { ...base, layers };
}

/** Writes config.json and model.safetensors without holding the weights: values from a cheap seeded generator. */
async function writeCheckpoint(dir: string, o: CheckpointOptions): Promise<void> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify(makeConfig(o), null, 2)}\n`);
  const layout = checkpointLayout(o);
  let offset = 0;
  const fields = layout.map(([key, shape]) => {
    const bytes = 4 * shape.reduce((a, b) => a * b, 1);
    const entry = `${JSON.stringify(key)}:${JSON.stringify({ dtype: 'F32', shape, data_offsets: [offset, offset + bytes] })}`;
    offset += bytes;
    return entry;
  });
  const json = new TextEncoder().encode(`{"__metadata__":{"format":"pt"},${fields.join(',')}}`);
  const padded = Math.ceil(json.length / 8) * 8;
  const head = new Uint8Array(8 + padded).fill(0x20);
  new DataView(head.buffer).setBigUint64(0, BigInt(padded), true);
  head.set(json, 8);
  const fh = await open(join(dir, 'model.safetensors.tmp'), 'w');
  try {
    await fh.write(head);
    const block = new Float32Array(MiB / 4);
    let state = 12345;
    for (const [, shape, mean, std] of layout) {
      let left = shape.reduce((a, b) => a * b, 1);
      while (left > 0) {
        const n = Math.min(left, block.length);
        for (let i = 0; i < n; i++) {
          state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
          block[i] = mean + std * ((state / 2 ** 32) * 3.4641016 - 1.7320508); // uniform with that std
        }
        await fh.write(new Uint8Array(block.buffer, 0, n * 4));
        left -= n;
      }
    }
  } finally {
    await fh.close();
  }
  const { rename } = await import('node:fs/promises');
  await rename(join(dir, 'model.safetensors.tmp'), join(dir, 'model.safetensors'));
}

async function startHub(repo: string, dir: string): Promise<{ origin: string; stop(): void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/hub/serve.ts', `${repo}=${dir}`], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((ok, fail) => {
    createInterface({ input: child.stdout! }).once('line', ok);
    child.once('exit', (code) => fail(new Error(`test/hub/serve.ts exited with ${code}`)));
  });
  return { origin: (JSON.parse(line) as { origin: string }).origin, stop: () => child.kill('SIGTERM') };
}

type Mode = 'raw' | 'live';

interface Measured {
  ms: number;
  /** Peak of heapUsed + external above the baseline. */
  jsPeak: number;
  heapPeak: number;
  externalPeak: number;
  rssPeak: number;
  baseline: { heapUsed: number; external: number; rss: number };
}

const gc = (globalThis as { gc?: () => void }).gc;

type Sampler = (file?: string, loaded?: number) => void;

async function measure(mode: Mode, load: (sample: Sampler) => Promise<void>): Promise<Measured> {
  if (!gc) throw new Error('run with node --expose-gc (npm run bench:load does)');
  gc();
  await new Promise((ok) => setTimeout(ok, 50));
  gc();
  const b = process.memoryUsage();
  const peak = { js: 0, heap: 0, external: 0, rss: 0 };
  let lastFile = '';
  let lastLoaded = -Infinity;
  const sample = (file?: string, loaded = 0) => {
    if (mode === 'live') {
      if (file !== undefined && file === lastFile && loaded - lastLoaded < MiB) return;
      lastFile = file ?? '';
      lastLoaded = loaded;
      gc();
    }
    const m = process.memoryUsage();
    peak.js = Math.max(peak.js, m.heapUsed + m.external - b.heapUsed - b.external);
    peak.heap = Math.max(peak.heap, m.heapUsed - b.heapUsed);
    peak.external = Math.max(peak.external, m.external - b.external);
    peak.rss = Math.max(peak.rss, m.rss - b.rss);
  };
  const timer = mode === 'raw' ? setInterval(sample, 2) : undefined;
  const t0 = performance.now();
  try {
    await load(sample);
  } finally {
    clearInterval(timer);
  }
  sample();
  return {
    ms: performance.now() - t0,
    jsPeak: peak.js,
    heapPeak: peak.heap,
    externalPeak: peak.external,
    rssPeak: peak.rss,
    baseline: { heapUsed: b.heapUsed, external: b.external, rss: b.rss },
  };
}

async function main(): Promise<void> {
  const o = args(process.argv.slice(2));
  const options = optionsFor(o.size);
  const dir = o.dir || join(tmpdir(), `dinov2-bench-${options.hidden}x${options.layers}`);
  if (!existsSync(join(dir, 'model.safetensors'))) await writeCheckpoint(dir, options);
  const fileBytes = statSync(join(dir, 'model.safetensors')).size;
  // The one tensor the host keeps (position embeddings, resampled on the host per grid).
  const grid = Math.floor(options.imageSize / options.patch);
  const hostBytes = 4 * (grid * grid + 1) * options.hidden;

  const hub = await startHub('bench/random', dir);
  const cacheDir = mkdtempSync(join(tmpdir(), 'dinov2-bench-cache-'));
  // The built library (dist/index.js, rebuilt when the sources changed), as users run it.
  const { lib: built } = await loadLibrary((line) => console.error(line));
  const lib = built as unknown as typeof import('../src/index.js');
  const { Dinov2WithRegistersModel } = lib;
  const device = await lib.defaultDevice();
  const results: Record<string, Measured> = {};
  try {
    const load =
      (what: string) =>
      (sample: Sampler): Promise<void> =>
        Dinov2WithRegistersModel.from_pretrained('bench/random', {
          endpoint: hub.origin,
          cacheDir,
          device,
          chunkBytes: o.chunk,
          progress: (file, loaded) => sample(file, loaded),
        }).then((model) => {
          sample();
          if (!model.params.all.every((p) => p.buffer || p.host))
            throw new Error(`${what}: a parameter was not loaded`);
          model.dispose();
        });
    for (const mode of o.modes) {
      // A fresh cache per mode: 'download' always downloads.
      rmSync(cacheDir, { recursive: true, force: true });
      results[`download ${mode}`] = await measure(mode, load('download'));
      results[`cached ${mode}`] = await measure(mode, load('cached'));
    }
    if (o.compare) {
      results['whole-file raw'] = await measure('raw', async (sample) => {
        const c = await readLocalCheckpoint(dir);
        sample();
        const model = await Dinov2WithRegistersModel.fromCheckpoint(c.config, c.source, { device });
        sample();
        model.dispose();
      });
    }
  } finally {
    hub.stop();
    if (!o.keep) rmSync(cacheDir, { recursive: true, force: true });
  }

  const report = {
    fileBytes,
    chunkBytes: o.chunk,
    hostBytes,
    layers: options.layers,
    hidden: options.hidden,
    dir,
    adapter: device.adapterInfo.description || device.adapterInfo.architecture,
    results,
  };
  if (o.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } else {
    const mb = (n: number) => `${(n / MiB).toFixed(1)} MiB`;
    console.log(
      `checkpoint: ${mb(fileBytes)} (hidden ${options.hidden}, ${options.layers} layers) in ${dir}`,
    );
    console.log(`chunk ${mb(o.chunk)}, host-kept tensors ${mb(hostBytes)}, device: ${report.adapter}`);
    for (const [name, r] of Object.entries(results)) {
      console.log(
        `${name.padEnd(15)} ${(r.ms / 1000).toFixed(1).padStart(6)} s  peak JS (heap + external) +${mb(r.jsPeak)}  [heap +${mb(r.heapPeak)}, external +${mb(r.externalPeak)}]  RSS +${mb(r.rssPeak)}`,
      );
    }
  }
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
