// The demo page (`npm start` = `vite demo`). It imports the library as its users do, from
// 'dinov2-webgpu' (the package entry, aliased here to ../src/index.ts so edits show at once), and
// serves the bundled checkpoints at /models/<id>/ (with /models/index.json listing them) from the
// folders named in BUNDLED: the dev server reads them from disk, `vite build demo` copies them
// into the output. Nothing here needs the network.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { defineConfig, type Plugin } from 'vite';

const DEMO = import.meta.dirname;
const REPO = resolve(DEMO, '..');

/** Checkpoints the page offers offline; a folder that is absent is left out of index.json. */
export const BUNDLED = [
  {
    id: 'tiny-dinov2-with-registers',
    dir: join(REPO, 'weights/tiny-dinov2-with-registers'),
    label: 'tiny-dinov2-with-registers, random weights (bundled, offline)',
    random: true,
  },
  {
    id: 'tiny-dinov2',
    dir: join(DEMO, 'models/tiny-dinov2'),
    label: 'tiny-dinov2, random weights, no registers (bundled, offline)',
    random: true,
  },
  {
    id: 'tiny-dinov3',
    dir: join(DEMO, 'models/tiny-dinov3'),
    label: 'tiny-dinov3, random weights, DINOv3 ViT patch 16 (bundled, offline)',
    random: true,
  },
];

const FILES = ['config.json', 'preprocessor_config.json', 'model.safetensors'];

export interface BundledIndex {
  models: { id: string; label: string; random: boolean; files: { name: string; bytes: number }[] }[];
}

function bundledIndex(): BundledIndex {
  const models = BUNDLED.filter(
    (m) => existsSync(join(m.dir, 'config.json')) && existsSync(join(m.dir, 'model.safetensors')),
  ).map((m) => ({
    id: m.id,
    label: m.label,
    random: m.random,
    files: FILES.filter((f) => existsSync(join(m.dir, f))).map((name) => ({
      name,
      bytes: statSync(join(m.dir, name)).size,
    })),
  }));
  return { models };
}

function bundledModels(): Plugin {
  return {
    name: 'dinov2-demo-bundled-models',
    configureServer(server) {
      server.middlewares.use('/models/', (req, res, next) => {
        const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\/+/, '');
        if (path === 'index.json') {
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify(bundledIndex()));
          return;
        }
        const [id, file, ...rest] = path.split('/');
        const model = BUNDLED.find((m) => m.id === id);
        if (!model) return next();
        if (rest.length || !FILES.includes(file) || !existsSync(join(model.dir, file))) {
          res.statusCode = 404;
          res.end(`not found: /models/${path}\n`);
          return;
        }
        const full = join(model.dir, file);
        res.setHeader(
          'content-type',
          file.endsWith('.json') ? 'application/json' : 'application/octet-stream',
        );
        res.setHeader('content-length', String(statSync(full).size));
        res.end(readFileSync(full));
      });
    },
    generateBundle() {
      const index = bundledIndex();
      this.emitFile({ type: 'asset', fileName: 'models/index.json', source: JSON.stringify(index) });
      for (const m of index.models) {
        const dir = BUNDLED.find((b) => b.id === m.id)!.dir;
        for (const f of m.files)
          this.emitFile({
            type: 'asset',
            fileName: `models/${m.id}/${f.name}`,
            source: readFileSync(join(dir, f.name)),
          });
      }
    },
  };
}

export default defineConfig({
  root: DEMO,
  base: './',
  resolve: {
    // Exactly the entry: a deep import ('dinov2-webgpu/...') stays unresolved, as for a user.
    alias: [{ find: /^dinov2-webgpu$/, replacement: join(REPO, 'src/index.ts') }],
  },
  plugins: [bundledModels()],
  server: {
    host: '127.0.0.1',
    fs: { allow: [REPO] },
  },
  optimizeDeps: {
    exclude: ['webgpu', 'sharp'],
  },
  build: {
    target: 'es2022',
    outDir: join(DEMO, 'dist'),
    emptyOutDir: true,
    sourcemap: true,
    rolldownOptions: {
      // Node-only imports of the library (Dawn, sharp, node:*) are never reached in a browser.
      external: [/^node:/, 'webgpu', 'sharp'],
    },
  },
});
