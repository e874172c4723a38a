// The Hugging Face cache on disk, laid out as Python's huggingface_hub lays it out, so that files
// either side downloaded are reused by the other:
//   $HF_HUB_CACHE (default $HF_HOME/hub, HF_HOME default ~/.cache/huggingface)
//     models--{org}--{name}/
//       blobs/{etag}                        the file's bytes, named by the hub's ETag (sha256 for LFS files)
//       blobs/{etag}.incomplete             a download under way; never read as a file
//       snapshots/{commit}/{file}  ->  ../../blobs/{etag}   (relative symlink)
//       refs/{revision}                     the commit a branch or tag pointed at (no newline)
//       .no_exist/{commit}/{file}           empty: the file is known not to exist at that commit
// A download is written to blobs/{etag}.incomplete, checked against the hub's sha256 (or git blob
// sha1 for small files) and size, then renamed; on any failure the partial file is removed, so
// the cache never holds a partial file under its final name. Node only (imported lazily).
import { createHash } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import {
  access,
  lstat,
  mkdir,
  open,
  readFile,
  readlink,
  rename,
  rm,
  symlink,
  unlink,
  writeFile,
  type FileHandle,
} from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import type { ByteSource } from './stream.js';
import { DEFAULT_CHUNK_BYTES } from './stream.js';

/** $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub. */
export function hubCacheDir(env: Record<string, string | undefined> = process.env): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  const home = env.HF_HOME ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'huggingface');
  return join(home, 'hub');
}

/** huggingface_hub's repo_folder_name: "models--org--name". */
export function repoFolderName(repoId: string): string {
  return ['models', ...repoId.split('/')].join('--');
}

const exists = (path: string) =>
  access(path, fsConstants.F_OK).then(
    () => true,
    () => false,
  );

/** A local file read a piece at a time into one reused buffer (a piece is valid until the next is asked for). */
export class NodeFileByteSource implements ByteSource {
  constructor(
    readonly name: string,
    private readonly chunkBytes = DEFAULT_CHUNK_BYTES,
  ) {}

  async head(n: number): Promise<{ bytes: Uint8Array; size: number }> {
    const fh = await open(this.name, 'r');
    try {
      const size = (await fh.stat()).size;
      const bytes = new Uint8Array(Math.min(n, size));
      let at = 0;
      while (at < bytes.byteLength) {
        const { bytesRead } = await fh.read(bytes, at, bytes.byteLength - at, at);
        if (bytesRead === 0) break;
        at += bytesRead;
      }
      return { bytes: bytes.subarray(0, at), size };
    } finally {
      await fh.close();
    }
  }

  async *chunks(offset: number, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
    const fh = await open(this.name, 'r');
    try {
      const size = (await fh.stat()).size;
      const buffer = new Uint8Array(Math.min(this.chunkBytes, Math.max(1, size - offset)));
      for (let at = offset; at < size; ) {
        signal?.throwIfAborted();
        const { bytesRead } = await fh.read(buffer, 0, Math.min(buffer.byteLength, size - at), at);
        if (bytesRead === 0) throw new Error(`${this.name}: the file ended at byte ${at} of ${size}`);
        at += bytesRead;
        yield buffer.subarray(0, bytesRead);
      }
    } finally {
      await fh.close();
    }
  }
}

/** What a completed download must match: the hub's ETag names the content hash. */
export interface Expected {
  size?: number;
  /** The normalised ETag: 64 hex digits = sha256 of the file (LFS), 40 = git blob sha1. */
  etag: string;
}

/** huggingface_hub's _normalize_etag: no weak prefix, no quotes. */
export function normalizeEtag(etag: string | null | undefined): string | undefined {
  if (!etag) return undefined;
  return etag.replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}

/** Verifies and stores a blob; made by NodeHubCache.writer. */
export class BlobWriter {
  private fh: FileHandle | undefined;
  private written = 0;
  private readonly sha256 = createHash('sha256');
  private sha1: ReturnType<typeof createHash> | undefined;
  private settled = false;

  constructor(
    readonly path: string,
    private readonly expected: Expected,
    private readonly onCommit: () => Promise<void>,
    private readonly cacheRoot: string,
  ) {}

  async start(): Promise<this> {
    await mkdir(dirname(this.path), { recursive: true });
    // 'w' truncates what an earlier, broken download left.
    this.fh = await open(`${this.path}.incomplete`, 'w').catch((e) => {
      throw this.diskError(e);
    });
    if (/^[0-9a-f]{40}$/.test(this.expected.etag) && this.expected.size !== undefined) {
      this.sha1 = createHash('sha1').update(`blob ${this.expected.size}\0`);
    }
    return this;
  }

  private diskError(e: unknown): Error {
    const code = (e as NodeJS.ErrnoException).code;
    const what =
      code === 'ENOSPC'
        ? 'no space left on the device'
        : code === 'EDQUOT'
          ? 'disk quota exceeded'
          : code === 'EACCES' || code === 'EPERM'
            ? 'permission denied'
            : (e as Error).message;
    return new Error(
      `cannot write ${this.path}.incomplete in the Hugging Face cache (${this.cacheRoot}): ${what}; the partial file was removed`,
    );
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (!this.fh) throw new Error('BlobWriter.start() first');
    try {
      let at = 0;
      while (at < bytes.byteLength) {
        const { bytesWritten } = await this.fh.write(bytes, at, bytes.byteLength - at);
        at += bytesWritten;
      }
    } catch (e) {
      await this.abort();
      throw this.diskError(e);
    }
    this.written += bytes.byteLength;
    this.sha256.update(bytes);
    this.sha1?.update(bytes);
  }

  /** Checks size and hash, renames into place, links the snapshot. A mismatch removes the file. */
  async commit(): Promise<void> {
    const { size, etag } = this.expected;
    let problem: string | undefined;
    if (size !== undefined && this.written !== size)
      problem = `${this.written} bytes arrived, the hub announced ${size}`;
    else if (/^[0-9a-f]{64}$/.test(etag)) {
      const got = this.sha256.digest('hex');
      if (got !== etag) problem = `sha256 ${got} differs from the hub's ${etag}`;
    } else if (this.sha1) {
      const got = this.sha1.digest('hex');
      if (got !== etag) problem = `git blob sha1 ${got} differs from the hub's ${etag}`;
    }
    if (problem) {
      await this.abort();
      throw new Error(`download of ${this.path} failed verification: ${problem}; the file was not kept`);
    }
    try {
      await this.fh!.sync();
      await this.fh!.close();
      this.fh = undefined;
      await rename(`${this.path}.incomplete`, this.path);
    } catch (e) {
      await this.abort();
      throw this.diskError(e);
    }
    this.settled = true;
    await this.onCommit();
  }

  /** Removes the partial file (safe to call more than once). */
  async abort(): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    await this.fh?.close().catch(() => undefined);
    this.fh = undefined;
    await rm(`${this.path}.incomplete`, { force: true }).catch(() => undefined);
  }
}

/** One repository's folder in the cache. */
export class NodeHubCache {
  readonly dir: string;

  constructor(
    readonly root: string,
    readonly repoId: string,
  ) {
    this.dir = join(root, repoFolderName(repoId));
  }

  private inside(...parts: string[]): string {
    const path = join(this.dir, ...parts);
    if (!path.startsWith(this.dir + sep))
      throw new Error(`refusing a cache path outside ${this.dir}: ${parts.join('/')}`);
    return path;
  }

  /** The commit `revision` names: itself when it is a commit hash, else refs/{revision}. */
  async commitFor(revision: string): Promise<string | undefined> {
    if (/^[0-9a-f]{40}$/.test(revision)) return revision;
    try {
      const commit = (await readFile(this.inside('refs', revision), 'utf8')).trim();
      return /^[0-9a-f]{40}$/.test(commit) ? commit : undefined;
    } catch {
      return undefined;
    }
  }

  async writeRef(revision: string, commit: string): Promise<void> {
    if (revision === commit) return;
    const path = this.inside('refs', revision);
    const current = await readFile(path, 'utf8').catch(() => undefined);
    if (current?.trim() === commit) return;
    await mkdir(dirname(path), { recursive: true });
    await writeFile(`${path}.tmp`, commit);
    await rename(`${path}.tmp`, path);
  }

  snapshotPath(commit: string, file: string): string {
    return this.inside('snapshots', commit, file);
  }

  blobPath(etag: string): string {
    return this.inside('blobs', etag);
  }

  /** The snapshot's file when it is there and readable (a dangling link is not). */
  async cached(commit: string, file: string): Promise<string | undefined> {
    const path = this.snapshotPath(commit, file);
    return (await exists(path)) ? path : undefined;
  }

  async hasSnapshot(commit: string): Promise<boolean> {
    return exists(this.inside('snapshots', commit));
  }

  async knownMissing(commit: string, file: string): Promise<boolean> {
    return exists(this.inside('.no_exist', commit, file));
  }

  async markMissing(commit: string, file: string): Promise<void> {
    const path = this.inside('.no_exist', commit, file);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, '');
  }

  async hasBlob(etag: string): Promise<boolean> {
    return exists(this.blobPath(etag));
  }

  /** snapshots/{commit}/{file} -> ../../blobs/{etag}, relative as huggingface_hub makes it. */
  async link(commit: string, file: string, etag: string): Promise<string> {
    const path = this.snapshotPath(commit, file);
    const target = relative(dirname(path), this.blobPath(etag));
    await mkdir(dirname(path), { recursive: true });
    const st = await lstat(path).catch(() => undefined);
    if (st?.isSymbolicLink() && (await readlink(path)) === target) return path;
    if (st) await unlink(path);
    try {
      await symlink(target, path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    return path;
  }

  /** A writer for blobs/{etag}; on a verified commit the snapshot link is made. */
  async writer(etag: string, expected: Expected, commit: string, file: string): Promise<BlobWriter> {
    return new BlobWriter(
      this.blobPath(etag),
      expected,
      async () => {
        await this.link(commit, file, etag);
      },
      this.root,
    ).start();
  }
}
