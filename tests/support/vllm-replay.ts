/**
 * A fake vLLM OpenAI-compatible server that replays recorded responses.
 *
 * vLLM cannot run here (no GPU, no PyPI), so the bodies in tests/fixtures/vllm/ are NOT captured from
 * a running server: they are shapes reconstructed from vLLM's source (protocol.py, serving.py,
 * instrumentator/health.py, v1/metrics/loggers.py; see tests/fixtures/vllm/README.md) with
 * illustrative values. What the adapter learns here is the documented contract, not a measured one.
 *
 * Each route can be overridden per test: another status/body, `close` (the socket is destroyed
 * before any byte is sent) or `hang` (no answer at all, for timeouts).
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export const VLLM_FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'vllm');

export type ReplayReply = { status?: number; body?: string; contentType?: string } | 'close' | 'hang';

export interface ReplayServer {
  url: string;
  /** Paths requested so far, in order. */
  requests: string[];
  close(): Promise<void>;
}

export function vllmFixture(name: string): string {
  return readFileSync(join(VLLM_FIXTURES, name), 'utf8');
}

/** The routes of a healthy vLLM 0.11 server serving one model. */
export function vllmRoutes(): Record<string, ReplayReply> {
  return {
    '/health': { status: 200, body: '' },
    '/version': { body: vllmFixture('version.json') },
    '/v1/models': { body: vllmFixture('v1_models.json') },
    '/metrics': { body: vllmFixture('metrics.txt'), contentType: 'text/plain; version=0.0.4; charset=utf-8' }
  };
}

/** Serves `routes` on 127.0.0.1 (an ephemeral port); unknown paths get vLLM's 404 body. */
export async function startReplayServer(routes: Record<string, ReplayReply>): Promise<ReplayServer> {
  const requests: string[] = [];
  const server: Server = createServer((request, response) => {
    const path = request.url ?? '/';
    requests.push(path);
    const reply = routes[path] ?? {
      status: 404,
      body: '{"error":{"message":"Not Found","type":"NotFoundError","param":null,"code":404}}'
    };
    if (reply === 'close') {
      request.socket.destroy();
      return;
    }
    if (reply === 'hang') return;
    const body = reply.body ?? '';
    const contentType =
      reply.contentType ?? (body.trimStart().startsWith('{') || body.trimStart().startsWith('[') ? 'application/json' : 'text/plain');
    response.writeHead(reply.status ?? 200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
    response.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        // Hanging requests would keep the server open forever.
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      })
  };
}
