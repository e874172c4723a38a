#!/usr/bin/env node
// The command line lives in dist/cli.js, built by `npm run build` (and before `npm pack`, the `prepack` script).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
if (!existsSync(cli)) {
  process.stderr.write(
    'dinov2-webgpu: dist/cli.js is missing; run `npm run build` in the package folder first\n',
  );
  process.exit(1);
}
await import(cli);
