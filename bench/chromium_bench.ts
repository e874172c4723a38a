// One headless Chromium for the browser benchmarks (tools/chromium.ts launches it), a fresh
// page per engine, and long page work run as a polled job, so no single DevTools call outlasts
// puppeteer's protocol timeout (SwiftShader forwards take minutes).
import type { Page } from 'puppeteer-core';
import {
  type AdapterReport,
  type ChromiumSession,
  ensureBuilt,
  launchChromium,
  pageAdapter,
  REPO_ROOT,
} from '../tools/chromium.js';
import { type BenchServer, serveBench } from './server.js';

export { REPO_ROOT };

/**
 * --enable-webgpu-developer-features turns off timestamp quantization (Chromium rounds
 * timestamp-query results to 100 us without it), so per-kernel times are exact.
 */
export const BENCH_CHROMIUM_FLAGS = ['--enable-webgpu-developer-features'];

export interface BenchBrowser {
  server: BenchServer;
  chromium: ChromiumSession;
  version: string;
  /** A blank, cross-origin-isolated page; each engine gets a fresh one (no state carried over). */
  freshPage(): Promise<Page>;
  adapter(): Promise<AdapterReport | null>;
  close(): Promise<void>;
}

export async function openBenchBrowser(
  mounts: Record<string, string>,
  log: (line: string) => void,
): Promise<BenchBrowser> {
  const build = ensureBuilt();
  if (build.built) log(`built dist/ (${(build.ms / 1000).toFixed(1)} s)`);
  const server = await serveBench(REPO_ROOT, mounts);
  let chromium: ChromiumSession;
  try {
    chromium = await launchChromium({
      origin: server.origin,
      onConsole: (line) => log(`[page] ${line}`),
      extraFlags: BENCH_CHROMIUM_FLAGS,
    });
  } catch (e) {
    await server.close();
    throw e;
  }
  const page = chromium.page;
  const freshPage = async () => {
    await page.goto(`${server.origin}/bench/page.html`, { waitUntil: 'load' });
    const isolated = await page.evaluate(() => globalThis.crossOriginIsolated);
    if (!isolated)
      throw new Error('the bench page is not cross-origin isolated (COOP/COEP headers missing?)');
    return page;
  };
  return {
    server,
    chromium,
    version: await chromium.browser.version(),
    freshPage,
    adapter: async () => pageAdapter(await freshPage()),
    close: async () => {
      await chromium.close();
      await server.close();
    },
  };
}

/**
 * Runs `fn(arg)` in the page as a background job and polls for its result. `fn` must be
 * self-contained: its source text is all the page gets.
 */
export async function runInPage<A, R>(
  page: Page,
  fn: (arg: A) => Promise<R>,
  arg: A,
  pollMs = 2000,
): Promise<R> {
  await page.evaluate(
    (source: string, a: unknown) => {
      type Job = { done: boolean; result?: unknown; error?: string };
      const job: Job = { done: false };
      (globalThis as { benchJob?: Job }).benchJob = job;
      const run = new Function(`return (${source});`)() as (x: unknown) => Promise<unknown>;
      run(a).then(
        (result) => Object.assign(job, { done: true, result }),
        (e: unknown) =>
          Object.assign(job, { done: true, error: e instanceof Error ? (e.stack ?? e.message) : String(e) }),
      );
    },
    fn.toString(),
    arg as unknown,
  );
  for (;;) {
    const job = await page.evaluate(() => {
      const j = (globalThis as { benchJob?: { done: boolean; result?: unknown; error?: string } }).benchJob;
      return j?.done ? j : null;
    });
    if (job) {
      if (job.error !== undefined) throw new Error(`in the page: ${job.error}`);
      return job.result as R;
    }
    await new Promise((ok) => setTimeout(ok, pollMs));
  }
}
