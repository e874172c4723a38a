// Locks on the Hugging Face cache (Node), taken around every write of a blob or a ref: one
// process's concurrent calls queue on an in-process lock, and processes on a lock directory made
// by proper-lockfile (mkdir is atomic; its holder refreshes its mtime, and a lock left by a
// killed process is taken over once it is older than `stale`). Waiting polls with backoff and
// stops when the signal aborts. huggingface_hub keeps its (filelock) locks in
// {cache}/.locks/models--org--name/{etag}.lock; these sit beside them as {name}.lock.d, so the two
// never mistake one another's (a Python writer uses its own lock and its own .incomplete name,
// and both rename a verified blob into place).
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type * as ProperLockfile from 'proper-lockfile';

// Loaded through require at run time, so bundlers never pull this Node-only package (and its
// graceful-fs) into a browser build: this module is reached only by the lazy Node import of hub.ts.
const lockfile = createRequire(import.meta.url)('proper-lockfile') as typeof ProperLockfile;

// proper-lockfile's signal-exit listens to SIGXFSZ and re-raises it, which would turn a write past a
// file-size limit (ulimit -f) into the death of the process instead of the EFBIG that Node arranges by
// ignoring the signal. A listener of our own keeps Node's behaviour: signal-exit re-raises a signal
// only when its own listeners are the only ones.
if (process.platform !== 'win32') process.on('SIGXFSZ', () => {});

/** proper-lockfile's own floor for `stale`. */
const MIN_STALE_MS = 2000;
export const DEFAULT_LOCK_STALE_MS = 10_000;
/** Polling of a held lock: from this, doubling, up to 1 s. */
const FIRST_POLL_MS = 25;
const MAX_POLL_MS = 1000;

export interface HeldLock {
  /** Set when the lock was lost while held (its directory removed or not refreshed in time). */
  readonly compromised: Error | undefined;
  release(): Promise<void>;
}

/** The tail of each path's queue of in-process holders. */
const queues = new Map<string, Promise<void>>();

function wait(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Resolves when `p` settles, or rejects with the signal's reason first. */
function until(p: Promise<void>, signal?: AbortSignal): Promise<void> {
  if (!signal) return p;
  return new Promise((resolve, reject) => {
    signal.throwIfAborted();
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}

/** Takes the lock `path` (a directory proper-lockfile creates), waiting while another holds it. */
export async function acquireLock(
  path: string,
  options: { signal?: AbortSignal; stale?: number } = {},
): Promise<HeldLock> {
  const { signal } = options;
  const stale = Math.max(options.stale ?? DEFAULT_LOCK_STALE_MS, MIN_STALE_MS);
  let leave!: () => void;
  const mine = new Promise<void>((resolve) => {
    leave = resolve;
  });
  const before = queues.get(path) ?? Promise.resolve();
  const tail = before.then(() => mine);
  queues.set(path, tail);
  const done = () => {
    leave();
    if (queues.get(path) === tail) queues.delete(path);
  };
  try {
    await until(before, signal);
    await mkdir(dirname(path), { recursive: true });
    let compromised: Error | undefined;
    let unlock: (() => Promise<void>) | undefined;
    for (let poll = FIRST_POLL_MS; !unlock; poll = Math.min(poll * 2, MAX_POLL_MS)) {
      signal?.throwIfAborted();
      try {
        unlock = await lockfile.lock(path, {
          realpath: false,
          lockfilePath: path,
          stale,
          retries: 0,
          onCompromised: (e) => {
            compromised = e;
          },
        });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ELOCKED') throw e;
        await wait(poll, signal);
      }
    }
    const release = unlock;
    let released = false;
    return {
      get compromised() {
        return compromised;
      },
      async release() {
        if (released) return;
        released = true;
        try {
          await release().catch(() => undefined);
        } finally {
          done();
        }
      },
    };
  } catch (e) {
    done();
    throw e;
  }
}
