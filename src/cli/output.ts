// Every file the command line writes goes through here: checked before any work (its folder exists
// and is writable, it is not a folder, it is not one of the inputs), written under a temporary name
// in the destination folder, fsynced, then renamed over the final name in one step. A failure
// (full disk, a kill, Ctrl-C) never leaves a partial file under the name the user asked for; the
// temporary file is removed on errors and on SIGINT / SIGTERM (a SIGKILL leaves it, under its
// temporary name only).
import { accessSync, constants, existsSync, statSync, unlinkSync } from 'node:fs';
import { type FileHandle, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { UsageError } from './args.js';

/** Temporary files being written now, removed if the process is interrupted. */
const pending = new Set<string>();
let handlersInstalled = false;

/** Removes every temporary file still being written (synchronously: called from signal handlers). */
export function removePendingFiles(): void {
  for (const path of pending) {
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
  }
  pending.clear();
}

/** What else to remove if the process is interrupted (a temporary folder). */
const cleanups = new Set<() => void>();

export function onInterrupt(cleanup: () => void): void {
  cleanups.add(cleanup);
}

/** On SIGINT / SIGTERM: remove the temporary files, then exit as the signal would (130 / 143). */
export function installSignalCleanup(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.on(signal, () => {
      removePendingFiles();
      for (const cleanup of cleanups) cleanup();
      process.stderr.write(`\ndinov2-webgpu: interrupted (${signal}); nothing partial was left behind\n`);
      process.exit(code);
    });
  }
}

function systemMessage(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const known: Record<string, string> = {
    ENOSPC: 'no space left on the device',
    EFBIG: 'file too large (a file-size limit, ulimit -f?)',
    EDQUOT: 'disk quota exceeded',
    EACCES: 'permission denied',
    EROFS: 'read-only file system',
    EISDIR: 'is a directory',
  };
  return err.code && known[err.code] ? `${known[err.code]} (${err.code})` : (err.message ?? String(e));
}

/** A local input's identity (device, inode), to refuse an output that is one of the inputs. */
function identity(path: string): string | undefined {
  try {
    const s = statSync(path);
    return `${s.dev}:${s.ino}`;
  } catch {
    return undefined;
  }
}

/**
 * Checks that `path` can be written, before any model is loaded: its folder exists and is
 * writable, it is not a folder, and it is none of `inputs` (same file, also through a link).
 * `option` names the option in messages.
 */
export function checkOutputPath(path: string, inputs: readonly string[], option = '--output'): void {
  if (path === '') throw new UsageError(`${option} is empty`);
  if (existsSync(path) && statSync(path).isDirectory())
    throw new UsageError(`${option} ${path}: is a directory (give a file name)`);
  const folder = dirname(resolve(path));
  if (!existsSync(folder)) throw new UsageError(`${option} ${path}: no such folder ${dirname(path)}`);
  if (!statSync(folder).isDirectory())
    throw new UsageError(`${option} ${path}: ${dirname(path)} is not a folder`);
  try {
    accessSync(folder, constants.W_OK);
  } catch {
    throw new UsageError(`${option} ${path}: the folder ${dirname(path)} is not writable`);
  }
  const out = identity(path);
  if (out === undefined) return;
  for (const input of inputs) {
    if (identity(input) === out)
      throw new UsageError(`${option} ${path} is the input ${input}; refusing to overwrite it`);
  }
}

/** Extensions of the formats any command writes. */
const OUTPUT_EXTENSIONS = ['npy', 'json', 'safetensors'];

/** The output format: from --format, else the extension, else `fallback`; a contradiction is refused. */
export function outputFormat<F extends string>(
  path: string,
  given: string | undefined,
  formats: readonly F[],
  fallback: F,
  streaming: readonly F[],
): F {
  if (given !== undefined && !formats.includes(given as F))
    throw new UsageError(`--format must be one of ${formats.join(', ')}, got ${given}`);
  const ext = extname(path).slice(1).toLowerCase();
  const fromExt = formats.find((f) => f === ext);
  if (fromExt === undefined && OUTPUT_EXTENSIONS.includes(ext))
    throw new UsageError(`${path}: this command writes ${formats.join(' or ')}, not .${ext}`);
  if (given !== undefined && fromExt !== undefined && given !== fromExt)
    throw new UsageError(`--format ${given} contradicts the extension of ${path}`);
  const format = (given ?? fromExt ?? fallback) as F;
  if (path === '-' && !streaming.includes(format))
    throw new UsageError(
      `--output - (standard output) takes ${streaming.join(' or ')}, not ${format}; give a file name`,
    );
  return format;
}

let writes = 0;

/** Test hook: DINOV2_WEBGPU_FAULT_PAUSE_WRITE=N stops for good half-way through the N-th file written. */
async function faultPause(path: string, index: number): Promise<void> {
  const n = Number(process.env.DINOV2_WEBGPU_FAULT_PAUSE_WRITE);
  if (!n || index !== n) return;
  process.stderr.write(`dinov2-webgpu: paused half-way through writing ${path} (fault injection)\n`);
  await new Promise((r) => setTimeout(r, 2 ** 31 - 1));
}

/**
 * Writes `chunks` to `path` atomically. Errors name `path` (the user's name), never the temporary
 * one, and leave nothing behind.
 */
export async function writeFileAtomic(
  path: string,
  chunks: Iterable<Uint8Array> | Uint8Array,
): Promise<void> {
  const list = chunks instanceof Uint8Array ? [chunks] : [...chunks];
  const index = ++writes;
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}-${index}.tmp`);
  let handle: FileHandle | undefined;
  pending.add(temp);
  try {
    handle = await open(temp, 'wx');
    const total = list.reduce((n, c) => n + c.byteLength, 0);
    let written = 0;
    for (const chunk of list) {
      if (written < total / 2 && written + chunk.byteLength >= total / 2) {
        const half = Math.ceil(total / 2) - written;
        await handle.write(chunk.subarray(0, half));
        await faultPause(path, index);
        await handle.write(chunk.subarray(half));
      } else await handle.write(chunk);
      written += chunk.byteLength;
    }
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temp, path);
    pending.delete(temp);
    // The rename itself is durable once the folder is synced.
    const folder = await open(dirname(resolve(path)), 'r');
    await folder.sync().catch(() => {});
    await folder.close();
  } catch (e) {
    await handle?.close().catch(() => {});
    await unlink(temp).catch(() => {});
    pending.delete(temp);
    throw new Error(`cannot write ${path}: ${systemMessage(e)}`);
  }
}

/** Writes to standard output (`--output -`), resolving once the bytes are handed over. */
export function writeStdout(chunks: Iterable<Uint8Array>): Promise<void> {
  return new Promise((done, fail) => {
    const list = [...chunks];
    let i = 0;
    const next = (): void => {
      if (i === list.length) {
        done();
        return;
      }
      process.stdout.write(list[i++], (e) => {
        if (e) fail(e);
        else next();
      });
    };
    next();
  });
}
