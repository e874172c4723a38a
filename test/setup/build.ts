// The command-line and browser tests run the library as users get it: the built dist/.
// Build it once before any test file runs, so tests never see a stale bundle.
import { build } from 'vite';

export default async function setup(): Promise<void> {
  await build({ logLevel: 'warn' });
}
