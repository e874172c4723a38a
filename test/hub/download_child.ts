// One process of the concurrency and kill tests (test/hub/cache_safety.test.ts):
//   node --import tsx test/hub/download_child.ts '{"source": ..., "options": {...}}'
// runs downloadPretrained (no GPU) and prints one JSON line: {"ok": true, "location": ...} or
// {"ok": false, "name": ..., "message": ...}; exits 0 or 1.
// The Node platform first (as the package's Node entry does): local folders and the locked cache.
import '../../src/platform_node.js';
import { downloadPretrained } from '../../src/io/pretrained.js';

const { source, options } = JSON.parse(process.argv[2]) as {
  source: string;
  options: Record<string, unknown>;
};
process.stdout.write(`${JSON.stringify({ started: process.pid })}\n`);
try {
  const result = await downloadPretrained(source, options);
  process.stdout.write(`${JSON.stringify({ ok: true, location: result.location })}\n`);
} catch (e) {
  const err = e as Error;
  process.stdout.write(`${JSON.stringify({ ok: false, name: err.name, message: err.message })}\n`);
  process.exitCode = 1;
}
