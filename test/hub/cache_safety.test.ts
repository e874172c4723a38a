// The Node cache under concurrency, faults and hostile names, against the loopback hub
// (test/hub/server.ts), without a GPU (downloadPretrained fills the cache as from_pretrained does):
// several processes and several calls of one process downloading one repository while the server
// holds the body mid-way (forced interleavings); kill -9 at several points and a fresh download;
// hostile revisions, ETags and shard names; a stalling and a trickling server under a short
// timeout; retries that resume with Range; bodies verified whatever the ETag's case and with the
// cache off. After each: every blob's sha256 is its name, no partial file, no dangling link,
// nothing written outside the cache folder.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeFileByteSource, NodeHubCache } from '../../src/io/cache_node.js';
import { HttpByteSource, TimeoutError } from '../../src/io/http.js';
import { resolveHubOptions } from '../../src/io/hub_common.js';
import { safeRelativePath, UnsafeNameError } from '../../src/io/names.js';
import { downloadPretrained } from '../../src/io/pretrained.js';
import { VerificationError } from '../../src/io/verify.js';
import { FakeHub, folderFiles, Pause, type ServedFile } from './server.js';

const GOLDEN = 'test/fixtures/golden';
const REPO = 'org/tiny-gelu';
const hub = new FakeHub();
let files: Record<string, ServedFile>;
let weightsSha = '';
let weightsSize = 0;

const tmp = (name: string) => mkdtempSync(join(tmpdir(), `dinov2-cache-${name}-`));
/** Fast failure settings for the tests: short timeouts and backoff, a short lock takeover. */
const FAST = { retryDelay: 10, downloadTimeout: 1500, etagTimeout: 1500, lockStale: 2000 };

/** Every path under `dir`, relative, with symlinks as "path -> target". */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isSymbolicLink()) out.push(`${relative(dir, p)} -> ${readlinkSync(p)}`);
      else if (e.isDirectory()) {
        out.push(`${relative(dir, p)}/`);
        walk(p);
      } else out.push(relative(dir, p));
    }
  };
  if (existsSync(dir)) walk(dir);
  return out.sort();
}

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/**
 * The cache is consistent: no partial file, no link that leads nowhere, every sha256-named blob
 * holds exactly that content, and nothing but the cache's own folders sits in it.
 */
function expectConsistent(cacheDir: string): void {
  for (const p of tree(cacheDir)) {
    const path = p.split(' -> ')[0];
    expect(path, 'a partial or temporary file was left').not.toMatch(/\.(incomplete|tmp|link)$/);
    expect(path, 'outside the cache layout').toMatch(
      /^(\.locks\/(models--[^/]+\/?)?.*|models--[^/]+\/((blobs|refs|snapshots|\.no_exist)(\/.*)?)?)$/,
    );
    if (p.includes(' -> ')) expect(existsSync(join(cacheDir, path)), `dangling ${p}`).toBe(true);
    const blob = /^models--[^/]+\/blobs\/([0-9a-f]{64})$/.exec(path);
    if (blob) expect(sha256(join(cacheDir, path)), `blob ${blob[1]}`).toBe(blob[1]);
  }
}

function expectDownloaded(cacheDir: string, repo = REPO): void {
  expectConsistent(cacheDir);
  const blob = join(cacheDir, `models--${repo.replace('/', '--')}`, 'blobs', weightsSha);
  expect(existsSync(blob)).toBe(true);
  expect(sha256(blob)).toBe(weightsSha);
}

/** GETs of the weights' bytes from the CDN that asked for more than the header probe. */
function bodyRequests(since: number): number {
  return hub.log
    .slice(since)
    .filter((r) => r.path === `/cdn/${weightsSha}` && r.method === 'GET' && r.status < 300).length;
}

interface Child {
  process: ChildProcess;
  started: Promise<void>;
  result: Promise<{ code: number | null; signal: NodeJS.Signals | null; lines: Record<string, unknown>[] }>;
}

/** A download in another process (test/hub/download_child.ts). */
function child(cacheDir: string, extra: Record<string, unknown> = {}, shell?: string): Child {
  const arg = JSON.stringify({
    source: REPO,
    options: { endpoint: hub.origin, cacheDir, ...FAST, ...extra },
  });
  const argv = ['--import', 'tsx', 'test/hub/download_child.ts', arg];
  const proc = shell
    ? spawn('bash', ['-c', `${shell}; exec "$0" "$@"`, process.execPath, ...argv], { stdio: 'pipe' })
    : spawn(process.execPath, argv, { stdio: 'pipe' });
  let out = '';
  let startedResolve!: () => void;
  const started = new Promise<void>((resolve) => {
    startedResolve = resolve;
  });
  proc.stdout!.on('data', (d) => {
    out += d;
    if (out.includes('"started"')) startedResolve();
  });
  proc.stderr!.on('data', () => undefined);
  const result = new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    lines: Record<string, unknown>[];
  }>((resolve) =>
    proc.on('close', (code, signal) =>
      resolve({
        code,
        signal,
        lines: out
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l)),
      }),
    ),
  );
  return { process: proc, started, result };
}

/** Resolves once `predicate` holds over the hub's log (polled). */
async function until(predicate: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  await hub.start();
  files = folderFiles(join(GOLDEN, 'tiny-gelu'), ['config.json', 'model.safetensors']);
  hub.addCommit(REPO, files);
  weightsSha = hub.blob(REPO, 'model.safetensors').sha256;
  weightsSize = hub.blob(REPO, 'model.safetensors').size;
});

afterAll(async () => {
  await hub.close();
});

describe('concurrent downloads of one repository', () => {
  it('4 calls in one process while the body is held mid-way: one download, every call succeeds, the blob is right', async () => {
    const cacheDir = tmp('inproc');
    const pause = new Pause();
    hub.faults.set(weightsSha, { pauseAt: 300_000, pause });
    const before = hub.log.length;
    try {
      const calls = Array.from({ length: 4 }, () =>
        downloadPretrained(REPO, { endpoint: hub.origin, cacheDir, ...FAST, downloadTimeout: 20_000 }),
      );
      await pause.reached;
      // The first writer holds the blob's lock mid-body; the others wait for it.
      await new Promise((r) => setTimeout(r, 200));
      expect(bodyRequests(before)).toBe(1);
      pause.release();
      const results = await Promise.all(calls);
      for (const r of results) expect(r.location).toBe(results[0].location);
    } finally {
      hub.faults.delete(weightsSha);
    }
    expect(bodyRequests(before)).toBe(1);
    expectDownloaded(cacheDir);
  });

  it('3 processes started together while the body is held mid-way: all exit 0, one download, the blob is right', async () => {
    const cacheDir = tmp('procs');
    const pause = new Pause();
    hub.faults.set(weightsSha, { pauseAt: 300_000, pause });
    const before = hub.log.length;
    try {
      const children = Array.from({ length: 3 }, () => child(cacheDir, { downloadTimeout: 30_000 }));
      await pause.reached;
      // Every process has asked for the weights' metadata: each is at or before the lock.
      await until(
        () =>
          hub.log.slice(before).filter((r) => r.path === `/${REPO}/resolve/main/model.safetensors`).length >=
          3,
        'three HEADs of model.safetensors',
      );
      await new Promise((r) => setTimeout(r, 300));
      pause.release();
      const results = await Promise.all(children.map((c) => c.result));
      for (const r of results) {
        expect(r.code, JSON.stringify(r.lines)).toBe(0);
        expect(r.lines.at(-1)).toMatchObject({ ok: true });
      }
    } finally {
      hub.faults.delete(weightsSha);
    }
    expect(bodyRequests(before)).toBe(1);
    expectDownloaded(cacheDir);
  });

  it('kill -9 before the body, mid-body (holding the lock) and at a seeded random moment; a fresh download then succeeds', async () => {
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (const when of ['started', 'mid-body', 'random'] as const) {
      const cacheDir = tmp(`kill-${when}`);
      const pause = new Pause();
      hub.faults.set(weightsSha, { pauseAt: 200_000, pause, bytesPerSecond: 2_000_000 });
      const c = child(cacheDir, { downloadTimeout: 30_000 });
      try {
        await c.started;
        if (when === 'mid-body') await pause.reached;
        if (when === 'random') await new Promise((r) => setTimeout(r, 50 + random() * 400));
        c.process.kill('SIGKILL');
        const r = await c.result;
        expect(r.signal).toBe('SIGKILL');
      } finally {
        pause.release();
        hub.faults.delete(weightsSha);
      }
      // What the killed process left (a lock, a partial file) does not stop or spoil the next one.
      await downloadPretrained(REPO, { endpoint: hub.origin, cacheDir, ...FAST });
      expectDownloaded(cacheDir);
    }
  }, 60_000);
});

describe('hostile names never become paths', () => {
  /** A cache inside a folder of its own: nothing may appear beside it. */
  function sandbox(name: string): { outer: string; cacheDir: string } {
    const outer = tmp(name);
    const cacheDir = join(outer, 'cache');
    mkdirSync(cacheDir);
    return { outer, cacheDir };
  }

  function expectContained(outer: string): void {
    expect(readdirSync(outer)).toEqual(['cache']);
    expectConsistent(join(outer, 'cache'));
  }

  it('revisions with "..", separators and reserved names are refused before any request or write', async () => {
    const { outer, cacheDir } = sandbox('rev');
    const before = hub.log.length;
    for (const revision of [
      `a/../../blobs/${'0'.repeat(64)}`,
      'a/../../pwnrev',
      '..',
      '.',
      '../main',
      'main/..',
      'a\\..\\..\\x',
      'CON',
      'a\u0000b',
    ]) {
      await expect(
        downloadPretrained(REPO, { endpoint: hub.origin, cacheDir, revision, ...FAST }),
        revision,
      ).rejects.toThrow(UnsafeNameError);
      // In an id, a backslash makes it a path (no such folder); refused either way.
      await expect(
        downloadPretrained(`${REPO}@${revision}`, { endpoint: hub.origin, cacheDir, ...FAST }),
      ).rejects.toThrow(/refusing revision|no such folder/);
    }
    expect(hub.log.length).toBe(before);
    expectContained(outer);
    // A nested revision of the hub's own form ("refs/pr/1") is a path inside refs/.
    expect(safeRelativePath('refs/pr/1', 'revision')).toBe('refs/pr/1');
  });

  it('ETags ".", "..", with separators or reserved, and an X-Linked-Etag that is no sha256, are refused', async () => {
    const { outer, cacheDir } = sandbox('etag');
    const cases: [string, Record<string, string>][] = [
      ['model.safetensors', { 'x-linked-etag': '"."' }],
      ['model.safetensors', { 'x-linked-etag': '".."' }],
      ['model.safetensors', { 'x-linked-etag': `"../${weightsSha}"` }],
      ['model.safetensors', { 'x-linked-etag': '"not-a-hash"' }],
      ['config.json', { etag: '"."' }],
      ['config.json', { etag: '"a/b"' }],
      ['config.json', { etag: '"NUL"' }],
      ['config.json', { etag: '"..\\\\x"' }],
    ];
    for (const [file, headers] of cases) {
      hub.overrides.set(`${REPO}/${file}`, headers);
      try {
        await expect(
          downloadPretrained(REPO, { endpoint: hub.origin, cacheDir, ...FAST }),
          JSON.stringify(headers),
        ).rejects.toThrow(/refusing|not a sha256/);
      } finally {
        hub.overrides.delete(`${REPO}/${file}`);
      }
    }
    expectContained(outer);
  });

  it('shard names ".", "..", with separators and reserved names in an index are refused before any shard is fetched', async () => {
    const { outer, cacheDir } = sandbox('shard');
    for (const shard of ['.', '..', 'a/./b', 'a//b', 'CON', 'x\u0001.safetensors', 'a/..']) {
      const repo = `org/bad-shard-${createHash('sha1').update(shard).digest('hex').slice(0, 8)}`;
      hub.addCommit(repo, {
        'config.json': files['config.json'],
        'model.safetensors.index.json': {
          data: new TextEncoder().encode(JSON.stringify({ weight_map: { 'embeddings.cls_token': shard } })),
        },
      });
      const before = hub.log.length;
      await expect(
        downloadPretrained(repo, { endpoint: hub.origin, cacheDir, ...FAST }),
        shard,
      ).rejects.toThrow(/refusing shard name/);
      const asked = hub.log.slice(before).map((r) => r.path.split('/resolve/main/')[1]);
      expect(asked).not.toContain(shard);
    }
    expectContained(outer);
  });
});

describe('every body is verified', () => {
  it('an upper-case X-Linked-Etag: a corrupt body is refused, a right one is stored under the lower-case name', async () => {
    const cacheDir = tmp('upper');
    hub.overrides.set(`${REPO}/model.safetensors`, { 'x-linked-etag': `"${weightsSha.toUpperCase()}"` });
    hub.faults.set(weightsSha, { corrupt: true });
    try {
      await expect(downloadPretrained(REPO, { endpoint: hub.origin, cacheDir, ...FAST })).rejects.toThrow(
        VerificationError,
      );
      expectConsistent(cacheDir);
      expect(existsSync(join(cacheDir, 'models--org--tiny-gelu/blobs', weightsSha))).toBe(false);
      hub.faults.delete(weightsSha);
      await downloadPretrained(REPO, { endpoint: hub.origin, cacheDir, ...FAST });
      expectDownloaded(cacheDir);
    } finally {
      hub.overrides.delete(`${REPO}/model.safetensors`);
      hub.faults.delete(weightsSha);
    }
  });

  it('the hash is taken of what is on the disk: bytes changed behind the writer (another writer truncating it) are refused', async () => {
    const cacheDir = tmp('ondisk');
    const cache = new NodeHubCache(cacheDir, REPO);
    const data = new Uint8Array(readFileSync(join(GOLDEN, 'tiny-gelu/model.safetensors')));
    const sink = await cache.blobSink(
      weightsSha,
      { etag: weightsSha, size: data.byteLength },
      'c'.repeat(40),
      'model.safetensors',
      (path) => new NodeFileByteSource(path),
    );
    if ('ready' in sink) throw new Error('a fresh cache has no blob');
    await sink.write(data); // the right bytes went through the writer...
    const blobs = join(cacheDir, 'models--org--tiny-gelu/blobs');
    const temps = readdirSync(blobs).filter((f) => f.endsWith('.incomplete'));
    expect(temps).toHaveLength(1);
    writeFileSync(join(blobs, temps[0]), new Uint8Array(data.byteLength)); // ...but zeros are on the disk
    await expect(sink.commit()).rejects.toThrow(VerificationError);
    expectConsistent(cacheDir);
    expect(existsSync(join(blobs, weightsSha))).toBe(false);
  });

  it('with the cache off, a flipped byte (sha256 of the weights, git sha1 of config.json) fails the download', async () => {
    hub.faults.set(weightsSha, { corrupt: true });
    try {
      await expect(downloadPretrained(REPO, { endpoint: hub.origin, cache: false, ...FAST })).rejects.toThrow(
        /failed verification: sha256 [0-9a-f]{64} differs/,
      );
    } finally {
      hub.faults.delete(weightsSha);
    }
    const config = hub.blob(REPO, 'config.json');
    hub.overrides.set(`${REPO}/config.json`, { etag: `"${'1'.repeat(40)}"` });
    try {
      await expect(downloadPretrained(REPO, { endpoint: hub.origin, cache: false, ...FAST })).rejects.toThrow(
        /failed verification: git blob sha1 [0-9a-f]{40} differs/,
      );
    } finally {
      hub.overrides.delete(`${REPO}/config.json`);
    }
    expect(config.gitSha1).toMatch(/^[0-9a-f]{40}$/);
  });
});

describe('timeouts, retries and resumption', () => {
  it('a server that stalls mid-body fails with a TimeoutError within the timeout, keeping nothing', async () => {
    const cacheDir = tmp('stall');
    const pause = new Pause(); // never released
    hub.faults.set(weightsSha, { pauseAt: 300_000, pause });
    try {
      await expect(
        downloadPretrained(REPO, {
          endpoint: hub.origin,
          cacheDir,
          ...FAST,
          downloadTimeout: 400,
          retries: 1,
        }),
      ).rejects.toThrow(TimeoutError);
    } finally {
      pause.release();
      hub.faults.delete(weightsSha);
    }
    expect(pause.hits).toBe(2); // the first try and one retry, each resumed where the body stopped
    expectConsistent(cacheDir);
    expect(existsSync(join(cacheDir, 'models--org--tiny-gelu/blobs', weightsSha))).toBe(false);
  });

  it('a server that trickles a few bytes at a time fails with a TimeoutError (too little progress per window)', async () => {
    const cacheDir = tmp('trickle');
    hub.faults.set(weightsSha, { trickle: { bytes: 16, everyMs: 50 } });
    try {
      await expect(
        downloadPretrained(REPO, {
          endpoint: hub.origin,
          cacheDir,
          ...FAST,
          downloadTimeout: 400,
          retries: 0,
        }),
      ).rejects.toThrow(/stalled: \d+ bytes in 400 ms/);
    } finally {
      hub.faults.delete(weightsSha);
    }
    expectConsistent(cacheDir);
  });

  it('a slow reader is not a stalled server: pauses between pieces longer than the timeout do not fail it', async () => {
    const source = new HttpByteSource(
      `${hub.cdnOrigin}/cdn/${weightsSha}`,
      { timeout: 300, retries: 0 },
      weightsSize,
    );
    let n = 0;
    let pieces = 0;
    for await (const piece of source.chunks(0)) {
      n += piece.byteLength;
      if (pieces++ < 2) await new Promise((r) => setTimeout(r, 800));
    }
    expect(n).toBe(weightsSize);
  });

  it('a hub that does not answer the metadata request in time: a TimeoutError, then the cache (like huggingface_hub)', async () => {
    const silent = await import('node:net').then(
      (net) =>
        new Promise<import('node:net').Server>((resolve) => {
          const s = net.createServer(() => undefined); // accepts, never answers
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    );
    const port = (silent.address() as import('node:net').AddressInfo).port;
    try {
      await expect(
        downloadPretrained(REPO, {
          endpoint: `http://127.0.0.1:${port}`,
          cacheDir: tmp('silent'),
          ...FAST,
          etagTimeout: 300,
        }),
      ).rejects.toThrow(/did not answer within 300 ms.*not in the cache/);
    } finally {
      silent.close();
    }
  });

  it('a body cut half-way resumes from where it stopped with a Range request; a 503 is retried', async () => {
    const cacheDir = tmp('resume');
    const cut = Math.floor(weightsSize / 2);
    hub.faults.set(weightsSha, { cutAfter: cut, cuts: 1, failFirst: 1 });
    const before = hub.log.length;
    try {
      await downloadPretrained(REPO, { endpoint: hub.origin, cacheDir, ...FAST });
    } finally {
      hub.faults.delete(weightsSha);
    }
    const cdn = hub.log.slice(before).filter((r) => r.path === `/cdn/${weightsSha}`);
    expect(cdn.map((r) => r.status)).toEqual([503, 206, 206]);
    expect(cdn[2].range).toMatch(/^bytes=\d+-$/);
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(cdn[2].range!)![1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThanOrEqual(cut);
    expectDownloaded(cacheDir);
  });

  it('HF_HUB_DOWNLOAD_TIMEOUT and HF_HUB_ETAG_TIMEOUT (seconds) are read, 10 s otherwise', () => {
    const saved = { ...process.env };
    try {
      delete process.env.HF_HUB_DOWNLOAD_TIMEOUT;
      delete process.env.HF_HUB_ETAG_TIMEOUT;
      expect(resolveHubOptions()).toMatchObject({ downloadTimeout: 10_000, etagTimeout: 10_000 });
      process.env.HF_HUB_DOWNLOAD_TIMEOUT = '2.5';
      process.env.HF_HUB_ETAG_TIMEOUT = '3';
      expect(resolveHubOptions()).toMatchObject({ downloadTimeout: 2500, etagTimeout: 3000 });
      expect(resolveHubOptions({ downloadTimeout: 7 }).downloadTimeout).toBe(7);
      process.env.HF_HUB_DOWNLOAD_TIMEOUT = 'soon';
      expect(() => resolveHubOptions()).toThrow(/HF_HUB_DOWNLOAD_TIMEOUT=soon/);
    } finally {
      process.env = saved;
    }
  });

  it('a file size limit (ulimit -f) hit while writing the blob: nothing under the final name, and a fresh download succeeds', async () => {
    const cacheDir = tmp('efbig');
    // 200 blocks of 1 KiB, less than the weights. Node ignores SIGXFSZ so that the write fails with
    // EFBIG; proper-lockfile's signal-exit would re-raise it and kill the process (src/io/lock_node.ts).
    const r = await child(cacheDir, {}, 'ulimit -f 200').result;
    expect(r.signal).toBe(null);
    expect(r.code).toBe(1);
    expect(String(r.lines.at(-1)!.message)).toMatch(
      /cannot write .*blobs\/[0-9a-f]{64} in the Hugging Face cache/,
    );
    expect(existsSync(join(cacheDir, 'models--org--tiny-gelu/blobs', weightsSha))).toBe(false);
    await downloadPretrained(REPO, { endpoint: hub.origin, cacheDir, ...FAST });
    expectDownloaded(cacheDir);
  });
});
