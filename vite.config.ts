import { defineConfig } from 'vitest/config';

// The library's entries: `dist/index.js` for browsers (WGSL inlined through `?raw` imports; no Node
// module anywhere in its graph), `dist/node.js` for Node (the same API with the Node platform:
// src/platform_node.ts), `dist/cli.js` the command line behind bin/dinov2-webgpu.js. Declarations:
// `tsc -p tsconfig.build.json` after this build (npm run build). `dist/prepare_worker.js`: the
// command line's decoding threads.
// The modules only Node runs (besides src/cli/): what the Node platform installs.
const NODE_ONLY =
  /[\\/]src[\\/](node|platform_node|gpu[\\/]device_node|image[\\/]decode_node|io[\\/](cache_node|hub_node|local_checkpoint|lock_node))\.ts$/;

export default defineConfig({
  build: {
    target: 'es2022',
    outDir: 'dist',
    emptyOutDir: true,
    minify: false,
    sourcemap: true,
    lib: {
      entry: {
        index: 'src/index.ts',
        node: 'src/node.ts',
        cli: 'src/cli/main.ts',
        prepare_worker: 'src/cli/prepare_worker.ts',
      },
      formats: ['es'],
    },
    rolldownOptions: {
      external: [/^node:/, 'webgpu', 'sharp'],
      output: {
        // Chunks by what they hold, named: engine.js every browser-safe module of src/ (all that the
        // browser entry reaches), platform_node.js the Node platform (Dawn, sharp, local folders,
        // the hub cache). Without the groups, the command line's entries split shared modules into
        // chunks named after whichever module came first.
        chunkFileNames: '[name].js',
        manualChunks: (id) =>
          NODE_ONLY.test(id) ? 'platform_node' : /[\\/]src[\\/](?!cli[\\/])/.test(id) ? 'engine' : undefined,
      },
    },
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/build.ts'],
    setupFiles: ['test/setup/node_platform.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
    // SwiftShader is single-queue and slow; running GPU files side by side only thrashes two cores.
    fileParallelism: false,
  },
});
