// The package as its users install it: `npm pack`, the tarball installed into a fresh project
// outside the repository, a strict TypeScript consumer type-checked with moduleResolution bundler
// and nodenext, run in Node, and built with Vite into a page that runs it in Chromium's main thread
// and in a module worker. Every result must equal the library's own forward in this process.
// TypeScript, Vite and puppeteer come from the repository's node_modules (nothing is downloaded
// beyond what npm's cache holds after `npm ci`).
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadImageNode } from '../../src/image/decode_node.js';
import { processorFor } from '../../src/model/auto.js';
import { Dinov2WithRegistersModel } from '../../src/model/modeling.js';
import { poolEmbeddings } from '../../src/model/pooling.js';
import { relativeError } from '../helpers/compare.js';
import {
  type ChromiumSession,
  ensureBuilt,
  launchChromium,
  REPO_ROOT,
  serveStatic,
} from '../../tools/chromium.js';

const MODEL = join(REPO_ROOT, 'weights/tiny-dinov2-with-registers');
const IMAGE = join(REPO_ROOT, 'test/fixtures/preprocess/img1-300x500.png');
const TSC = join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
const VITE = join(REPO_ROOT, 'node_modules/vite/bin/vite.js');
/** What a module specifier of a Node-only module looks like in a bundle. */
const NODE_ONLY_IMPORT = /["'](node:[\w/]+|webgpu|sharp)["']/;

/** What the consumer computes: pooler_output by processor + forward, and the pipeline's cls rows. */
interface Embeddings {
  forward: number[];
  pipeline: number[];
  dims: number[];
}

// The consumer, as a user writes it (shared by the Node script, the page and the worker).
const EMBED_TS = `import {
  AutoImageProcessor,
  Dinov2WithRegistersModel,
  type EmbeddingTensor,
  type ImageInput,
  pipeline,
} from 'dinov2-webgpu';

export interface Embeddings {
  forward: number[];
  pipeline: number[];
  dims: number[];
}

export async function embed(model: string, image: ImageInput): Promise<Embeddings> {
  const processor = await AutoImageProcessor.from_pretrained(model);
  const encoder = await Dinov2WithRegistersModel.from_pretrained(model);
  const { pixel_values } = await processor(image);
  const out = await encoder.forward(pixel_values);
  const cls: Float32Array = await out.pooler_output.read();
  encoder.dispose();

  const extract = await pipeline('image-feature-extraction', model, { pooling: 'cls' });
  const rows: EmbeddingTensor = await extract([image]);
  extract.dispose();
  return { forward: Array.from(cls), pipeline: Array.from(rows.data), dims: rows.dims };
}
`;

const NODE_TS = `import { embed } from './embed.js';

const [model, image] = process.argv.slice(2);
if (!model || !image) throw new Error('usage: node build/node.js MODEL IMAGE');
process.stdout.write(\`\${JSON.stringify(await embed(model, image))}\\n\`);
`;

const MAIN_TS = `import { embed, type Embeddings } from './embed.js';

declare global {
  interface Window {
    result?: { main: Embeddings; worker: Embeddings };
    failure?: string;
  }
}

async function run(): Promise<void> {
  const model = new URL('/model', location.href).href;
  const image = new URL('/image.png', location.href).href;
  const main = await embed(model, image);
  const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
  const fromWorker = await new Promise<Embeddings>((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<Embeddings | { error: string }>) =>
      'error' in e.data ? reject(new Error(e.data.error)) : resolve(e.data);
    worker.onerror = (e) => reject(new Error(e.message));
    worker.postMessage({ model, image });
  });
  window.result = { main, worker: fromWorker };
}

run().catch((e: unknown) => {
  window.failure = e instanceof Error ? (e.stack ?? e.message) : String(e);
});
`;

const WORKER_TS = `import { embed } from './embed.js';

self.onmessage = async (e: MessageEvent<{ model: string; image: string }>) => {
  try {
    self.postMessage(await embed(e.data.model, e.data.image));
  } catch (err) {
    self.postMessage({ error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
};
`;

const STRICT = {
  strict: true,
  noUncheckedIndexedAccess: true,
  exactOptionalPropertyTypes: true,
  skipLibCheck: false,
  target: 'ES2022',
  isolatedModules: true,
};

function run(cmd: string, args: string[], cwd: string, what: string): { out: string; ms: number } {
  const start = Date.now();
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status ?? r.signal}):\n${out}`);
  return { out, ms: Date.now() - start };
}

const timings: Record<string, number> = {};
let dir: string;
let app: string;
let nodeResult: Embeddings;
let reference: Float32Array;

function expectClose(got: number[], what: string): void {
  expect(got.length, what).toBe(reference.length);
  const err = relativeError(Float32Array.from(got), reference);
  expect(err, `${what}: max |got - ref| / max |ref|`).toBeLessThanOrEqual(1e-6);
}

describe('the packed tarball in a fresh project', () => {
  beforeAll(async () => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'dinov2-consumer-'));
    app = join(dir, 'app');
    mkdirSync(join(app, 'src'), { recursive: true });

    const pack = run(
      'npm',
      ['pack', '--ignore-scripts', '--pack-destination', dir, '--json'],
      REPO_ROOT,
      'npm pack',
    );
    timings.pack = pack.ms;
    const [{ filename }] = JSON.parse(pack.out.slice(pack.out.indexOf('['))) as { filename: string }[];
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({
        name: 'consumer',
        private: true,
        type: 'module',
        dependencies: { 'dinov2-webgpu': `file:../${filename}` },
      }),
    );
    timings.install = run(
      'npm',
      ['install', '--prefer-offline', '--no-audit', '--no-fund'],
      app,
      'npm install of the tarball',
    ).ms;

    writeFileSync(join(app, 'src/embed.ts'), EMBED_TS);
    writeFileSync(join(app, 'src/node.ts'), NODE_TS);
    writeFileSync(join(app, 'src/main.ts'), MAIN_TS);
    writeFileSync(join(app, 'src/worker.ts'), WORKER_TS);
    writeFileSync(
      join(app, 'index.html'),
      '<!doctype html><meta charset="utf-8"><title>consumer</title><link rel="icon" href="data:,"><script type="module" src="/src/main.ts"></script>\n',
    );
    writeFileSync(join(app, 'vite.config.js'), "export default { worker: { format: 'es' } };\n");
    cpSync(MODEL, join(app, 'public/model'), { recursive: true });
    cpSync(IMAGE, join(app, 'public/image.png'));
    // A browser app: no Node types at all.
    writeFileSync(
      join(app, 'tsconfig.bundler.json'),
      JSON.stringify({
        compilerOptions: {
          ...STRICT,
          module: 'ESNext',
          moduleResolution: 'bundler',
          lib: ['ES2022', 'DOM', 'DOM.Iterable'],
          types: [],
          noEmit: true,
        },
        files: ['src/main.ts', 'src/worker.ts', 'src/embed.ts'],
      }),
    );
    // A Node script, compiled to build/ and run.
    writeFileSync(
      join(app, 'tsconfig.node.json'),
      JSON.stringify({
        compilerOptions: {
          ...STRICT,
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          lib: ['ES2022', 'DOM'],
          types: ['node'],
          typeRoots: [join(REPO_ROOT, 'node_modules/@types')],
          outDir: 'build',
        },
        files: ['src/node.ts', 'src/embed.ts'],
      }),
    );

    // The library's own forward, in this process, on the same image.
    const model = await Dinov2WithRegistersModel.from_pretrained(MODEL);
    try {
      const processor = processorFor(model.preprocessorConfig);
      const { pixel_values, dims } = processor.preprocess(await loadImageNode(IMAGE, { autoOrient: true }));
      const out = await model.forward({ data: pixel_values, dims });
      const hidden = await out.last_hidden_state.read();
      reference = await out.pooler_output.read();
      // The pooler output is the cls row of last_hidden_state, as the pipeline's 'cls' pooling reads it.
      expect(
        poolEmbeddings(hidden, out.last_hidden_state.dims, 1 + model.config.num_register_tokens, 'cls'),
      ).toEqual(reference);
    } finally {
      model.dispose();
    }
  });

  afterAll(() => {
    console.log(`consumer test timings (ms): ${JSON.stringify(timings)}`);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('type-checks with moduleResolution bundler (no Node types)', () => {
    timings.tscBundler = run(process.execPath, [TSC, '-p', 'tsconfig.bundler.json'], app, 'tsc (bundler)').ms;
  });

  it('type-checks with moduleResolution nodenext, and the compiled script runs in Node', () => {
    timings.tscNode = run(process.execPath, [TSC, '-p', 'tsconfig.node.json'], app, 'tsc (nodenext)').ms;
    const node = run(process.execPath, ['build/node.js', MODEL, IMAGE], app, 'the Node consumer');
    timings.node = node.ms;
    nodeResult = JSON.parse(node.out.split('\n').find((l) => l.startsWith('{')) ?? 'null') as Embeddings;
    expect(nodeResult.dims).toEqual([1, reference.length]);
    expectClose(nodeResult.forward, 'Node: processor + forward');
    expectClose(nodeResult.pipeline, 'Node: pipeline');
  });

  it('builds with Vite without Node modules, and runs in a page and a module worker', async () => {
    const build = run(process.execPath, [VITE, 'build', '--logLevel', 'info'], app, 'vite build');
    timings.viteBuild = build.ms;
    expect(build.out).not.toMatch(/externalized for browser compatibility/);
    const assets = readdirSync(join(app, 'dist/assets')).filter((f) => f.endsWith('.js'));
    expect(assets.length, 'a page bundle and a worker bundle').toBeGreaterThanOrEqual(2);
    for (const file of assets) {
      const text = readFileSync(join(app, 'dist/assets', file), 'utf8');
      expect(text.match(NODE_ONLY_IMPORT)?.[0], `${file} references a Node-only module`).toBeUndefined();
    }

    const start = Date.now();
    const server = await serveStatic(join(app, 'dist'));
    let chromium: ChromiumSession | undefined;
    try {
      chromium = await launchChromium({ origin: server.origin, intercept: false });
      await chromium.page.goto(`${server.origin}/index.html`);
      await chromium.page.waitForFunction(() => window.result !== undefined || window.failure !== undefined, {
        timeout: 240_000,
      });
      const failure = await chromium.page.evaluate(() => window.failure);
      expect(failure, 'the page failed').toBeUndefined();
      const result = (await chromium.page.evaluate(() => window.result)) as {
        main: Embeddings;
        worker: Embeddings;
      };
      for (const [where, r] of Object.entries(result)) {
        expectClose(r.forward, `${where}: processor + forward`);
        expectClose(r.pipeline, `${where}: pipeline`);
      }
      // Reads the library stops once it has what it needs (a body past the header) show as aborted.
      expect(chromium.problems.filter((p) => !p.endsWith('(net::ERR_ABORTED)'))).toEqual([]);
    } finally {
      await chromium?.close();
      await server.close();
      timings.browser = Date.now() - start;
    }
  });
});

declare global {
  interface Window {
    result?: { main: Embeddings; worker: Embeddings };
    failure?: string;
  }
}
