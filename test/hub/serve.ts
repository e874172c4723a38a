// The test hub (server.ts) as a process of its own, so that a measurement of the loading process
// does not count the server's memory:
//   npx tsx test/hub/serve.ts REPO=DIR [REPO=DIR ...]
// prints {"origin": "http://127.0.0.1:PORT"} on one line once listening; stops on SIGTERM or when stdin closes.
import { FakeHub, folderFiles } from './server.js';

const hub = new FakeHub();
for (const arg of process.argv.slice(2)) {
  const eq = arg.indexOf('=');
  if (eq < 0) throw new Error(`expected REPO=DIR, got ${arg}`);
  hub.addCommit(arg.slice(0, eq), folderFiles(arg.slice(eq + 1)));
}
await hub.start();
process.stdout.write(`${JSON.stringify({ origin: hub.origin })}\n`);
const stop = () => void hub.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
