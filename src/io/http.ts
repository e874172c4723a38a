// Files over HTTP(S) as ByteSources: a Range request for the front of the file (the safetensors
// header), then the rest streamed from the offset the reader asks for. A server that ignores Range
// (200 instead of 206) is read front to back once: the bytes before the header's end are kept and
// the same response carries on with the data. Errors say which URL, which status, which byte.
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

export interface HttpOptions {
  /** Sent with every request (Authorization for a private repository). */
  headers?: Record<string, string>;
  signal?: AbortSignal;
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

/** fetch, with network failures turned into a NetworkError naming the host; an abort stays an abort. */
export async function request(url: string, init: RequestInit, signal?: AbortSignal): Promise<Response> {
  try {
    return await fetch(url, { ...init, signal });
  } catch (e) {
    if (isAbort(e, signal)) throw signal?.reason ?? e;
    throw new NetworkError(`cannot reach ${new URL(url).host} (${describeCause(e)}) for ${url}`, url);
  }
}

export function statusError(res: Response, url: string, what = url): HttpError {
  const code = res.headers.get('x-error-code') ?? undefined;
  const reason =
    res.status === 401 || res.status === 403
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

/** "bytes 0-65535/123456" -> 123456 */
function totalFromContentRange(value: string | null): number | undefined {
  const m = value && /\/(\d+)\s*$/.exec(value);
  return m ? Number(m[1]) : undefined;
}

/** Reads a response body piece by piece, counting bytes; a cut connection becomes an error naming the byte. */
async function* bodyPieces(
  res: Response,
  url: string,
  start: number,
  size: number,
  signal?: AbortSignal,
): AsyncGenerator<Uint8Array> {
  if (!res.body) throw new NetworkError(`${url}: the response has no body`, url);
  const reader = res.body.getReader();
  let at = start;
  try {
    for (;;) {
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await reader.read();
      } catch (e) {
        if (isAbort(e, signal)) throw signal?.reason ?? e;
        throw new NetworkError(
          `the connection for ${url} broke after ${at} of ${size} bytes (${describeCause(e)})`,
          url,
        );
      }
      if (r.done) break;
      at += r.value.byteLength;
      if (at > size) throw new NetworkError(`${url} sent more than the ${size} bytes it announced`, url);
      yield r.value;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  if (at < size) throw new NetworkError(`the connection for ${url} closed after ${at} of ${size} bytes`, url);
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

  private async get(range: string | undefined, signal?: AbortSignal): Promise<Response> {
    // The stored bytes, not a compressed transfer (sizes and hashes refer to them); browsers set this themselves.
    const headers: Record<string, string> = { 'accept-encoding': 'identity', ...this.options.headers };
    if (range) headers.range = range;
    const res = await request(this.url, { headers }, signal ?? this.options.signal);
    this.headers ??= res.headers;
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      throw statusError(res, this.url);
    }
    return res;
  }

  private sizeFrom(res: Response): number {
    const size =
      (res.status === 206 ? totalFromContentRange(res.headers.get('content-range')) : undefined) ??
      this.size ??
      Number(res.headers.get('content-length') ?? NaN);
    if (!Number.isSafeInteger(size) || size < 0)
      throw new NetworkError(`${this.url}: the server did not say how large the file is`, this.url);
    return size;
  }

  async head(n: number, signal?: AbortSignal): Promise<{ bytes: Uint8Array; size: number }> {
    if (this.size !== undefined && (this.prefix.byteLength >= n || this.prefix.byteLength >= this.size)) {
      return { bytes: this.prefix.subarray(0, n), size: this.size };
    }
    if (!this.open && this.rangeSupported) {
      const from = this.prefix.byteLength;
      const res = await this.get(`bytes=${from}-${Math.max(n, from + 1) - 1}`, signal);
      if (res.status === 206) {
        this.size = this.sizeFrom(res);
        const want = Math.min(n, this.size) - from;
        const bytes = new Uint8Array(await res.arrayBuffer());
        if (bytes.byteLength !== want)
          throw new NetworkError(
            `${this.url}: asked for ${want} bytes at ${from}, got ${bytes.byteLength}`,
            this.url,
          );
        this.append(bytes);
        return { bytes: this.prefix.subarray(0, n), size: this.size };
      }
      // 200: Range ignored. Keep this response and read it front to back.
      this.rangeSupported = false;
      this.size = this.sizeFrom(res);
      this.prefix = new Uint8Array(0);
      this.open = bodyPieces(res, this.url, 0, this.size, signal ?? this.options.signal);
    }
    if (!this.open) {
      const res = await this.get(undefined, signal);
      this.size = this.sizeFrom(res);
      this.prefix = new Uint8Array(0);
      this.open = bodyPieces(res, this.url, 0, this.size, signal ?? this.options.signal);
    }
    while (this.prefix.byteLength < Math.min(n, this.size!)) {
      const r = await this.open.next();
      if (r.done) break;
      this.append(r.value);
    }
    return { bytes: this.prefix.subarray(0, n), size: this.size! };
  }

  private append(bytes: Uint8Array): void {
    const joined = new Uint8Array(this.prefix.byteLength + bytes.byteLength);
    joined.set(this.prefix);
    joined.set(bytes, this.prefix.byteLength);
    this.prefix = joined;
  }

  async *chunks(offset: number, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
    signal ??= this.options.signal;
    if (this.size === undefined) await this.head(0, signal);
    const size = this.size!;
    if (this.open) {
      // The one response of a server without Range: what was read already, then the rest of it.
      const open = this.open;
      this.open = undefined;
      if (offset < this.prefix.byteLength) yield this.prefix.subarray(offset);
      let at = this.prefix.byteLength;
      this.prefix = new Uint8Array(0);
      for await (const piece of { [Symbol.asyncIterator]: () => open }) {
        const skip = Math.max(0, offset - at);
        at += piece.byteLength;
        if (skip < piece.byteLength) yield piece.subarray(skip);
      }
      return;
    }
    if (offset < this.prefix.byteLength) {
      yield this.prefix.subarray(offset);
      offset = this.prefix.byteLength;
    }
    if (offset >= size) return;
    const res = await this.get(this.rangeSupported ? `bytes=${offset}-` : undefined, signal);
    if (res.status === 206) {
      yield* bodyPieces(res, this.url, offset, size, signal);
      return;
    }
    // A whole file where a range was asked for: skip to `offset`.
    let at = 0;
    for await (const piece of bodyPieces(res, this.url, 0, size, signal)) {
      const skip = Math.max(0, offset - at);
      at += piece.byteLength;
      if (skip < piece.byteLength) yield piece.subarray(skip);
    }
  }
}
