// The command-line and browser tests run the library as users get it: the built dist/.
// Build it once before any test file runs (skipped when the sources are unchanged since the last
// build here), so no test sees a stale bundle.
import { ensureBuilt } from '../../tools/chromium.js';

export default function setup(): void {
  ensureBuilt();
}
