// Headless Chromium for the browser tests and the browser benchmarks: the library as a page loads it (the built
// dist/index.js), served from this repository by a local static server, with WebGPU on
// SwiftShader where the machine has no GPU.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import type { AdapterInfo } from '../src/gpu/device.js';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * `--enable-unsafe-webgpu` is the one flag WebGPU needs on Linux; with no GPU Chromium then offers
 * SwiftShader as a fallback adapter (vendor "google", architecture "swiftshader"). The others keep
 * a test browser quiet: no network of its own, no component updates, /tmp instead of a small /dev/shm.
 */
export const CHROMIUM_FLAGS = [
  '--headless=new',
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-dev-shm-usage',
];

// Debian's /usr/bin/chromium is a shell wrapper that sources /etc/chromium.d (extensions, API keys,
// flags) before exec'ing /usr/lib/chromium/chromium; the binary itself is what a test wants.
const CHROMIUM_CANDIDATES = [
  '/usr/lib/chromium/chromium',
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome-stable',
  '/usr/bin/google-chrome',
];

/** $CHROMIUM_PATH, else the first installed Chromium or Chrome. */
export function chromiumPath(): string {
  const path = process.env.CHROMIUM_PATH ?? CHROMIUM_CANDIDATES.find((p) => existsSync(p));
  if (!path || !existsSync(path)) {
    throw new Error(
      `No Chromium found (tried ${process.env.CHROMIUM_PATH ?? CHROMIUM_CANDIDATES.join(', ')}): install it (Debian: apt-get install chromium) or set CHROMIUM_PATH.`,
    );
  }
  return path;
}

// ---------------------------------------------------------------------------------------------
// The bundle

/** What the build reads: a change to any of these makes dist/ stale. */
const BUILD_INPUTS = [
  'src',
  'shaders',
  'vite.config.ts',
  'tsconfig.json',
  'tsconfig.build.json',
  'package.json',
  'package-lock.json',
];
/** Written into dist/ after a build by this helper; `vite build` empties dist/ and so removes it. */
const BUILD_STAMP = 'dist/.build-inputs.sha256';

function listFiles(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .flatMap((e) => listFiles(join(path, e.name)));
}

/** sha256 over the path and bytes of every build input. */
export function buildInputsHash(root = REPO_ROOT): string {
  const hash = createHash('sha256');
  for (const file of BUILD_INPUTS.flatMap((p) => listFiles(join(root, p)))) {
    hash.update(relative(root, file)).update('\0').update(readFileSync(file)).update('\0');
  }
  return hash.digest('hex');
}

/**
 * Makes dist/ the build of the sources as they are now: runs `npm run build`'s steps unless the stamp
 * left by the last build here names the same inputs. A stamp, not mtimes: checkouts and copies
 * move mtimes both ways, and a build by hand (which removes the stamp) is simply redone once.
 */
export function ensureBuilt(root = REPO_ROOT): { built: boolean; ms: number } {
  const start = Date.now();
  const stamp = join(root, BUILD_STAMP);
  const inputs = buildInputsHash(root);
  if (
    existsSync(join(root, 'dist/index.js')) &&
    existsSync(stamp) &&
    readFileSync(stamp, 'utf8').trim() === inputs
  ) {
    return { built: false, ms: Date.now() - start };
  }
  // `npm run build`: the bundles, then the declarations.
  const steps = [
    ['vite build', join(root, 'node_modules/vite/bin/vite.js'), 'build'],
    [
      'tsc -p tsconfig.build.json',
      join(root, 'node_modules/typescript/bin/tsc'),
      '-p',
      'tsconfig.build.json',
    ],
  ];
  for (const [name, ...args] of steps) {
    const run = spawnSync(process.execPath, args, {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
    });
    if (run.status !== 0 || !existsSync(join(root, 'dist/index.js'))) {
      const output = `${run.stdout ?? ''}${run.stderr ?? ''}`.split('\n').slice(-40).join('\n');
      throw new Error(`${name} failed (exit ${run.status ?? run.signal}); the tests need dist/:\n${output}`);
    }
  }
  writeFileSync(stamp, `${inputs}\n`);
  return { built: true, ms: Date.now() - start };
}

// ---------------------------------------------------------------------------------------------
// The static server

export const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wgsl': 'text/plain; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
};

export interface StaticServer {
  /** http://127.0.0.1:PORT, no trailing slash. */
  origin: string;
  /** Every request, as `STATUS /path`, for failure messages. */
  log: string[];
  close(): Promise<void>;
}

/** Serves the files under `root` (GET and HEAD only) on 127.0.0.1 at a free port. */
export async function serveStatic(root = REPO_ROOT): Promise<StaticServer> {
  const base = resolve(root);
  const log: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    const file = resolve(base, `.${path}`);
    const inside = file === base || file.startsWith(base + sep);
    const ok =
      (req.method === 'GET' || req.method === 'HEAD') &&
      inside &&
      existsSync(file) &&
      statSync(file).isFile();
    log.push(`${ok ? 200 : 404} ${req.method} ${path}`);
    if (!ok) {
      res.writeHead(req.method === 'GET' || req.method === 'HEAD' ? 404 : 405, {
        'content-type': 'text/plain',
      });
      res.end(`not found: ${path}\n`);
      return;
    }
    res.writeHead(200, {
      'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': statSync(file).size,
      'cache-control': 'no-store',
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  return listenOnLoopback(server, log);
}

/** Starts `server` on 127.0.0.1 at a free port; close() also drops kept-alive connections. */
export async function listenOnLoopback(server: Server, log: string[]): Promise<StaticServer> {
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', ok);
  });
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    log,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// The browser

export interface ChromiumSession {
  browser: Browser;
  page: Page;
  /** Console errors, page exceptions, failed and refused requests, in order. */
  problems: string[];
  close(): Promise<void>;
}

export interface LaunchOptions {
  /** The only origin the page may reach; requests elsewhere are aborted and reported. */
  origin: string;
  /** Page console messages (every type) go here too; default: console.log with a [page] prefix. */
  onConsole?: (line: string) => void;
  extraFlags?: string[];
  /**
   * Refuse requests to other origins (default true). Dedicated workers' requests can stall under
   * puppeteer's request interception, so pages that run workers turn it off: requests elsewhere are
   * then reported as problems but not stopped.
   */
  intercept?: boolean;
}

/**
 * One headless Chromium with a fresh temporary profile and one page. Page console output and
 * exceptions are forwarded to the test's output; anything but `origin` is refused.
 */
export async function launchChromium(options: LaunchOptions): Promise<ChromiumSession> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'dinov2-chromium-'));
  const problems: string[] = [];
  const say = options.onConsole ?? ((line: string) => console.log(`[page] ${line}`));
  let browser: Browser;
  try {
    browser = await puppeteer.launch({
      executablePath: chromiumPath(),
      headless: true,
      userDataDir,
      args: [...CHROMIUM_FLAGS, ...(options.extraFlags ?? [])],
      protocolTimeout: 600_000,
    });
  } catch (e) {
    rmSync(userDataDir, { recursive: true, force: true });
    throw e;
  }
  const close = async () => {
    await browser.close().catch(() => browser.process()?.kill('SIGKILL'));
    rmSync(userDataDir, { recursive: true, force: true });
  };
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(600_000);
    page.on('console', (msg) => {
      const line = `${msg.type()}: ${msg.text()}`;
      if (msg.type() === 'error') problems.push(`console ${line}`);
      say(line);
    });
    page.on('pageerror', (err) => {
      const line = `uncaught exception: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
      problems.push(line);
      say(line);
    });
    page.on('requestfailed', (req) => {
      const line = `request failed: ${req.url()} (${req.failure()?.errorText ?? 'unknown'})`;
      problems.push(line);
      say(line);
    });
    page.on('response', (res) => {
      if (res.status() >= 400) {
        const line = `HTTP ${res.status()} for ${res.url()}`;
        problems.push(line);
        say(line);
      }
    });
    // page.evaluate sends a function's source text; under tsx (esbuild keepNames) that source calls
    // esbuild's __name helper, which the page must then have.
    await page.evaluateOnNewDocument('globalThis.__name ??= (fn) => fn;');
    const intercept = options.intercept ?? true;
    if (intercept) await page.setRequestInterception(true);
    page.on('request', (req) => {
      const url = req.url();
      const allowed =
        url.startsWith(`${options.origin}/`) ||
        url.startsWith('data:') ||
        url.startsWith('blob:') ||
        url === 'about:blank';
      if (!allowed) problems.push(`${intercept ? 'refused' : 'unexpected'} request to ${url}`);
      if (intercept) void (allowed ? req.continue() : req.abort('blockedbyclient'));
    });
    return { browser, page, problems, close };
  } catch (e) {
    await close();
    throw e;
  }
}

export interface AdapterReport extends AdapterInfo {
  features: string[];
}

/** navigator.gpu.requestAdapter() in the page; null when it gives none (or there is no navigator.gpu). */
export function pageAdapter(page: Page): Promise<AdapterReport | null> {
  return page.evaluate(async () => {
    const adapter = await navigator.gpu?.requestAdapter();
    if (!adapter) return null;
    const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
    return {
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
      isFallbackAdapter: Boolean(info.isFallbackAdapter),
      features: [...adapter.features].sort(),
    };
  });
}
