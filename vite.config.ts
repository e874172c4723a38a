import { defineConfig } from 'vitest/config';

// The library's entries: `dist/index.js` for browsers (WGSL inlined through `?raw` imports; no Node
// module anywhere in its graph), `dist/node.js` for Node (the same API with the Node platform:
// src/platform_node.ts), `dist/cli.js` the command line behind bin/dinov2-webgpu.js. Declarations:
// `tsc -p tsconfig.build.json` after this build (npm run build). `dist/prepare_worker.js`: the
// command line's decoding threads.
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
        // Shared chunks by what they hold, without hashes: the engine (every module both entries
        // use) and the Node platform.
        chunkFileNames: (chunk) =>
          chunk.moduleIds.some((id) => /[\\/]src[\\/]model[\\/]modeling\.ts$/.test(id))
            ? 'engine.js'
            : '[name].js',
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
