import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';

/** What the page reads from /config.json (see app/config.ts). */
export interface ExplorerPageConfig {
  host: string;
  registry: string;
  ledger?: string;
  pollMs?: number;
}

export interface RunningExplorer {
  url: string;
  port: number;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon'
};

const HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  // The page talks to the configured IC host only through fetch; nothing else is loaded from elsewhere.
  'content-security-policy':
    "default-src 'self'; connect-src 'self' http: https:; img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
};

/** Serves the built page from `dir` and `config` as /config.json, on loopback. Static files only, GET and HEAD. */
export function createExplorerServer(dir: string, config: ExplorerPageConfig): Server {
  const root = resolve(dir);
  const configBody = JSON.stringify(config, null, 2);
  return createServer((request, response) => {
    const send = (status: number, type: string, body: string | Buffer): void => {
      response.writeHead(status, {
        ...HEADERS,
        'content-type': type,
        'content-length': Buffer.byteLength(body),
        'cache-control': 'no-cache'
      });
      response.end(request.method === 'HEAD' ? undefined : body);
    };
    if (request.method !== 'GET' && request.method !== 'HEAD') return send(405, 'text/plain; charset=utf-8', 'Method not allowed');
    let path: string;
    try {
      path = decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname);
    } catch {
      return send(400, 'text/plain; charset=utf-8', 'Bad path');
    }
    if (path === '/config.json') return send(200, TYPES['.json'] ?? '', configBody);
    const file = resolve(join(root, path.endsWith('/') ? `${path}index.html` : path));
    if (file !== root && !file.startsWith(root + sep)) return send(404, 'text/plain; charset=utf-8', 'Not found');
    readFile(file).then(
      (body) => send(200, TYPES[extname(file)] ?? 'application/octet-stream', body),
      () => send(404, 'text/plain; charset=utf-8', 'Not found')
    );
  });
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolveListen((server.address() as AddressInfo).port);
    });
  });
}

/** Starts the server; when `port` is taken and `fallbackToFreePort` is set, a free port is used instead. */
export async function serveExplorer(options: {
  dir: string;
  config: ExplorerPageConfig;
  port: number;
  host?: string;
  fallbackToFreePort?: boolean;
}): Promise<RunningExplorer> {
  const host = options.host ?? '127.0.0.1';
  let server = createExplorerServer(options.dir, options.config);
  let port: number;
  try {
    port = await listen(server, options.port, host);
  } catch (error) {
    const inUse = typeof error === 'object' && error !== null && 'code' in error && error.code === 'EADDRINUSE';
    if (!inUse || options.fallbackToFreePort !== true) throw error;
    server = createExplorerServer(options.dir, options.config);
    port = await listen(server, 0, host);
  }
  const running = server;
  return {
    url: `http://${host}:${port}/`,
    port,
    close: () => new Promise<void>((done) => running.close(() => done()))
  };
}
