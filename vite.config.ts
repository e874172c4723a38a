import { defineConfig } from 'vitest/config';

// One build serves the browser and Node: `dist/index.js` is the library (WGSL inlined through
// `?raw` imports; Node-only modules are loaded lazily and left external), `dist/cli.js` the
// command line behind bin/dinov2-webgpu.js, and `dist/prepare_worker.js` its decoding threads.
export default defineConfig({
  build: {
    target: 'es2022',
    outDir: 'dist',
    emptyOutDir: true,
    minify: false,
    sourcemap: true,
    lib: {
      entry: { index: 'src/index.ts', cli: 'src/cli/main.ts', prepare_worker: 'src/cli/prepare_worker.ts' },
      formats: ['es'],
    },
    rolldownOptions: {
      external: [/^node:/, 'webgpu', 'sharp'],
    },
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/build.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
    // SwiftShader is single-queue and slow; running GPU files side by side only thrashes two cores.
    fileParallelism: false,
  },
});
