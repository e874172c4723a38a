// What the browser and Node hub code share (src/io/hub.ts picks a CheckpointFiles for a source;
// src/io/hub_node.ts is the Node hub with its cache): the options, hub URLs and ids, and the
// source that writes a download to a sink (a cache entry, or a verifier) as it is read.
import { DEFAULT_TIMEOUT_MS, type HttpOptions } from './http.js';
import type { ByteSource } from './stream.js';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

export interface HubOptions {
  /** Branch, tag or commit; default "main" (or the "@revision" of the id). */
  revision?: string;
  /** Reports bytes as each file is read: (file, loaded, total). */
  progress?: (file: string, loaded: number, total: number) => void;
  signal?: AbortSignal;
  /** Read and fill the cache (default true). */
  cache?: boolean;
  /** The hub or a mirror; default $HF_ENDPOINT, else https://huggingface.co. */
  endpoint?: string;
  /** For private and gated repositories; default $HF_TOKEN. Sent to the endpoint only. */
  token?: string;
  /** Node: the hub cache folder; default $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub. */
  cacheDir?: string;
  /** Use only the cache, never the network; default $HF_HUB_OFFLINE=1. */
  offline?: boolean;
  /** Bytes per read of a local or cached file (default 4 MiB). */
  chunkBytes?: number;
  /** ms a download may go without data (less than 1 KiB in that window) before it fails; default $HF_HUB_DOWNLOAD_TIMEOUT (seconds) or 10 s. */
  downloadTimeout?: number;
  /** ms to wait for a file's metadata (the HEAD request); default $HF_HUB_ETAG_TIMEOUT (seconds) or 10 s. */
  etagTimeout?: number;
  /** Retries of a transient failure (network error, timeout, HTTP 5xx or 429), resuming a cut download where it stopped; default 5. */
  retries?: number;
  /** ms before the first retry, doubling each time up to 8x; default 1000. */
  retryDelay?: number;
  /** Node: ms after which a cache lock its holder stopped refreshing (a killed process) is taken over; default 10000 (at least 2000). */
  lockStale?: number;
}

/** A checkpoint's files, by name. */
export interface CheckpointFiles {
  /** What messages call the checkpoint: "org/name@main", a folder, a URL. */
  readonly label: string;
  /** The file, or undefined when the checkpoint has none by that name. */
  open(file: string): Promise<ByteSource | undefined>;
  /** Node hub: the snapshot folder the files are cached in, once known. */
  readonly location?: string;
  /** Said after "not found" errors: e.g. that only the cache was looked at (offline). */
  readonly note?: string;
}

export type PretrainedSource = string | FileSystemDirectoryHandle | FileList | ArrayLike<File>;

function env(name: string): string | undefined {
  return typeof process !== 'undefined' ? process.env?.[name] || undefined : undefined;
}

export interface ResolvedHubOptions extends HubOptions {
  endpoint: string;
  revision: string;
  cache: boolean;
  offline: boolean;
  downloadTimeout: number;
  etagTimeout: number;
}

/** A timeout in seconds from the environment (as huggingface_hub reads it), in ms. */
function envSeconds(name: string): number | undefined {
  const text = env(name);
  if (text === undefined) return undefined;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new Error(`${name}=${text} is not a number of seconds`);
  return seconds * 1000;
}

export function resolveHubOptions(o: HubOptions = {}): ResolvedHubOptions {
  const offline =
    o.offline ?? ['1', 'ON', 'YES', 'TRUE'].includes((env('HF_HUB_OFFLINE') ?? '').toUpperCase());
  return {
    ...o,
    endpoint: (o.endpoint ?? env('HF_ENDPOINT') ?? DEFAULT_ENDPOINT).replace(/\/+$/, ''),
    token: o.token ?? env('HF_TOKEN') ?? env('HUGGING_FACE_HUB_TOKEN'),
    revision: o.revision ?? 'main',
    cache: o.cache ?? true,
    offline,
    downloadTimeout: o.downloadTimeout ?? envSeconds('HF_HUB_DOWNLOAD_TIMEOUT') ?? DEFAULT_TIMEOUT_MS,
    etagTimeout: o.etagTimeout ?? envSeconds('HF_HUB_ETAG_TIMEOUT') ?? DEFAULT_TIMEOUT_MS,
  };
}

/** The HTTP options of a metadata request ('etag') or of a download. */
export function httpOptions(
  o: ResolvedHubOptions,
  kind: 'etag' | 'download',
  headers: Record<string, string> = {},
): HttpOptions {
  return {
    headers,
    signal: o.signal,
    timeout: kind === 'etag' ? o.etagTimeout : o.downloadTimeout,
    retries: o.retries,
    retryDelay: o.retryDelay,
  };
}

/** "org/name" or "name", as the hub spells repository ids. */
export const REPO_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*(\/[A-Za-z0-9][A-Za-z0-9_.-]*)?$/;

/** "org/name@rev" -> { repo, revision } */
export function parseRepoId(id: string): { repo: string; revision?: string } {
  const at = id.indexOf('@');
  const repo = at < 0 ? id : id.slice(0, at);
  const revision = at < 0 ? undefined : id.slice(at + 1);
  if (!REPO_ID.test(repo) || repo.includes('--') || repo.includes('..') || revision === '') {
    throw new Error(
      `${JSON.stringify(id)} is not a hub id (org/name, optionally @revision), an http(s) URL or a folder`,
    );
  }
  return { repo, revision };
}

/** A file name inside the checkpoint, as a URL path: each segment escaped. */
export function urlPath(file: string): string {
  return file.split('/').map(encodeURIComponent).join('/');
}

export function authHeaders(token: string | undefined): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** The hub's resolve URL of a file. */
export function resolveUrl(endpoint: string, repo: string, revision: string, file: string): string {
  return `${endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${urlPath(file)}`;
}

/** A place downloads are written to while they are read: committed once complete and verified. */
export interface BlobSink {
  write(bytes: Uint8Array): Promise<void>;
  /** Verifies what was written (and stores it); throws when it differs from what was announced. */
  commit(): Promise<void>;
  abort(reason?: unknown): Promise<void>;
}

/** What a sink factory gives: a sink to fill, or the file another writer completed while this one waited for the lock. */
export type SinkOrReady = BlobSink | { ready: ByteSource };

/**
 * A remote file that is written to a sink (a cache entry, a verifier) as it is read. The header
 * bytes read first (head) are written ahead of the data; a read that does not reach the end, for
 * whatever reason, aborts the sink, so the cache keeps nothing of it; a body the sink refuses at
 * the end (size, hash) throws from the last read, so the load that used it fails.
 */
export class CachingByteSource implements ByteSource {
  constructor(
    private readonly remote: ByteSource,
    private readonly createSink: (signal?: AbortSignal) => Promise<SinkOrReady>,
  ) {}

  get name(): string {
    return this.remote.name;
  }

  head(n: number, signal?: AbortSignal) {
    return this.remote.head(n, signal);
  }

  async *chunks(offset: number, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
    const made = await this.createSink(signal);
    if ('ready' in made) {
      yield* made.ready.chunks(offset, signal);
      return;
    }
    const sink = made;
    let done = false;
    try {
      if (offset > 0) {
        const { bytes } = await this.remote.head(offset, signal);
        if (bytes.byteLength < offset)
          throw new Error(`${this.name}: only ${bytes.byteLength} bytes before offset ${offset}`);
        await sink.write(bytes.subarray(0, offset));
      }
      for await (const piece of this.remote.chunks(offset, signal)) {
        await sink.write(piece);
        yield piece;
      }
      done = true;
      await sink.commit();
    } finally {
      if (!done) await sink.abort(signal?.reason);
    }
  }
}
