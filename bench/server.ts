// The static server of the browser benchmarks: like tools/chromium.ts's serveStatic (the
// repository, GET and HEAD, 127.0.0.1, a free port, its content types), plus what onnxruntime-web
// needs and that one lacks: cross-origin isolation (COOP/COEP, so SharedArrayBuffer and wasm threads
// exist), application/wasm, and folders outside the repository mounted under a URL prefix (the ONNX
// model in ../shared/bench, a checkpoint folder given by path).
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, resolve, sep } from 'node:path';
import { CONTENT_TYPES as STATIC_TYPES, listenOnLoopback } from '../tools/chromium.js';

const CONTENT_TYPES: Record<string, string> = { ...STATIC_TYPES, '.wasm': 'application/wasm' };

export interface BenchServer {
  /** http://127.0.0.1:PORT, no trailing slash. */
  origin: string;
  /** Every request, as `STATUS METHOD /path`, for failure messages. */
  log: string[];
  close(): Promise<void>;
}

/** `mounts` maps a URL prefix ("/models/") to a folder; everything else is served from `root`. */
export async function serveBench(root: string, mounts: Record<string, string> = {}): Promise<BenchServer> {
  const bases: [string, string][] = [
    ...Object.entries(mounts).map(([prefix, dir]): [string, string] => [
      prefix.endsWith('/') ? prefix : `${prefix}/`,
      resolve(dir),
    ]),
    ['/', resolve(root)],
  ];
  const log: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    const [prefix, base] = bases.find(([p]) => path.startsWith(p))!;
    const file = resolve(base, `.${path.slice(prefix.length - 1)}`);
    const inside = file === base || file.startsWith(base + sep);
    const method = req.method === 'GET' || req.method === 'HEAD';
    const ok = method && inside && existsSync(file) && statSync(file).isFile();
    log.push(`${ok ? 200 : 404} ${req.method} ${path}`);
    const headers = {
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-embedder-policy': 'require-corp',
      'cross-origin-resource-policy': 'same-origin',
      'cache-control': 'no-store',
    };
    if (!ok) {
      res.writeHead(method ? 404 : 405, { ...headers, 'content-type': 'text/plain' });
      res.end(`not found: ${path}\n`);
      return;
    }
    res.writeHead(200, {
      ...headers,
      'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': statSync(file).size,
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  return listenOnLoopback(server, log);
}
