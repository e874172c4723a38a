// A Hugging Face hub on 127.0.0.1 for the tests: no network. It serves fixture checkpoints in the
// hub's URL layout and with its headers, as huggingface.co does:
//   HEAD/GET /{repo}/resolve/{revision}/{file}
//     LFS files (*.safetensors, or any file marked so): 302 to a CDN-like path /cdn/{sha256} with
//       X-Repo-Commit, X-Linked-Etag: "{sha256}", X-Linked-Size; the CDN answers Range requests
//       (206 + Content-Range), ETag "{sha256}", and never needs the token.
//     other files: 200 with ETag "{git blob sha1}", X-Repo-Commit.
//     404 with X-Error-Code RepoNotFound / RevisionNotFound / EntryNotFound (+ X-Repo-Commit).
//     401 for a private repository without `Authorization: Bearer {token}`.
//     A gated repository (as facebook/dinov3-* are): 401 with X-Error-Code GatedRepo without a
//     token, 403 GatedRepo with a token whose account was not granted access (any but `token`).
//   /{old}/resolve/... of a renamed repository: 307 to the relative /{new}/resolve/...
// Faults, per CDN blob: `noRange` (Range ignored: 200 with the whole file), `cutAfter` (the socket
// is destroyed after that many bytes of the file; `cuts` responses only, default all),
// `bytesPerSecond` (a slow body), `trickle` (a few bytes now and then), `pauseAt` (the body stops
// at that byte until `release()` of the pause: forced interleavings, or a stall when never
// released), `corrupt` (one byte flipped: the sha256 fails), `failFirst` (that many requests
// answered 503). `overrides` replaces response headers of a repository file (hostile ETags).
// Other paths are served from `staticRoot` (the browser tests load the page and dist/ from this
// same origin); under /gzip/ a static file is sent gzipped whatever the request accepts, and a
// Range is answered from the compressed bytes (as a cache holding a compressed body does). Every
// request is logged.
import { createHash } from 'node:crypto';
import {
  closeSync,
  createReadStream,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  statSync,
} from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';

export interface ServedFile {
  /** Bytes in memory, or a path on disk (large files are streamed from disk). */
  data?: Uint8Array;
  path?: string;
  /** Served as an LFS file (redirect to the CDN, sha256 ETag); default: names ending .safetensors. */
  lfs?: boolean;
}

export interface Fault {
  noRange?: boolean;
  /** Set by the server: the file's size. */
  size?: number;
  cutAfter?: number;
  /** How many responses `cutAfter` cuts (then the body is whole); default every one. */
  cuts?: number;
  bytesPerSecond?: number;
  /** `bytes` bytes every `everyMs` ms. */
  trickle?: { bytes: number; everyMs: number };
  /** The body waits at this byte of the file until the pause is released. */
  pauseAt?: number;
  pause?: Pause;
  corrupt?: boolean;
  /** Answer this many requests 503 before serving. */
  failFirst?: number;
}

/** A body held at a byte: `reached` resolves when a response gets there, `release()` lets every held one go on. */
export class Pause {
  private resolveReached!: () => void;
  readonly reached = new Promise<void>((resolve) => {
    this.resolveReached = resolve;
  });
  private resolveReleased!: () => void;
  readonly released = new Promise<void>((resolve) => {
    this.resolveReleased = resolve;
  });
  hits = 0;

  hit(): Promise<void> {
    this.hits++;
    this.resolveReached();
    return this.released;
  }

  release(): void {
    this.resolveReleased();
  }
}

interface Blob {
  size: number;
  sha256: string;
  gitSha1: string;
  lfs: boolean;
  read(start: number, end: number): NodeJS.ReadableStream | Uint8Array;
}

interface Repo {
  private: boolean;
  gated: boolean;
  /** revision name -> commit */
  refs: Map<string, string>;
  /** commit -> file -> blob */
  commits: Map<string, Map<string, Blob>>;
}

export interface LoggedRequest {
  method: string;
  path: string;
  range?: string;
  authorization?: string;
  status: number;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
};

function hashFile(path: string, algo: string, prefix?: string): string {
  const h = createHash(algo);
  if (prefix) h.update(prefix);
  // Sync, chunked: fine for fixtures up to a few GB in the benchmark.
  const fd = openSync(path, 'r');
  const buf = Buffer.allocUnsafe(8 * 2 ** 20);
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

function makeBlob(name: string, f: ServedFile): Blob {
  const lfs = f.lfs ?? name.endsWith('.safetensors');
  if (f.data) {
    const data = f.data;
    return {
      size: data.byteLength,
      sha256: createHash('sha256').update(data).digest('hex'),
      gitSha1: createHash('sha1').update(`blob ${data.byteLength}\0`).update(data).digest('hex'),
      lfs,
      read: (start, end) => data.subarray(start, end),
    };
  }
  const path = f.path!;
  const size = statSync(path).size;
  return {
    size,
    sha256: hashFile(path, 'sha256'),
    gitSha1: lfs ? '' : hashFile(path, 'sha1', `blob ${size}\0`),
    lfs,
    read: (start, end) => createReadStream(path, { start, end: end - 1, highWaterMark: 64 * 1024 }),
  };
}

/** The files of a checkpoint folder (not recursive): name -> path. */
export function folderFiles(dir: string, only?: string[]): Record<string, ServedFile> {
  const out: Record<string, ServedFile> = {};
  for (const name of readdirSync(dir)) {
    if (only && !only.includes(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isFile())
      out[name] = statSync(path).size > 4 * 2 ** 20 ? { path } : { data: new Uint8Array(readFileSync(path)) };
  }
  return out;
}

export class FakeHub {
  readonly log: LoggedRequest[] = [];
  readonly faults = new Map<string, Fault>(); // by sha256, or '*' for every CDN blob
  /** Response headers replaced for "{repo}/{file}" (on the resolve URL). */
  readonly overrides = new Map<string, Record<string, string>>();
  private readonly counts = new Map<string, { failed: number; cut: number }>();
  origin = '';
  /** Where LFS files are redirected to: another port (another origin, as the real CDN is), unless sameOriginCdn. */
  cdnOrigin = '';
  private server: Server | undefined;
  private cdnServer: Server | undefined;
  private readonly repos = new Map<string, Repo>();
  private readonly renamed = new Map<string, string>();
  private readonly blobs = new Map<string, Blob>();
  private commitCounter = 0;
  token = 'hf_test_token';

  constructor(private readonly options: { staticRoot?: string; sameOriginCdn?: boolean } = {}) {}

  /** Adds a commit of `files` to `repo` and points `revision` (default main) at it; returns the commit hash. */
  addCommit(
    repo: string,
    files: Record<string, ServedFile>,
    options: { revision?: string; private?: boolean; gated?: boolean } = {},
  ): string {
    let r = this.repos.get(repo);
    if (!r) {
      r = {
        private: options.private ?? false,
        gated: options.gated ?? false,
        refs: new Map(),
        commits: new Map(),
      };
      this.repos.set(repo, r);
    }
    const commit = createHash('sha1')
      .update(`${repo}:${this.commitCounter++}`)
      .digest('hex');
    const map = new Map<string, Blob>();
    for (const [name, f] of Object.entries(files)) {
      const blob = makeBlob(name, f);
      map.set(name, blob);
      this.blobs.set(blob.sha256, blob);
    }
    r.commits.set(commit, map);
    r.refs.set(options.revision ?? 'main', commit);
    return commit;
  }

  rename(from: string, to: string): void {
    this.renamed.set(from, to);
  }

  blob(repo: string, file: string, revision = 'main'): Blob {
    const r = this.repos.get(repo)!;
    return r.commits.get(r.refs.get(revision) ?? revision)!.get(file)!;
  }

  requests(filter: (r: LoggedRequest) => boolean = () => true): LoggedRequest[] {
    return this.log.filter(filter);
  }

  private async listen(): Promise<{ server: Server; origin: string }> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((e) => {
        if (!res.headersSent) res.writeHead(500).end(String(e));
        else res.destroy();
      });
    });
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(0, '127.0.0.1', ok);
    });
    return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
  }

  async start(): Promise<this> {
    ({ server: this.server, origin: this.origin } = await this.listen());
    if (this.options.sameOriginCdn) this.cdnOrigin = this.origin;
    else ({ server: this.cdnServer, origin: this.cdnOrigin } = await this.listen());
    return this;
  }

  async close(): Promise<void> {
    for (const server of [this.server, this.cdnServer]) {
      if (!server) continue;
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    }
    this.server = this.cdnServer = undefined;
  }

  private record(req: IncomingMessage, path: string, status: number): void {
    this.log.push({
      method: req.method ?? '',
      path,
      range: req.headers.range,
      authorization: req.headers.authorization,
      status,
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = decodeURIComponent(url.pathname);
    const head = req.method === 'HEAD';
    const fail = (status: number, code?: string, extra: Record<string, string> = {}) => {
      this.record(req, path, status);
      res.writeHead(status, {
        'content-type': 'text/plain',
        ...(code ? { 'x-error-code': code } : {}),
        ...extra,
      });
      res.end(head ? undefined : `${status} ${code ?? ''}\n`);
    };
    if (req.method !== 'GET' && !head) return fail(405);

    const cdn = /^\/cdn\/([0-9a-f]{64})$/.exec(path);
    if (cdn) return this.serveBlob(req, res, path, cdn[1]);

    const m = /^\/(.+?)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (m) {
      const repoId = decodeURIComponent(m[1]);
      const revision = decodeURIComponent(m[2]);
      const file = decodeURIComponent(m[3]);
      const renamed = this.renamed.get(repoId);
      if (renamed) {
        this.record(req, path, 307);
        res.writeHead(307, { location: `/${renamed}/resolve/${m[2]}/${m[3]}` }).end();
        return;
      }
      const repo = this.repos.get(repoId);
      if (!repo) return fail(401, 'RepoNotFound'); // the hub answers 401 for unknown (possibly private) repos
      if (repo.private && req.headers.authorization !== `Bearer ${this.token}`)
        return fail(401, 'RepoNotFound');
      if (repo.gated && req.headers.authorization !== `Bearer ${this.token}`)
        return fail(req.headers.authorization ? 403 : 401, 'GatedRepo');
      const commit = repo.refs.get(revision) ?? (repo.commits.has(revision) ? revision : undefined);
      if (!commit) return fail(404, 'RevisionNotFound');
      const blob = repo.commits.get(commit)!.get(file);
      if (!blob) return fail(404, 'EntryNotFound', { 'x-repo-commit': commit });
      const override = this.overrides.get(`${repoId}/${file}`) ?? {};
      if (blob.lfs) {
        this.record(req, path, 302);
        res.writeHead(302, {
          location: `${this.cdnOrigin}/cdn/${blob.sha256}`,
          'x-repo-commit': commit,
          'x-linked-etag': `"${blob.sha256}"`,
          'x-linked-size': String(blob.size),
          etag: `"${blob.gitSha1 || blob.sha256}"`,
          ...override,
        });
        res.end();
        return;
      }
      this.record(req, path, 200);
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': String(blob.size),
        'x-repo-commit': commit,
        etag: `"${blob.gitSha1}"`,
        'accept-ranges': 'bytes',
        ...override,
      });
      if (head) res.end();
      else this.pipe(blob.read(0, blob.size), res, {});
      return;
    }

    if (this.options.staticRoot) return this.serveStatic(req, res, path);
    return fail(404);
  }

  private serveBlob(req: IncomingMessage, res: ServerResponse, path: string, sha256: string): void {
    const blob = this.blobs.get(sha256);
    if (!blob) {
      this.record(req, path, 404);
      res.writeHead(404).end();
      return;
    }
    const fault: Fault = { ...this.faults.get('*'), ...this.faults.get(sha256), size: blob.size };
    let count = this.counts.get(sha256);
    if (!count) this.counts.set(sha256, (count = { failed: 0, cut: 0 }));
    if (fault.failFirst !== undefined && count.failed < fault.failFirst) {
      count.failed++;
      this.record(req, path, 503);
      res.writeHead(503, { 'content-type': 'text/plain' }).end('busy\n');
      return;
    }
    if (fault.cutAfter !== undefined && fault.cuts !== undefined) {
      if (count.cut >= fault.cuts) fault.cutAfter = undefined;
      else count.cut++;
    }
    let start = 0;
    let end = blob.size;
    let status = 200;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (range && !fault.noRange) {
      start = Number(range[1]);
      end = range[2] ? Math.min(blob.size, Number(range[2]) + 1) : blob.size;
      if (start >= blob.size || start >= end) {
        this.record(req, path, 416);
        res.writeHead(416, { 'content-range': `bytes */${blob.size}` }).end();
        return;
      }
      status = 206;
    }
    this.record(req, path, status);
    const headers: Record<string, string> = {
      'content-type': 'application/octet-stream',
      'content-length': String(end - start),
      etag: `"${blob.sha256}"`,
      'accept-ranges': fault.noRange ? 'none' : 'bytes',
    };
    if (status === 206) headers['content-range'] = `bytes ${start}-${end - 1}/${blob.size}`;
    res.writeHead(status, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    this.pipe(blob.read(start, end), res, fault, start);
  }

  /** Writes the body, applying a fault: a cut after `cutAfter` bytes of the file, a slow rate, a flipped byte. */
  private pipe(body: NodeJS.ReadableStream | Uint8Array, res: ServerResponse, fault: Fault, start = 0): void {
    const source: AsyncIterable<Uint8Array> =
      body instanceof Uint8Array
        ? (async function* () {
            for (let i = 0; i < body.byteLength; i += 64 * 1024) yield body.subarray(i, i + 64 * 1024);
          })()
        : (body as AsyncIterable<Uint8Array>);
    void (async () => {
      let at = start;
      try {
        for await (let piece of source) {
          if (res.destroyed) return;
          if (
            fault.pause &&
            fault.pauseAt !== undefined &&
            at <= fault.pauseAt &&
            at + piece.byteLength > fault.pauseAt
          ) {
            const before = fault.pauseAt - at;
            await new Promise<void>((ok) => res.write(piece.subarray(0, before), () => ok()));
            await fault.pause.hit();
            if (res.destroyed) return;
            piece = piece.subarray(before);
            at += before;
          }
          if (fault.corrupt && at + piece.byteLength === fault.size) {
            piece = Uint8Array.from(piece); // the last byte flipped: past the header, so only the hash can tell
            piece[piece.byteLength - 1] ^= 0xff;
          }
          if (fault.cutAfter !== undefined && at + piece.byteLength >= fault.cutAfter) {
            const keep = Math.max(0, fault.cutAfter - at);
            await new Promise<void>((ok) => res.write(piece.subarray(0, keep), () => ok()));
            res.socket?.destroy();
            return;
          }
          if (fault.trickle) {
            const { bytes, everyMs } = fault.trickle;
            for (let i = 0; i < piece.byteLength; i += bytes) {
              if (res.destroyed) return;
              res.write(piece.subarray(i, i + bytes));
              await new Promise((ok) => setTimeout(ok, everyMs));
            }
          } else if (fault.bytesPerSecond) {
            for (let i = 0; i < piece.byteLength; i += 4096) {
              if (res.destroyed) return;
              res.write(piece.subarray(i, i + 4096));
              await new Promise((ok) => setTimeout(ok, (4096 / fault.bytesPerSecond!) * 1000));
            }
          } else if (!res.write(piece)) {
            await new Promise((ok) => res.once('drain', ok));
          }
          at += piece.byteLength;
        }
        res.end();
      } catch {
        res.destroy();
      }
    })();
  }

  private serveStatic(req: IncomingMessage, res: ServerResponse, path: string): void {
    if (path.startsWith('/gzip/')) {
      this.serveGzip(req, res, path);
      return;
    }
    const base = resolve(this.options.staticRoot!);
    const file = resolve(base, `.${path}`);
    const ok = (file === base || file.startsWith(base + sep)) && existsSync(file) && statSync(file).isFile();
    this.record(req, path, ok ? 200 : 404);
    if (!ok) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${path}\n`);
      return;
    }
    res.writeHead(200, {
      'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': statSync(file).size,
      'cache-control': 'no-store',
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  }

  /**
   * /gzip/{path}: the static file at {path}, always gzipped (Content-Encoding: gzip, cacheable),
   * and a Range answered with those bytes of the compressed body, as a cache that stored the
   * compressed response answers it.
   */
  private serveGzip(req: IncomingMessage, res: ServerResponse, path: string): void {
    const base = resolve(this.options.staticRoot!);
    const file = resolve(base, `.${path.slice('/gzip'.length)}`);
    const ok = file.startsWith(base + sep) && existsSync(file) && statSync(file).isFile();
    if (!ok) {
      this.record(req, path, 404);
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${path}\n`);
      return;
    }
    const body = gzipSync(readFileSync(file));
    const headers: Record<string, string> = {
      'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
      'content-encoding': 'gzip',
      'cache-control': 'max-age=3600',
      etag: `"gz-${createHash('sha1').update(body).digest('hex')}"`,
      'accept-ranges': 'bytes',
    };
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    let part = body;
    let status = 200;
    if (range) {
      const start = Math.min(Number(range[1]), body.byteLength);
      const end = range[2] ? Math.min(body.byteLength, Number(range[2]) + 1) : body.byteLength;
      part = body.subarray(start, end);
      status = 206;
      headers['content-range'] = `bytes ${start}-${end - 1}/${body.byteLength}`;
    }
    headers['content-length'] = String(part.byteLength);
    this.record(req, path, status);
    res.writeHead(status, headers);
    res.end(req.method === 'HEAD' ? undefined : part);
  }
}

/** A loopback port nothing listens on (a server opened there is closed again); fetch refuses some fixed ones (9, 1) as "bad ports". */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((ok) => server.close(() => ok()));
  return port;
}
