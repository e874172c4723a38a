// Where a pretrained checkpoint's files come from. `source` is
//   - a hub id, "facebook/dinov2-with-registers-small" (optionally "@revision"), fetched from
//     {endpoint}/{repo}/resolve/{revision}/{file} (endpoint: options, $HF_ENDPOINT, https://huggingface.co),
//   - an http(s) URL of a folder holding the files,
//   - a local folder (Node),
//   - a FileSystemDirectoryHandle, or a FileList / File[] from <input type=file webkitdirectory> (browser).
// Each gives a CheckpointFiles: open(file) is a ByteSource, or undefined where the file does not
// exist. Downloads are cached (Node: huggingface_hub's layout, src/io/cache_node.ts; browser: the
// Cache API, src/io/cache_browser.ts) through CachingByteSource, which writes each piece as the
// reader takes it. Local folders and the Node cache come from the Node platform (src/platform.ts),
// so the browser bundle holds none of their code.
import { cacheAbsent, CacheEntryWriter, cacheApiAvailable, cachedFile } from './cache_browser.js';
import { HttpByteSource, request, statusError, withRetries } from './http.js';
import {
  authHeaders,
  CachingByteSource,
  type CheckpointFiles,
  type HubOptions,
  httpOptions,
  parseRepoId,
  type PretrainedSource,
  type ResolvedHubOptions,
  resolveHubOptions,
  urlPath,
} from './hub_common.js';
import { Sha256 } from './sha256.js';
import { isNode, nodePlatform } from '../platform.js';
import { BlobByteSource, type ByteSource } from './stream.js';
import { isSha256, normalizeEtag, VerifySink } from './verify.js';

export {
  authHeaders,
  CachingByteSource,
  type CheckpointFiles,
  DEFAULT_ENDPOINT,
  type HubOptions,
  parseRepoId,
  type PretrainedSource,
  REPO_ID,
  type ResolvedHubOptions,
  resolveHubOptions,
  resolveUrl,
  urlPath,
} from './hub_common.js';

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
    if (this.browserCache) {
      const hit = await cachedFile(url, this.options.chunkBytes);
      if (hit === 'absent') return undefined;
      if (hit) return hit;
    }
    if (this.options.offline)
      throw new Error(`${this.label}: ${file} is not cached and the network is off (offline)`);
    const headers = url.startsWith(`${this.options.endpoint}/`) ? authHeaders(this.options.token) : {};
    const etagOptions = httpOptions(this.options, 'etag', headers);
    const res = await withRetries(etagOptions, async () => {
      const r = await request(url, { method: 'HEAD', headers }, etagOptions);
      if (r.status >= 500 || r.status === 429) throw statusError(r, url, `${this.label}: ${file}`);
      return r;
    });
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
    const remote = new HttpByteSource(url, httpOptions(this.options, 'download', headers), known);
    const etag = normalizeEtag(res.headers.get('x-linked-etag') ?? res.headers.get('etag'));
    // A server's ETag is a content hash only when it looks like one (the hub's LFS files, mirrors of them).
    const sha256 = isSha256(etag) ? etag : undefined;
    if (!this.browserCache) {
      if (!sha256 && known === undefined) return remote;
      return new CachingByteSource(
        remote,
        async () => new VerifySink(url, { etag: sha256 ?? '', size: known }, { sha256: () => new Sha256() }),
      );
    }
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
  const node = nodePlatform();
  if (node) return node.checkpointFiles(source, o);
  const { repo, revision } = parseRepoId(source);
  const rev = revision ?? o.revision;
  return new HttpFolder(
    `${o.endpoint}/${repo}/resolve/${encodeURIComponent(rev)}`,
    `${repo}@${rev}`,
    o,
    browserCache,
  );
}
