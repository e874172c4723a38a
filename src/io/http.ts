// Files over HTTP(S) as ByteSources: a Range request for the front of the file (the safetensors
// header), then the rest streamed from the offset the reader asks for. A server that ignores Range
// (200 instead of 206) is read front to back once: the bytes before the header's end are kept and
// the same response carries on with the data. A Range answer that is not the asked-for bytes of the
// stored file (a compressed body: Content-Encoding, or a length or Content-Range that does not
// match, as a browser serves a range from a cached gzip body) is dropped and the whole file is
// read instead, streamed. Errors say which URL, which status, which byte.
//
// Every request has a deadline for its response headers (connect + server think time), and every
// body an idle-read watchdog: fewer than MIN_PROGRESS_BYTES in any window of `timeout` ms is a
// TimeoutError (so a stalled server and one that trickles a byte now and then both fail, as
// huggingface_hub's read timeout makes them). Transient failures (a network error, a timeout, HTTP
// 5xx or 429) of a request are retried with exponential backoff; a body cut half-way resumes from
// the byte it reached with a Range request where the server answers one (from the front
// otherwise), after the same short wait each time, as huggingface_hub's http_get does.
import type { ByteSource } from './stream.js';

export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    message: string,
    readonly url: string,
    readonly status: number,
    /** The hub's X-Error-Code (RepoNotFound, EntryNotFound, RevisionNotFound, GatedRepo). */
    readonly code?: string,
  ) {
    super(message);
  }
}

/** The network failed (no connection, reset, DNS): nothing the server said. */
export class NetworkError extends Error {
  override name = 'NetworkError';
  constructor(
    message: string,
    readonly url: string,
  ) {
    super(message);
  }
}

/** A server that did not answer, or stopped sending, within the timeout. */
export class TimeoutError extends NetworkError {
  override name = 'TimeoutError';
}

/** huggingface_hub's default for HF_HUB_DOWNLOAD_TIMEOUT and HF_HUB_ETAG_TIMEOUT: 10 s. */
export const DEFAULT_TIMEOUT_MS = 10_000;
/** Tries after the first for a transient failure (huggingface_hub's http_backoff: 5). */
export const DEFAULT_RETRIES = 5;
/** The first wait before a retry; it doubles up to MAX_RETRY_DELAY_MS (huggingface_hub: 1 s to 8 s). */
export const DEFAULT_RETRY_DELAY_MS = 1000;
const MAX_RETRY_DELAY_FACTOR = 8;
/** A body that delivers fewer bytes than this in a whole timeout window has stalled. */
export const MIN_PROGRESS_BYTES = 1024;

export interface HttpOptions {
  /** Sent with every request (Authorization for a private repository). */
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** ms to wait for response headers, and the idle-read window of a body (default 10 s). */
  timeout?: number;
  /** Retries of a transient failure (default 5). */
  retries?: number;
  /** ms before the first retry, doubling after each (default 1 s). */
  retryDelay?: number;
}

function describeCause(e: unknown): string {
  const err = e as { message?: string; cause?: { code?: string; message?: string } };
  const cause = err.cause;
  if (cause?.code)
    return `${cause.code}${cause.message && !cause.message.includes(cause.code) ? `: ${cause.message}` : ''}`;
  return cause?.message ?? err.message ?? String(e);
}

function isAbort(e: unknown, signal?: AbortSignal): boolean {
  return Boolean(signal?.aborted) || (e as { name?: string })?.name === 'AbortError';
}

/** A response whose body can still be cut (the watchdog and the caller's signal do so). */
interface Opened {
  res: Response;
  /** Aborts the request with `reason`: a pending body read rejects with it. */
  abort(reason: unknown): void;
  /** Stops listening to the caller's signal (call when done with the body). */
  release(): void;
}

/**
 * fetch with a deadline for the headers; network failures become a NetworkError naming the host,
 * the deadline a TimeoutError, and the caller's abort stays the caller's abort.
 */
async function openRequest(url: string, init: RequestInit, options: HttpOptions): Promise<Opened> {
  const { signal } = options;
  signal?.throwIfAborted();
  const timeout = options.timeout ?? DEFAULT_TIMEOUT_MS;
  const controller = new AbortController();
  const onAbort = () => controller.abort(signal!.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  const release = () => signal?.removeEventListener('abort', onAbort);
  const timer = setTimeout(
    () =>
      controller.abort(
        new TimeoutError(`${new URL(url).host} did not answer within ${timeout} ms for ${url}`, url),
      ),
    timeout,
  );
  try {
    const res = await fetch(url, { ...init, signal: controller.signal });
    return { res, abort: (reason) => controller.abort(reason), release };
  } catch (e) {
    release();
    if (signal?.aborted) throw signal.reason;
    if (controller.signal.reason instanceof TimeoutError) throw controller.signal.reason;
    if (isAbort(e)) throw e;
    throw new NetworkError(`cannot reach ${new URL(url).host} (${describeCause(e)}) for ${url}`, url);
  } finally {
    clearTimeout(timer);
  }
}

/** A request whose body is not read (HEAD), with the headers' deadline. */
export async function request(url: string, init: RequestInit, options: HttpOptions = {}): Promise<Response> {
  const { res, release } = await openRequest(url, init, options);
  release();
  return res;
}

/** Whether a failure may pass if the request is made again. */
export function isTransient(e: unknown): boolean {
  if (e instanceof NetworkError) return true;
  return e instanceof HttpError && (e.status >= 500 || e.status === 429);
}

/** Waits `ms`, or rejects with the signal's reason when it aborts first. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The wait before retry number `attempt` (1-based): retryDelay doubled each time, capped at 8x. */
export function backoff(attempt: number, options: HttpOptions): number {
  const base = options.retryDelay ?? DEFAULT_RETRY_DELAY_MS;
  return Math.min(base * 2 ** (attempt - 1), base * MAX_RETRY_DELAY_FACTOR);
}

/** Runs `attempt` until it succeeds, fails for good, or the retries are spent (the last error then says how many tries). */
export async function withRetries<T>(
  options: HttpOptions,
  attempt: () => Promise<T>,
  retryable: (e: unknown) => boolean = isTransient,
): Promise<T> {
  const retries = options.retries ?? DEFAULT_RETRIES;
  for (let n = 0; ; n++) {
    try {
      return await attempt();
    } catch (e) {
      if (options.signal?.aborted) throw options.signal.reason;
      if (!retryable(e) || n >= retries) throw n > 0 ? triedError(e, n + 1) : e;
      await sleep(backoff(n + 1, options), options.signal);
    }
  }
}

function triedError(e: unknown, tries: number): unknown {
  if (e instanceof Error) e.message += ` (${tries} tries)`;
  return e;
}

export function statusError(res: Response, url: string, what = url): HttpError {
  const code = res.headers.get('x-error-code') ?? undefined;
  const reason =
    code === 'GatedRepo'
      ? res.status === 403
        ? " (gated: this token's account has no access; request it on the model's page)"
        : " (gated: request access on the model's page, then pass a token of that account, or set HF_TOKEN)"
      : res.status === 401 || res.status === 403
        ? ' (private or gated: pass a token, or set HF_TOKEN)'
        : res.status === 404
          ? ' (not found)'
          : '';
  return new HttpError(
    `${what}: HTTP ${res.status}${code ? ` ${code}` : ''}${reason}`,
    url,
    res.status,
    code,
  );
}

/** "bytes 0-65535/123456" -> { start: 0, total: 123456 } */
function contentRange(value: string | null): { start: number; total?: number } | undefined {
  const m = value && /^\s*bytes\s+(\d+)-\d+\/(\d+|\*)\s*$/.exec(value);
  if (!m) return undefined;
  return { start: Number(m[1]), total: m[2] === '*' ? undefined : Number(m[2]) };
}

/** A body in a Content-Encoding (gzip, br): its bytes are not the stored file's, and its lengths count other bytes. */
function encoded(res: Response): boolean {
  return !['', 'identity'].includes((res.headers.get('content-encoding') ?? '').trim().toLowerCase());
}

/**
 * Reads a response body piece by piece, counting bytes; a cut connection becomes an error naming
 * the byte, a stall a TimeoutError. `size` undefined: the body's own end is the file's end.
 */
async function* bodyPieces(
  opened: Opened,
  url: string,
  start: number,
  size: number | undefined,
  options: HttpOptions,
): AsyncGenerator<Uint8Array> {
  const { res } = opened;
  const timeout = options.timeout ?? DEFAULT_TIMEOUT_MS;
  if (!res.body) throw new NetworkError(`${url}: the response has no body`, url);
  const reader = res.body.getReader();
  let at = start;
  // The watchdog's window counts only time spent waiting for the server: while the reader is away
  // (the generator suspended at a yield: its consumer is busy) the clock stops.
  let windowStart = Date.now();
  let windowBytes = 0;
  let suspended = false;
  const watchdog = setInterval(
    () => {
      if (suspended || Date.now() - windowStart < timeout) return;
      if (windowBytes < MIN_PROGRESS_BYTES) {
        opened.abort(
          new TimeoutError(
            `${url} stalled: ${windowBytes} bytes in ${timeout} ms, after ${at}${size === undefined ? '' : ` of ${size}`} bytes (timeout: HF_HUB_DOWNLOAD_TIMEOUT)`,
            url,
          ),
        );
      }
      windowStart = Date.now();
      windowBytes = 0;
    },
    Math.max(10, Math.floor(timeout / 4)),
  );
  try {
    for (;;) {
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await reader.read();
      } catch (e) {
        if (options.signal?.aborted) throw options.signal.reason;
        if (e instanceof TimeoutError) throw e;
        if (isAbort(e)) throw e;
        throw new NetworkError(
          `the connection for ${url} broke after ${at}${size === undefined ? '' : ` of ${size}`} bytes (${describeCause(e)})`,
          url,
        );
      }
      if (r.done) break;
      at += r.value.byteLength;
      windowBytes += r.value.byteLength;
      if (size !== undefined && at > size)
        throw new NetworkError(`${url} sent more than the ${size} bytes it announced`, url);
      suspended = true;
      const away = Date.now();
      yield r.value;
      windowStart += Date.now() - away;
      suspended = false;
    }
  } finally {
    clearInterval(watchdog);
    opened.release();
    await reader.cancel().catch(() => undefined);
  }
  if (size !== undefined && at < size)
    throw new NetworkError(`the connection for ${url} closed after ${at} of ${size} bytes`, url);
}

/** Pieces of a stream that starts at byte `from`, from byte `offset` on. */
async function* skipTo(
  pieces: AsyncIterable<Uint8Array>,
  from: number,
  offset: number,
): AsyncGenerator<Uint8Array> {
  let at = from;
  for await (const piece of pieces) {
    const skip = Math.max(0, offset - at);
    at += piece.byteLength;
    if (skip < piece.byteLength) yield piece.subarray(skip);
  }
}

/** An HTTP(S) file read with Range requests where the server allows them. */
export class HttpByteSource implements ByteSource {
  private prefix = new Uint8Array(0);
  private size: number | undefined;
  private rangeSupported = true;
  /** When the server ignored Range: the whole-file response, read up to prefix.length. */
  private open: AsyncGenerator<Uint8Array> | undefined;
  /** Response headers of the first request (ETag, X-Repo-Commit, ...). */
  headers: Headers | undefined;

  constructor(
    readonly url: string,
    private readonly options: HttpOptions = {},
    size?: number,
  ) {
    this.size = size;
  }

  get name(): string {
    return this.url;
  }

  private opts(signal?: AbortSignal): HttpOptions {
    return { ...this.options, signal: signal ?? this.options.signal };
  }

  private async get(range: string | undefined, options: HttpOptions): Promise<Opened> {
    // The stored bytes, not a compressed transfer (sizes and hashes refer to them); browsers set this themselves.
    const headers: Record<string, string> = { 'accept-encoding': 'identity', ...this.options.headers };
    if (range) headers.range = range;
    const opened = await openRequest(this.url, { headers }, options);
    this.headers ??= opened.res.headers;
    if (!opened.res.ok) {
      opened.release();
      await opened.res.body?.cancel().catch(() => undefined);
      throw statusError(opened.res, this.url);
    }
    return opened;
  }

  /** The file's size from a whole-file (200) response, when it says (a compressed body's length does not count). */
  private sizeOf(res: Response): number | undefined {
    if (this.size !== undefined) return this.size;
    const size = encoded(res) ? NaN : Number(res.headers.get('content-length') ?? NaN);
    return Number.isSafeInteger(size) && size >= 0 ? size : undefined;
  }

  /** Whether a 206 carries exactly bytes [from, ...) of the stored file (not a range of a compressed body). */
  private rangeMatches(res: Response, from: number): boolean {
    if (res.status !== 206 || encoded(res)) return false;
    const range = contentRange(res.headers.get('content-range'));
    if (!range || range.start !== from) return false;
    return this.size === undefined || range.total === undefined || range.total === this.size;
  }

  /** A Range answer that is not what was asked: from now on, the whole file, from the front. */
  private async dropRange(opened: Opened): Promise<void> {
    this.rangeSupported = false;
    opened.release();
    await opened.res.body?.cancel().catch(() => undefined);
  }

  async head(n: number, signal?: AbortSignal): Promise<{ bytes: Uint8Array; size: number }> {
    const options = this.opts(signal);
    if (this.size !== undefined && (this.prefix.byteLength >= n || this.prefix.byteLength >= this.size)) {
      return { bytes: this.prefix.subarray(0, n), size: this.size };
    }
    if (!this.open && this.rangeSupported) {
      const from = this.prefix.byteLength;
      const got = await withRetries(options, async () => {
        let opened: Opened;
        try {
          opened = await this.get(`bytes=${from}-${Math.max(n, from + 1) - 1}`, options);
        } catch (e) {
          // A browser that cannot decode a compressed range fails the fetch itself; a real network
          // failure fails the whole-file request too, which is then retried.
          if (!(e instanceof NetworkError) || e instanceof TimeoutError) throw e;
          this.rangeSupported = false;
          return undefined;
        }
        if (opened.res.status !== 206) return opened; // Range ignored: this response is the whole file
        if (!this.rangeMatches(opened.res, from)) {
          await this.dropRange(opened);
          return undefined;
        }
        const total = contentRange(opened.res.headers.get('content-range'))?.total ?? this.size;
        if (total === undefined) {
          await this.dropRange(opened); // no size: the whole file will say it
          return undefined;
        }
        const want = Math.min(n, total) - from;
        let bytes: Uint8Array;
        try {
          bytes = await readBody(opened, this.url, from, want, options);
        } catch (e) {
          if (!(e instanceof NetworkError) || e instanceof TimeoutError) throw e;
          this.rangeSupported = false; // as above: an undecodable body, or a failure the whole-file request meets again
          return undefined;
        }
        if (bytes.byteLength !== want) {
          // Not the asked-for bytes (a cache's or proxy's rewrite): read the whole file instead.
          this.rangeSupported = false;
          return undefined;
        }
        this.size = total;
        this.append(bytes);
        return 'done' as const;
      });
      if (got === 'done') return { bytes: this.prefix.subarray(0, n), size: this.size! };
      if (got) this.startWhole(got, options);
    }
    if (!this.open) this.startWhole(await withRetries(options, () => this.get(undefined, options)), options);
    while (this.prefix.byteLength < n) {
      const r = await this.open!.next();
      if (r.done) {
        this.open = undefined;
        break;
      }
      this.append(r.value);
    }
    if (this.size === undefined) await this.measure(options);
    return { bytes: this.prefix.subarray(0, n), size: this.size! };
  }

  /** Keeps a whole-file response to read from the front (the prefix starts again at byte 0). */
  private startWhole(opened: Opened, options: HttpOptions): void {
    this.rangeSupported = false;
    this.size = this.sizeOf(opened.res);
    this.prefix = new Uint8Array(0);
    this.open = bodyPieces(opened, this.url, 0, this.size, options);
  }

  /**
   * The size when no header gave it (a compressed whole-file body): the open response is read to
   * its end and counted, piece by piece; the data is read again by chunks().
   */
  private async measure(options: HttpOptions): Promise<void> {
    let size = this.prefix.byteLength;
    if (this.open) {
      for await (const piece of { [Symbol.asyncIterator]: () => this.open! }) size += piece.byteLength;
      this.open = undefined;
    }
    options.signal?.throwIfAborted();
    this.size = size;
  }

  private append(bytes: Uint8Array): void {
    const joined = new Uint8Array(this.prefix.byteLength + bytes.byteLength);
    joined.set(this.prefix);
    joined.set(bytes, this.prefix.byteLength);
    this.prefix = joined;
  }

  async *chunks(offset: number, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
    const options = this.opts(signal);
    if (this.size === undefined) await this.head(0, options.signal);
    const size = this.size!;
    let at = offset;
    if (at < this.prefix.byteLength) {
      const piece = this.prefix.subarray(at);
      at = this.prefix.byteLength;
      yield piece;
    }
    const kept = this.open;
    const keptFrom = this.prefix.byteLength;
    this.open = undefined;
    this.prefix = new Uint8Array(0);
    const retries = options.retries ?? DEFAULT_RETRIES;
    let failures = 0;
    let pieces: AsyncIterable<Uint8Array> | undefined =
      kept && skipTo({ [Symbol.asyncIterator]: () => kept }, keptFrom, at);
    while (at < size) {
      try {
        pieces ??= await this.from(at, options);
        for await (const piece of pieces) {
          at += piece.byteLength;
          failures = 0; // progress: the retries are for consecutive failures
          yield piece;
        }
        pieces = undefined;
        if (at < size)
          throw new NetworkError(
            `the connection for ${this.url} closed after ${at} of ${size} bytes`,
            this.url,
          );
      } catch (e) {
        pieces = undefined;
        if (options.signal?.aborted) throw options.signal.reason;
        if (!isTransient(e) || failures >= retries) throw failures > 0 ? triedError(e, failures + 1) : e;
        failures++;
        // As huggingface_hub's http_get resumes: the same short wait each time (progress resets the count).
        await sleep(options.retryDelay ?? DEFAULT_RETRY_DELAY_MS, options.signal);
      }
    }
  }

  /** The file's bytes from `at` on: a Range request, or the whole file skipped to `at`. */
  private async from(at: number, options: HttpOptions): Promise<AsyncIterable<Uint8Array>> {
    if (this.rangeSupported) {
      const opened = await this.get(`bytes=${at}-`, options);
      if (this.rangeMatches(opened.res, at)) return bodyPieces(opened, this.url, at, this.size, options);
      if (opened.res.status === 206) await this.dropRange(opened);
      else {
        this.rangeSupported = false;
        return skipTo(bodyPieces(opened, this.url, 0, this.sizeOf(opened.res) ?? this.size, options), 0, at);
      }
    }
    const opened = await this.get(undefined, options);
    return skipTo(bodyPieces(opened, this.url, 0, this.size, options), 0, at);
  }
}

/** A short body (a Range answer) read whole, under the same watchdog; stops early past `limit` bytes. */
async function readBody(
  opened: Opened,
  url: string,
  from: number,
  limit: number,
  options: HttpOptions,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let length = 0;
  for await (const piece of bodyPieces(opened, url, from, undefined, options)) {
    parts.push(piece.slice());
    length += piece.byteLength;
    if (length > limit) break;
  }
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
