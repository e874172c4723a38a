// Where a pretrained checkpoint's files come from. `source` is
//   - a hub id, "facebook/dinov2-with-registers-small" (optionally "@revision"), fetched from
//     {endpoint}/{repo}/resolve/{revision}/{file} (endpoint: options, $HF_ENDPOINT, https://huggingface.co),
//   - an http(s) URL of a folder holding the files,
//   - a local folder (Node),
//   - a FileSystemDirectoryHandle, or a FileList / File[] from <input type=file webkitdirectory> (browser).
// Each gives a CheckpointFiles: open(file) is a ByteSource, or undefined where the file does not
// exist. Downloads are cached (Node: huggingface_hub's layout, src/io/cache_node.ts; browser: the
// Cache API, src/io/cache_browser.ts) through CachingByteSource, which writes each piece as the
// reader takes it. Node-only modules are imported lazily so the browser bundle never loads them.
import { cacheAbsent, CacheEntryWriter, cacheApiAvailable, cachedFile } from './cache_browser.js';
import { request, statusError, HttpByteSource } from './http.js';
import { BlobByteSource, type ByteSource } from './stream.js';
import { isNode } from '../platform.js';

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
  commit(): Promise<void>;
  abort(reason?: unknown): Promise<void>;
}

/**
 * A remote file that is written to the cache as it is read. The header bytes read first (head)
 * are written ahead of the data; a read that does not reach the end, for whatever reason, aborts
 * the sink, so the cache keeps nothing of it.
 */
export class CachingByteSource implements ByteSource {
  constructor(
    private readonly remote: ByteSource,
    private readonly createSink: () => Promise<BlobSink>,
  ) {}

  get name(): string {
    return this.remote.name;
  }

  head(n: number, signal?: AbortSignal) {
    return this.remote.head(n, signal);
  }

  async *chunks(offset: number, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
    const sink = await this.createSink();
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
      await sink.commit();
      done = true;
    } finally {
      if (!done) await sink.abort(signal?.reason);
    }
  }
}

/** Files under an http(s) folder URL (a hub's resolve URL in the browser, or any static server). */
export class HttpFolder implements CheckpointFiles {
  constructor(
    private readonly base: string,
    readonly label: string,
    private readonly options: ResolvedHubOptions,
    /** Cache in the browser's Cache API, keyed by the file's URL. */
    private readonly browserCache: boolean,
  ) {}

  async open(file: string): Promise<ByteSource | undefined> {
    const url = `${this.base}/${urlPath(file)}`;
    const { signal, chunkBytes } = this.options;
    if (this.browserCache) {
      const hit = await cachedFile(url, chunkBytes);
      if (hit === 'absent') return undefined;
      if (hit) return hit;
    }
    if (this.options.offline)
      throw new Error(`${this.label}: ${file} is not cached and the network is off (offline)`);
    const headers = url.startsWith(`${this.options.endpoint}/`) ? authHeaders(this.options.token) : {};
    const res = await request(url, { method: 'HEAD', headers }, signal);
    if (res.status === 404) {
      if (this.browserCache && (res.headers.get('x-error-code') ?? 'EntryNotFound') === 'EntryNotFound')
        await cacheAbsent(url);
      return undefined;
    }
    if (!res.ok) throw statusError(res, url, `${this.label}: ${file}`);
    // Content-Length only counts the file when the response is not compressed.
    const encoded = !['', 'identity'].includes(res.headers.get('content-encoding') ?? '');
    const size = Number(
      res.headers.get('x-linked-size') ?? (encoded ? null : res.headers.get('content-length')) ?? NaN,
    );
    const known = Number.isSafeInteger(size) ? size : undefined;
    const remote = new HttpByteSource(url, { headers, signal }, known);
    if (!this.browserCache) return remote;
    const etag = (res.headers.get('x-linked-etag') ?? res.headers.get('etag') ?? '')
      .replace(/^W\//, '')
      .replace(/"/g, '');
    const sha256 = /^[0-9a-f]{64}$/.test(etag) ? etag : undefined;
    const commit = res.headers.get('x-repo-commit');
    return new CachingByteSource(remote, () =>
      CacheEntryWriter.create(url, known, sha256, commit ? { 'x-repo-commit': commit } : {}),
    );
  }
}

/** A FileSystemDirectoryHandle (showDirectoryPicker): files by path, read as Blobs. */
export class DirectoryHandleFiles implements CheckpointFiles {
  constructor(
    private readonly dir: FileSystemDirectoryHandle,
    private readonly chunkBytes?: number,
  ) {}

  get label(): string {
    return this.dir.name;
  }

  async open(file: string): Promise<ByteSource | undefined> {
    const parts = file.split('/');
    let dir = this.dir;
    try {
      for (const p of parts.slice(0, -1)) dir = await dir.getDirectoryHandle(p);
      const handle = await dir.getFileHandle(parts[parts.length - 1]);
      return new BlobByteSource(`${this.dir.name}/${file}`, await handle.getFile(), this.chunkBytes);
    } catch (e) {
      if ((e as DOMException).name === 'NotFoundError' || (e as DOMException).name === 'TypeMismatchError')
        return undefined;
      throw e;
    }
  }
}

/**
 * Files picked by the user (<input type=file multiple> or webkitdirectory): a file matches by its
 * path inside the picked folder (webkitRelativePath without the folder's own name) or its name.
 */
export class FileListFiles implements CheckpointFiles {
  private readonly byPath = new Map<string, File>();
  readonly label: string;

  constructor(
    files: ArrayLike<File>,
    private readonly chunkBytes?: number,
  ) {
    const list = Array.from(files);
    for (const f of list) {
      const rel = (f as File & { webkitRelativePath?: string }).webkitRelativePath;
      const path = rel ? rel.split('/').slice(1).join('/') : f.name;
      this.byPath.set(path, f);
      if (!this.byPath.has(f.name)) this.byPath.set(f.name, f);
    }
    const first = (
      list[0] as (File & { webkitRelativePath?: string }) | undefined
    )?.webkitRelativePath?.split('/')[0];
    this.label = first || `${list.length} files`;
  }

  async open(file: string): Promise<ByteSource | undefined> {
    const f = this.byPath.get(file);
    return f ? new BlobByteSource(`${this.label}/${file}`, f, this.chunkBytes) : undefined;
  }
}

function isDirectoryHandle(v: unknown): v is FileSystemDirectoryHandle {
  return (
    typeof v === 'object' &&
    v !== null &&
    (v as FileSystemDirectoryHandle).kind === 'directory' &&
    typeof (v as FileSystemDirectoryHandle).getFileHandle === 'function'
  );
}

/** The CheckpointFiles for `source` (see the top of this file). */
export async function checkpointFiles(
  source: PretrainedSource,
  options: HubOptions = {},
): Promise<CheckpointFiles> {
  const o = resolveHubOptions(options);
  if (isDirectoryHandle(source)) return new DirectoryHandleFiles(source, o.chunkBytes);
  if (typeof source !== 'string') return new FileListFiles(source, o.chunkBytes);
  const browserCache = !isNode() && o.cache && cacheApiAvailable();
  if (/^https?:\/\//i.test(source)) {
    const base = source.replace(/\/+$/, '');
    return new HttpFolder(base, base, o, browserCache);
  }
  if (isNode()) {
    const node = await import('./hub_node.js');
    const local = await node.localFolder(source, o.chunkBytes);
    if (local) return local;
    const { repo, revision } = parseRepoId(source);
    return new node.NodeHubRepo(repo, { ...o, revision: revision ?? o.revision });
  }
  const { repo, revision } = parseRepoId(source);
  const rev = revision ?? o.revision;
  return new HttpFolder(
    `${o.endpoint}/${repo}/resolve/${encodeURIComponent(rev)}`,
    `${repo}@${rev}`,
    o,
    browserCache,
  );
}
