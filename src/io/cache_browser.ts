// The browser's cache of downloaded checkpoint files: the Cache API, one entry per file, keyed by
// the URL that names repository, revision and file ({endpoint}/{repo}/resolve/{revision}/{file},
// or the file's URL under a plain folder URL). An entry is written by cache.put() from a stream
// the download feeds piece by piece, and closed only after the size and (when the server gave
// one) the sha256 are checked; a broken or aborted download errors that stream, so cache.put()
// stores nothing, and the key is deleted besides.
import { Sha256 } from './sha256.js';
import { BlobByteSource, type ByteSource } from './stream.js';
import { VerificationError, Verifier } from './verify.js';

export const BROWSER_CACHE_NAME = 'dinov2-webgpu';

export function cacheApiAvailable(): boolean {
  return typeof caches !== 'undefined' && typeof caches.open === 'function';
}

/**
 * A cached file as a ByteSource (the Blob of a cached Response is read a slice at a time);
 * 'absent' when the server said it has no such file (a cached 404, like huggingface_hub's .no_exist).
 */
export async function cachedFile(
  key: string,
  chunkBytes?: number,
): Promise<ByteSource | 'absent' | undefined> {
  if (!cacheApiAvailable()) return undefined;
  const cache = await caches.open(BROWSER_CACHE_NAME);
  const hit = await cache.match(key);
  if (!hit) return undefined;
  if (hit.status === 404) return 'absent';
  return new BlobByteSource(key, await hit.blob(), chunkBytes);
}

/** Remembers that the server has no file at `key` (optional files are then not asked for again). */
export async function cacheAbsent(key: string): Promise<void> {
  if (!cacheApiAvailable()) return;
  await (await caches.open(BROWSER_CACHE_NAME)).put(
    key,
    new Response(null, { status: 404, statusText: 'absent' }),
  );
}

/** Removes every file this library cached (or those whose key starts with `prefix`). */
export async function clearBrowserCache(prefix?: string): Promise<number> {
  if (!cacheApiAvailable()) return 0;
  if (prefix === undefined) return (await caches.delete(BROWSER_CACHE_NAME)) ? 1 : 0;
  const cache = await caches.open(BROWSER_CACHE_NAME);
  let n = 0;
  for (const req of await cache.keys()) {
    if (req.url.startsWith(prefix) && (await cache.delete(req))) n++;
  }
  return n;
}

/** Feeds one cache entry; commit() stores it, abort() leaves nothing. */
export class CacheEntryWriter {
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private put!: Promise<void>;
  private failed: unknown;
  private wake: (() => void) | undefined;
  private readonly verifier: Verifier;
  private settled = false;

  private constructor(
    readonly key: string,
    size: number | undefined,
    sha256: string | undefined,
  ) {
    this.verifier = new Verifier({ size, etag: sha256 ?? '' }, { sha256: () => new Sha256() });
  }

  static async create(
    key: string,
    size: number | undefined,
    sha256: string | undefined,
    headers: Record<string, string> = {},
  ): Promise<CacheEntryWriter> {
    const w = new CacheEntryWriter(key, size, sha256);
    const cache = await caches.open(BROWSER_CACHE_NAME);
    const body = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          w.controller = c;
        },
        pull: () => {
          w.wake?.();
        },
      },
      new ByteLengthQueuingStrategy({ highWaterMark: 2 ** 20 }),
    );
    const responseHeaders: Record<string, string> = {
      'content-type': 'application/octet-stream',
      ...headers,
    };
    if (size !== undefined) responseHeaders['content-length'] = String(size);
    w.put = cache.put(key, new Response(body, { headers: responseHeaders })).catch((e) => {
      w.failed ??= e;
      w.wake?.();
      throw e;
    });
    w.put.catch(() => undefined);
    return w;
  }

  /** Queues a piece; waits while the cache is behind (so pieces never pile up in memory). */
  async write(bytes: Uint8Array): Promise<void> {
    if (this.failed)
      throw new Error(
        `the browser cache refused ${this.key}: ${(this.failed as Error).message ?? this.failed}`,
      );
    this.controller.enqueue(bytes);
    this.verifier.update(bytes);
    while ((this.controller.desiredSize ?? 1) <= 0 && !this.failed) {
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }

  async commit(): Promise<void> {
    const problem = this.verifier.problem();
    if (problem) {
      const error = new VerificationError(
        `download of ${this.key} failed verification: ${problem}; it was not cached`,
      );
      await this.abort(error);
      throw error;
    }
    this.settled = true;
    this.controller.close();
    await this.put;
  }

  async abort(reason: unknown = new Error('download interrupted')): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    try {
      this.controller.error(reason);
    } catch {
      // already errored or closed
    }
    await this.put.catch(() => undefined);
    await (await caches.open(BROWSER_CACHE_NAME)).delete(this.key).catch(() => undefined);
  }
}
