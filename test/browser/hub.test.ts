// from_pretrained in headless Chromium (the built bundle, dist/index.js) against the loopback hub
// (test/hub/server.ts, which also serves the page and dist/ from the same origin): downloads give
// transformers' outputs and land in the Cache API keyed by repository, revision and file; a second
// load makes no request at all; a cut connection, an abort and a bad hash leave no entry; shards,
// a File list and a FileSystemDirectoryHandle (OPFS) load too.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as Library from '../../src/index.js';
import { FakeHub, folderFiles } from '../hub/server.js';
import { type ChromiumSession, ensureBuilt, launchChromium, REPO_ROOT } from '../../tools/chromium.js';
import { SafetensorsFile, writeSafetensors } from '../../src/io/safetensors.js';

const GOLDEN = join(REPO_ROOT, 'test/fixtures/golden');
const hub = new FakeHub({ staticRoot: REPO_ROOT, sameOriginCdn: true });
let chromium: ChromiumSession;

interface LoadRequest {
  libraryUrl: string;
  source: string | { files: string[] } | { opfs: string[] };
  endpoint: string;
  casePath: string;
  /** Abort once this many bytes of model.safetensors have been reported. */
  abortAfter?: number;
  /** Fetched by the page first (the browser's HTTP cache then holds their bodies). */
  prefetch?: string[];
  /** from_pretrained's retries (default: the library's). */
  retries?: number;
}

interface LoadResult {
  ok: boolean;
  error?: { name: string; message: string };
  error1e4?: number;
  cacheKeys: string[];
  progress: string[];
}

/** Runs in the page (puppeteer sends its source): from_pretrained, a forward on a golden case, the cache's keys. */
async function loadInPage(req: LoadRequest): Promise<LoadResult> {
  const importModule = new Function('url', 'return import(url)') as (url: string) => Promise<unknown>;
  const lib = (await importModule(req.libraryUrl)) as typeof Library;
  const progress: string[] = [];
  const controller = new AbortController();
  let source: Library.PretrainedSource;
  const fetchFile = async (path: string) => new Uint8Array(await (await fetch(path)).arrayBuffer());
  if (typeof req.source === 'string') source = req.source;
  else if ('files' in req.source) {
    source = await Promise.all(
      req.source.files.map(async (p) => new File([await fetchFile(p)], p.split('/').pop()!)),
    );
  } else {
    const root = await navigator.storage.getDirectory();
    const dir = await root.getDirectoryHandle('checkpoint', { create: true });
    for (const p of req.source.opfs) {
      const writable = await (
        await dir.getFileHandle(p.split('/').pop()!, { create: true })
      ).createWritable();
      await writable.write(await fetchFile(p));
      await writable.close();
    }
    source = dir;
  }
  const keys = async () => (await (await caches.open(lib.BROWSER_CACHE_NAME)).keys()).map((r) => r.url);
  for (const url of req.prefetch ?? []) await fetchFile(url);
  try {
    const model = await lib.Dinov2WithRegistersModel.from_pretrained(source, {
      endpoint: req.endpoint,
      signal: controller.signal,
      retries: req.retries,
      progress: (file, loaded, total) => {
        progress.push(`${file} ${loaded}/${total}`);
        if (req.abortAfter !== undefined && file === 'model.safetensors' && loaded >= req.abortAfter)
          controller.abort();
      },
    });
    const file = lib.SafetensorsFile.parse(await fetchFile(req.casePath));
    const out = await model.forward({
      data: file.float32('pixel_values'),
      dims: file.info('pixel_values').shape,
    });
    const got = await out.last_hidden_state.read();
    const want = file.float32('last_hidden_state');
    let maxDiff = 0;
    let maxRef = 0;
    for (let i = 0; i < want.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]) || (Number.isNaN(got[i]) ? Infinity : 0));
      maxRef = Math.max(maxRef, Math.abs(want[i]));
    }
    model.dispose();
    return {
      ok: true,
      error1e4: got.length === want.length ? maxDiff / maxRef : Infinity,
      cacheKeys: await keys(),
      progress,
    };
  } catch (e) {
    return {
      ok: false,
      error: { name: (e as Error).name, message: (e as Error).message },
      cacheKeys: await keys(),
      progress,
    };
  }
}

const load = (source: LoadRequest['source'], extra: Partial<LoadRequest> = {}) =>
  chromium.page.evaluate(loadInPage, {
    libraryUrl: `${hub.origin}/dist/index.js`,
    source,
    endpoint: hub.origin,
    casePath: '/test/fixtures/golden/tiny-gelu/square-native.safetensors',
    ...extra,
  });

beforeAll(async () => {
  ensureBuilt();
  await hub.start();
  const gelu = folderFiles(join(GOLDEN, 'tiny-gelu'), ['config.json', 'model.safetensors']);
  hub.addCommit('org/tiny-gelu', gelu);
  for (const name of ['org/cut', 'org/slow', 'org/corrupt']) hub.addCommit(name, gelu);
  // Two shards and an index.
  const whole = SafetensorsFile.parse(
    new Uint8Array(readFileSync(join(GOLDEN, 'tiny-gelu/model.safetensors'))),
  );
  const half = Math.ceil(whole.names.length / 2);
  const shardFiles = [whole.names.slice(0, half), whole.names.slice(half)].map((names, i) => ({
    name: `model-0000${i + 1}-of-00002.safetensors`,
    data: writeSafetensors(
      Object.fromEntries(
        names.map((n) => [n, { dtype: 'F32' as const, shape: whole.info(n).shape, data: whole.bytes(n) }]),
      ),
    ),
    names,
  }));
  hub.addCommit('org/sharded', {
    'config.json': gelu['config.json'],
    'model.safetensors.index.json': {
      data: new TextEncoder().encode(
        JSON.stringify({
          weight_map: Object.fromEntries(shardFiles.flatMap((s) => s.names.map((n) => [n, s.name]))),
        }),
      ),
    },
    ...Object.fromEntries(shardFiles.map((s) => [s.name, { data: s.data }])),
  });
  chromium = await launchChromium({ origin: hub.origin });
  await chromium.page.goto(`${hub.origin}/test/browser/page.html`);
});

afterAll(async () => {
  await chromium?.close();
  await hub.close();
});

const resolved = (repo: string, file: string) => `${hub.origin}/${repo}/resolve/main/${file}`;

describe('from_pretrained in Chromium (Cache API)', () => {
  it('downloads from the hub, matches transformers within 1e-4, and caches each file under repo/revision/file', async () => {
    const r = await load('org/tiny-gelu');
    expect(r.error).toBeUndefined();
    expect(r.error1e4!).toBeLessThan(1e-4);
    // preprocessor_config.json is cached as absent (a 404 entry), as huggingface_hub's .no_exist does.
    expect(r.cacheKeys.sort()).toEqual(
      ['config.json', 'model.safetensors', 'preprocessor_config.json'].map((f) =>
        resolved('org/tiny-gelu', f),
      ),
    );
    const size = hub.blob('org/tiny-gelu', 'model.safetensors').size;
    expect(r.progress).toContain(`model.safetensors ${size}/${size}`);
    // The header first, by Range request.
    expect(hub.requests((q) => q.path.startsWith('/cdn/') && q.method === 'GET')[0].range).toBe(
      'bytes=0-65535',
    );
  });

  it('a second load makes no request for the repository at all', async () => {
    const before = hub.log.length;
    const r = await load('org/tiny-gelu');
    expect(r.error).toBeUndefined();
    expect(r.error1e4!).toBeLessThan(1e-4);
    expect(
      hub.log.slice(before).filter((q) => q.path.includes('tiny-gelu/resolve') || q.path.startsWith('/cdn/')),
    ).toEqual([]);
  });

  it('a connection cut half-way rejects, names the byte, and leaves no cache entry; the retry completes', async () => {
    const sha = hub.blob('org/cut', 'model.safetensors').sha256;
    hub.faults.set(sha, { cutAfter: Math.floor(hub.blob('org/cut', 'model.safetensors').size / 2) });
    let r: LoadResult;
    try {
      r = await load('org/cut', { retries: 0 });
    } finally {
      hub.faults.delete(sha);
    }
    expect(r.ok).toBe(false);
    expect(r.error!.message).toMatch(/connection for .* (closed|broke) after \d+ of \d+ bytes/);
    expect(r.cacheKeys).not.toContain(resolved('org/cut', 'model.safetensors'));
    r = await load('org/cut');
    expect(r.error).toBeUndefined();
    expect(r.cacheKeys).toContain(resolved('org/cut', 'model.safetensors'));
  });

  it('abort mid-download rejects with an AbortError and caches nothing of the weights', async () => {
    const sha = hub.blob('org/slow', 'model.safetensors').sha256;
    hub.faults.set(sha, { bytesPerSecond: 400_000 });
    let r: LoadResult;
    try {
      r = await load('org/slow', { abortAfter: 200_000 });
    } finally {
      hub.faults.delete(sha);
    }
    expect(r.ok).toBe(false);
    expect(r.error!.name).toBe('AbortError');
    expect(r.cacheKeys).not.toContain(resolved('org/slow', 'model.safetensors'));
  });

  it('a body whose sha256 differs from the ETag is refused and not cached', async () => {
    const sha = hub.blob('org/corrupt', 'model.safetensors').sha256;
    hub.faults.set(sha, { corrupt: true });
    let r: LoadResult;
    try {
      r = await load('org/corrupt');
    } finally {
      hub.faults.delete(sha);
    }
    expect(r.ok).toBe(false);
    expect(r.error!.message).toMatch(/failed verification: sha256 [0-9a-f]{64} differs/);
    expect(r.cacheKeys).not.toContain(resolved('org/corrupt', 'model.safetensors'));
  });

  it('a sharded checkpoint streams shard by shard', async () => {
    const r = await load('org/sharded');
    expect(r.error).toBeUndefined();
    expect(r.error1e4!).toBeLessThan(1e-4);
    expect(r.cacheKeys).toContain(resolved('org/sharded', 'model-00002-of-00002.safetensors'));
  });

  it('a server that gzips .safetensors, with the file fetched before (Range answered from the cached compressed body): the whole file is read instead', async () => {
    const folder = `${hub.origin}/gzip/test/fixtures/golden/tiny-gelu`;
    const r = await load(folder, { prefetch: [`${folder}/model.safetensors`] });
    expect(r.error).toBeUndefined();
    expect(r.error1e4!).toBeLessThan(1e-4);
    // The page's Range request did get compressed bytes (the fault), and the file was read whole after it.
    const asked = hub.requests((q) => q.path === '/gzip/test/fixtures/golden/tiny-gelu/model.safetensors');
    expect(asked.some((q) => q.range === undefined && q.method === 'GET')).toBe(true);
  });

  it('local files: a File list and a FileSystemDirectoryHandle (OPFS)', async () => {
    const files = ['config.json', 'model.safetensors'].map((f) => `/test/fixtures/golden/tiny-gelu/${f}`);
    let r = await load({ files });
    expect(r.error).toBeUndefined();
    expect(r.error1e4!).toBeLessThan(1e-4);
    r = await load({ opfs: files });
    expect(r.error).toBeUndefined();
    expect(r.error1e4!).toBeLessThan(1e-4);
  });
});
