// The hub from Node, as Python's huggingface_hub does it, sharing its cache (src/io/cache_node.ts):
// a HEAD of {endpoint}/{repo}/resolve/{revision}/{file} without following the redirect gives the
// commit (X-Repo-Commit), the content hash (X-Linked-Etag for LFS files, else ETag), the size
// (X-Linked-Size, else Content-Length) and where the bytes are (Location: the CDN); the bytes come
// from there (no token sent to another host). Once one file has named the commit, the others are
// looked up in that commit's snapshot first, so a cached checkpoint costs one HEAD request; offline
// ($HF_HUB_OFFLINE=1, or when the hub cannot be reached) refs/{revision} names the snapshot.
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { hubCacheDir, NODE_HASHERS, NodeFileByteSource, NodeHubCache } from './cache_node.js';
import {
  HttpByteSource,
  HttpError,
  isTransient,
  NetworkError,
  request,
  statusError,
  withRetries,
} from './http.js';
import {
  authHeaders,
  CachingByteSource,
  type CheckpointFiles,
  httpOptions,
  type ResolvedHubOptions,
  resolveUrl,
} from './hub_common.js';
import { safeComponent, safeRelativePath } from './names.js';
import type { ByteSource } from './stream.js';
import { isSha256, normalizeEtag, VerifySink } from './verify.js';

/** A local checkpoint folder, or undefined when `path` is no folder (then it may be a hub id). */
export async function localFolder(path: string, chunkBytes?: number): Promise<CheckpointFiles | undefined> {
  const st = await stat(path).catch(() => undefined);
  if (!st) {
    if (/^(\.{1,2}|~)?[\\/]/.test(path) || path.includes('\\') || /^\.{1,2}$/.test(path))
      throw new Error(`${path}: no such folder`);
    return undefined;
  }
  if (!st.isDirectory())
    throw new Error(`${path} is a file; give the folder that holds config.json and the weights`);
  const dir = resolve(path);
  return {
    label: path,
    location: dir,
    async open(file: string): Promise<ByteSource | undefined> {
      const full = resolve(dir, file);
      const fst = await stat(full).catch(() => undefined);
      return fst?.isFile() ? new NodeFileByteSource(full, chunkBytes) : undefined;
    },
  };
}

interface FileMetadata {
  commit: string;
  etag: string;
  size: number | undefined;
  /** Where to GET the bytes: the CDN location, or the resolve URL itself. */
  url: string;
}

const COMMIT = /^[0-9a-f]{40}$/;

export class NodeHubRepo implements CheckpointFiles {
  readonly cache: NodeHubCache;
  /** The commit the revision resolved to, once a file has said. */
  commit: string | undefined;
  /** Why files were taken from the cache alone (offline), for error messages. */
  note: string | undefined;

  constructor(
    readonly repo: string,
    private readonly options: ResolvedHubOptions,
  ) {
    safeRelativePath(options.revision, 'revision');
    this.cache = new NodeHubCache(options.cacheDir ?? hubCacheDir(), repo, { lockStale: options.lockStale });
  }

  get label(): string {
    return `${this.repo}@${this.options.revision}`;
  }

  get location(): string | undefined {
    return this.commit ? this.cache.snapshotDir(this.commit) : undefined;
  }

  private local(path: string): ByteSource {
    return new NodeFileByteSource(path, this.options.chunkBytes);
  }

  /**
   * The cached file for the revision, without the network. A snapshot that lacks the file is taken
   * to say it does not exist (as transformers does offline for optional files); with no snapshot
   * at all for the revision, that is the error.
   */
  private async fromCache(file: string, why: string): Promise<ByteSource | undefined> {
    const commit = this.commit ?? (await this.cache.commitFor(this.options.revision));
    if (commit && (await this.cache.hasSnapshot(commit))) {
      this.commit = commit;
      this.note = `${why}: only the cached snapshot ${this.location} was looked at`;
      const path = await this.cache.cached(commit, file);
      return path ? this.local(path) : undefined;
    }
    throw new Error(`${why}, and ${this.label} is not in the cache (${this.cache.dir})`);
  }

  async open(file: string): Promise<ByteSource | undefined> {
    const { cache, revision } = this.options;
    if (cache && this.options.offline) return this.fromCache(file, 'offline (HF_HUB_OFFLINE)');
    if (cache && this.commit) {
      const path = await this.cache.cached(this.commit, file);
      if (path) return this.local(path);
      if (await this.cache.knownMissing(this.commit, file)) return undefined;
    }
    let meta: FileMetadata | { missing: true; commit?: string };
    try {
      meta = await this.metadata(file);
    } catch (e) {
      if (cache && e instanceof NetworkError) return this.fromCache(file, e.message);
      throw e;
    }
    if ('missing' in meta) {
      if (cache && meta.commit) await this.cache.markMissing(meta.commit, file);
      return undefined;
    }
    this.commit ??= meta.commit;
    const headers =
      new URL(meta.url).origin === new URL(this.options.endpoint).origin
        ? authHeaders(this.options.token)
        : {};
    const remote = new HttpByteSource(meta.url, httpOptions(this.options, 'download', headers), meta.size);
    const { commit, etag, size } = meta;
    const what = `${this.label}/${file}`;
    if (!cache)
      return new CachingByteSource(remote, async () => new VerifySink(what, { etag, size }, NODE_HASHERS));
    await this.cache.writeRef(revision, commit, this.options.signal);
    const cached = await this.cache.cached(commit, file);
    if (cached) return this.local(cached);
    if (await this.cache.hasBlob(etag)) return this.local(await this.cache.link(commit, file, etag));
    return new CachingByteSource(remote, (signal) =>
      this.cache.blobSink(etag, { etag, size }, commit, file, (path) => this.local(path), signal),
    );
  }

  /** HEAD the resolve URL, following only relative redirects (renamed repositories), like huggingface_hub. */
  private async metadata(file: string): Promise<FileMetadata | { missing: true; commit?: string }> {
    const { endpoint, revision, token } = this.options;
    let url = resolveUrl(endpoint, this.repo, revision, file);
    const what = `${this.label}: ${file}`;
    const headers = { ...authHeaders(token), 'accept-encoding': 'identity' };
    const options = httpOptions(this.options, 'etag', headers);
    for (let hops = 0; ; hops++) {
      // A busy hub (5xx, 429) is asked again; a network failure or timeout is not: the cache answers then, as in huggingface_hub.
      const res = await withRetries(
        options,
        async () => {
          const r = await request(url, { method: 'HEAD', headers, redirect: 'manual' }, options);
          if (r.status >= 500 || r.status === 429) throw statusError(r, url, what);
          return r;
        },
        (e) => e instanceof HttpError && isTransient(e),
      );
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        const next = new URL(location, url);
        const relative = !/^[a-z][a-z0-9+.-]*:/i.test(location);
        if (relative && hops < 10) {
          url = next.href;
          continue;
        }
        return this.describe(res, next.href, what);
      }
      if (res.status === 404) {
        const code = res.headers.get('x-error-code');
        if (code && code !== 'EntryNotFound')
          throw new HttpError(notFoundMessage(code, this.repo, revision, endpoint), url, 404, code);
        return {
          missing: true,
          commit: COMMIT.test(res.headers.get('x-repo-commit') ?? '')
            ? res.headers.get('x-repo-commit')!
            : undefined,
        };
      }
      if (!res.ok) throw statusError(res, url, what);
      return this.describe(res, url, what);
    }
  }

  private describe(res: Response, url: string, what: string): FileMetadata {
    const commit = res.headers.get('x-repo-commit') ?? '';
    const linked = res.headers.get('x-linked-etag');
    const etag = normalizeEtag(linked ?? res.headers.get('etag'));
    const sizeText = res.headers.get('x-linked-size') ?? res.headers.get('content-length');
    if (!COMMIT.test(commit) || !etag) {
      throw new Error(
        `${what}: ${res.url || url} answered without X-Repo-Commit and ETag; is ${this.options.endpoint} a Hugging Face hub?`,
      );
    }
    // An LFS file (X-Linked-Etag) is named and checked by its sha256: anything else cannot be verified.
    if (linked !== null && !isSha256(etag))
      throw new Error(
        `${what}: the hub's X-Linked-Etag ${JSON.stringify(etag)} is not a sha256; refusing a file that cannot be verified`,
      );
    safeComponent(etag, `${what}: ETag`);
    const size = sizeText === null ? undefined : Number(sizeText);
    if (size !== undefined && !(Number.isSafeInteger(size) && size >= 0))
      throw new Error(`${what}: the hub announced a size of ${JSON.stringify(sizeText)}`);
    return { commit, etag, size, url };
  }
}

function notFoundMessage(code: string, repo: string, revision: string, endpoint: string): string {
  if (code === 'RepoNotFound')
    return `${repo}: no such repository on ${endpoint} (or it is private: pass a token, or set HF_TOKEN)`;
  if (code === 'RevisionNotFound') return `${repo}: no revision ${revision}`;
  return `${repo}@${revision}: HTTP 404 ${code}`;
}
