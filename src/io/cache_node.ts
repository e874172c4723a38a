// The Hugging Face cache on disk, laid out as Python's huggingface_hub lays it out, so that files
// either side downloaded are reused by the other:
//   $HF_HUB_CACHE (default $HF_HOME/hub, HF_HOME default ~/.cache/huggingface)
//     models--{org}--{name}/
//       blobs/{etag}                        the file's bytes, named by the hub's ETag (sha256 for LFS files)
//       blobs/{etag}.incomplete             a download under way; never read as a file
//       snapshots/{commit}/{file}  ->  ../../blobs/{etag}   (relative symlink)
//       refs/{revision}                     the commit a branch or tag pointed at (no newline)
//       .no_exist/{commit}/{file}           empty: the file is known not to exist at that commit
//   {cache}/.locks/models--{org}--{name}/{etag}.lock.d, ref.{revision}.lock.d   (src/io/lock_node.ts)
// A blob is written under its lock, which is held from the download through the check and the
// rename: by one writer at a time, across processes and across concurrent calls of one process.
// Having the lock, a writer first looks again: a blob another writer completed meanwhile is used
// as it is. Otherwise it writes blobs/{etag}.{pid}-{random}.incomplete (a name no other writer
// uses; those a killed writer left are removed), re-reads that file from the disk and checks it
// against the hub's sha256 (or git blob sha1 for small files) and size, and only then renames it
// into place; on any failure the partial file is removed, so the cache never holds a partial or
// unverified file under its final name. Every name from the network or the user that becomes a
// path (revision, ETag, file) is checked as safe path components first (src/io/names.ts). Node
// only (imported lazily).
import { createHash, randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import {
  access,
  lstat,
  mkdir,
  open,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  symlink,
  writeFile,
  type FileHandle,
} from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import type { BlobSink, SinkOrReady } from './hub_common.js';
import { acquireLock, type HeldLock } from './lock_node.js';
import { safeComponent, safeRelativePath, UnsafeNameError } from './names.js';
import type { Hasher } from './sha256.js';
import type { ByteSource } from './stream.js';
import { DEFAULT_CHUNK_BYTES } from './stream.js';
import { type Expected, type Hashers, VerificationError, Verifier } from './verify.js';

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

/** node:crypto's hashes, as the verifiers take them. */
export const NODE_HASHERS: Hashers = {
  sha256: () => nodeHasher('sha256'),
  sha1: () => nodeHasher('sha1'),
};

function nodeHasher(algorithm: string): Hasher {
  const h = createHash(algorithm);
  return {
    update: (bytes) => void h.update(bytes),
    hex: () => h.digest('hex'),
  };
}

const COMMIT = /^[0-9a-f]{40}$/;
/** Bytes per read when a written blob is read back to be hashed (kept small: loads hold little memory). */
const VERIFY_READ_BYTES = 2 ** 20;

/** A name no other writer of the same file uses: this process and 8 random bytes. */
function uniqueSuffix(): string {
  return `${process.pid}-${randomBytes(8).toString('hex')}`;
}

function diskError(e: unknown, path: string, cacheRoot: string): Error {
  const code = (e as NodeJS.ErrnoException).code;
  const what =
    code === 'ENOSPC'
      ? 'no space left on the device'
      : code === 'EDQUOT'
        ? 'disk quota exceeded'
        : code === 'EFBIG'
          ? 'file too large for this device or process limit'
          : code === 'EACCES' || code === 'EPERM'
            ? 'permission denied'
            : (e as Error).message;
  return new Error(
    `cannot write ${path} in the Hugging Face cache (${cacheRoot}): ${what}; the partial file was removed`,
  );
}

/** Writes one blob under its lock: a private temporary file, verified from the disk, renamed into place. */
export class BlobWriter implements BlobSink {
  private fh: FileHandle | undefined;
  private settled = false;
  private readonly temp: string;

  private constructor(
    readonly path: string,
    private readonly expected: Expected,
    private readonly lock: HeldLock,
    private readonly onCommit: () => Promise<void>,
    private readonly cacheRoot: string,
  ) {
    this.temp = `${path}.${uniqueSuffix()}.incomplete`;
  }

  static async start(
    path: string,
    expected: Expected,
    lock: HeldLock,
    onCommit: () => Promise<void>,
    cacheRoot: string,
  ): Promise<BlobWriter> {
    const w = new BlobWriter(path, expected, lock, onCommit, cacheRoot);
    try {
      await mkdir(dirname(path), { recursive: true });
      w.fh = await open(w.temp, 'wx'); // never an existing file
    } catch (e) {
      await w.abort();
      throw diskError(e, path, cacheRoot);
    }
    return w;
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (!this.fh) throw new Error(`${this.path}: write after the download ended`);
    try {
      let at = 0;
      while (at < bytes.byteLength) {
        const { bytesWritten } = await this.fh.write(bytes, at, bytes.byteLength - at);
        at += bytesWritten;
      }
    } catch (e) {
      await this.abort();
      throw diskError(e, this.path, this.cacheRoot);
    }
  }

  /** What is on the disk now, hashed (not what was handed to write()). */
  private async verifyOnDisk(): Promise<string | undefined> {
    const verifier = new Verifier(this.expected, NODE_HASHERS);
    const fh = await open(this.temp, 'r');
    try {
      const buffer = new Uint8Array(VERIFY_READ_BYTES);
      for (let at = 0; ; ) {
        const { bytesRead } = await fh.read(buffer, 0, buffer.byteLength, at);
        if (bytesRead === 0) break;
        verifier.update(buffer.subarray(0, bytesRead));
        at += bytesRead;
      }
    } finally {
      await fh.close();
    }
    return verifier.problem();
  }

  /** Checks size and hash of the file on disk, renames it into place, links the snapshot. A mismatch removes the file. */
  async commit(): Promise<void> {
    let problem: string | undefined;
    try {
      await this.fh!.sync();
      await this.fh!.close();
      this.fh = undefined;
      problem = await this.verifyOnDisk();
      if (!problem && this.lock.compromised)
        problem = `its lock was lost while writing (${this.lock.compromised.message})`;
      if (!problem) {
        // Another writer (one that does not take this lock: Python's huggingface_hub) may have
        // completed it meanwhile: its verified bytes are the same, and are kept.
        if (await exists(this.path)) await rm(this.temp, { force: true });
        else await rename(this.temp, this.path);
      }
    } catch (e) {
      await this.abort();
      throw diskError(e, this.path, this.cacheRoot);
    }
    if (problem) {
      await this.abort();
      throw new VerificationError(
        `download of ${this.path} failed verification: ${problem}; the file was not kept`,
      );
    }
    this.settled = true;
    try {
      await this.onCommit();
    } finally {
      await this.lock.release();
    }
  }

  /** Removes the partial file and lets the lock go (safe to call more than once). */
  async abort(): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    await this.fh?.close().catch(() => undefined);
    this.fh = undefined;
    await rm(this.temp, { force: true }).catch(() => undefined);
    await this.lock.release();
  }
}

/** One repository's folder in the cache. */
export class NodeHubCache {
  readonly dir: string;
  private readonly locks: string;

  constructor(
    readonly root: string,
    readonly repoId: string,
    private readonly options: { lockStale?: number } = {},
  ) {
    this.dir = join(root, repoFolderName(repoId));
    this.locks = join(root, '.locks', repoFolderName(repoId));
  }

  private inside(...parts: string[]): string {
    const path = join(this.dir, ...parts);
    if (!path.startsWith(this.dir + sep))
      throw new UnsafeNameError(`refusing a cache path outside ${this.dir}: ${parts.join('/')}`);
    return path;
  }

  private lock(name: string, signal?: AbortSignal): Promise<HeldLock> {
    return acquireLock(join(this.locks, `${name}.lock.d`), { signal, stale: this.options.lockStale });
  }

  private refPath(revision: string): string {
    return this.inside('refs', safeRelativePath(revision, 'revision'));
  }

  /** The commit `revision` names: itself when it is a commit hash, else refs/{revision}. */
  async commitFor(revision: string): Promise<string | undefined> {
    if (COMMIT.test(revision)) return revision;
    try {
      const commit = (await readFile(this.refPath(revision), 'utf8')).trim();
      return COMMIT.test(commit) ? commit : undefined;
    } catch (e) {
      if (e instanceof UnsafeNameError) throw e;
      return undefined;
    }
  }

  /** refs/{revision} = commit, written under the ref's lock through a private temporary file. */
  async writeRef(revision: string, commit: string, signal?: AbortSignal): Promise<void> {
    if (revision === commit) return;
    if (!COMMIT.test(commit)) throw new UnsafeNameError(`refusing commit ${JSON.stringify(commit)}`);
    const path = this.refPath(revision);
    const current = await readFile(path, 'utf8').catch(() => undefined);
    if (current?.trim() === commit) return;
    const lock = await this.lock(`ref.${encodeURIComponent(revision)}`, signal);
    try {
      await mkdir(dirname(path), { recursive: true });
      const temp = `${path}.${uniqueSuffix()}.tmp`;
      try {
        await writeFile(temp, commit, { flag: 'wx' });
        await rename(temp, path);
      } finally {
        await rm(temp, { force: true }).catch(() => undefined);
      }
    } finally {
      await lock.release();
    }
  }

  snapshotPath(commit: string, file: string): string {
    if (!COMMIT.test(commit)) throw new UnsafeNameError(`refusing commit ${JSON.stringify(commit)}`);
    return this.inside('snapshots', commit, safeRelativePath(file, 'file name'));
  }

  /** The snapshot folder of a commit. */
  snapshotDir(commit: string): string {
    if (!COMMIT.test(commit)) throw new UnsafeNameError(`refusing commit ${JSON.stringify(commit)}`);
    return this.inside('snapshots', commit);
  }

  blobPath(etag: string): string {
    return this.inside('blobs', safeComponent(etag, 'ETag'));
  }

  /** The snapshot's file when it is there and readable (a dangling link is not). */
  async cached(commit: string, file: string): Promise<string | undefined> {
    const path = this.snapshotPath(commit, file);
    return (await exists(path)) ? path : undefined;
  }

  async hasSnapshot(commit: string): Promise<boolean> {
    return exists(this.snapshotDir(commit));
  }

  async knownMissing(commit: string, file: string): Promise<boolean> {
    this.snapshotPath(commit, file);
    return exists(this.inside('.no_exist', commit, file));
  }

  async markMissing(commit: string, file: string): Promise<void> {
    this.snapshotPath(commit, file);
    const path = this.inside('.no_exist', commit, file);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, '');
  }

  async hasBlob(etag: string): Promise<boolean> {
    return exists(this.blobPath(etag));
  }

  /**
   * snapshots/{commit}/{file} -> ../../blobs/{etag}, relative as huggingface_hub makes it; made
   * under a private name and renamed over the final one, so that a reader never sees it missing.
   */
  async link(commit: string, file: string, etag: string): Promise<string> {
    const path = this.snapshotPath(commit, file);
    const target = relative(dirname(path), this.blobPath(etag));
    await mkdir(dirname(path), { recursive: true });
    const st = await lstat(path).catch(() => undefined);
    if (st?.isSymbolicLink() && (await readlink(path)) === target) return path;
    const temp = `${path}.${uniqueSuffix()}.link`;
    try {
      await symlink(target, temp);
      await rename(temp, path);
    } finally {
      await rm(temp, { force: true }).catch(() => undefined);
    }
    return path;
  }

  /** Removes the temporary files of writers of blobs/{etag} that died (the caller holds the blob's lock). */
  private async removeAbandoned(etag: string): Promise<void> {
    const blobs = dirname(this.blobPath(etag));
    const names = await readdir(blobs).catch(() => [] as string[]);
    for (const name of names) {
      // {etag}.{pid}-{random}.incomplete; {etag}.incomplete is Python's, under its own lock.
      if (name.startsWith(`${etag}.`) && /^\d+-[0-9a-f]+\.incomplete$/.test(name.slice(etag.length + 1)))
        await rm(join(blobs, name), { force: true }).catch(() => undefined);
    }
  }

  /**
   * The sink a download of blobs/{etag} is written to, once this writer holds the blob's lock; or,
   * when another writer completed the blob meanwhile, that blob (`ready`, linked into the snapshot).
   */
  async blobSink(
    etag: string,
    expected: Expected,
    commit: string,
    file: string,
    local: (path: string) => ByteSource,
    signal?: AbortSignal,
  ): Promise<SinkOrReady> {
    const blob = this.blobPath(etag);
    this.snapshotPath(commit, file);
    const lock = await this.lock(safeComponent(etag, 'ETag'), signal);
    try {
      if (await exists(blob)) {
        const path = await this.link(commit, file, etag);
        await lock.release();
        return { ready: local(path) };
      }
      await this.removeAbandoned(etag);
      return await BlobWriter.start(
        blob,
        expected,
        lock,
        async () => {
          await this.link(commit, file, etag);
        },
        this.root,
      );
    } catch (e) {
      await lock.release();
      throw e;
    }
  }
}
