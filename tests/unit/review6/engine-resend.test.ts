import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import type { AddressInfo } from 'node:net';

import { afterEach, describe, expect, it } from 'vitest';

import { httpPost } from '../../../src/inference/http-post.ts';
import { isStaleConnection } from '../../../src/runner/metered/proxy.ts';

const closers: Array<() => void> = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

describe('review 6: the runner resends an engine request httpPost already resent', () => {
  it('an engine that drops a fresh connection after reading the request: httpPost’s error still reads as stale to serveUpstream', async () => {
    let requests = 0;
    const raw: NetServer = createNetServer((socket) => {
      socket.on('data', (data) => {
        if (!data.toString().includes('\r\n\r\n')) return;
        requests += 1;
        socket.destroy(); // llama-server crashing on this prompt (a poison request), every time
      });
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    closers.push(() => raw.close());
    const url = new URL('/v1/chat/completions', `http://127.0.0.1:${(raw.address() as AddressInfo).port}`);
    const error = await httpPost(url, { method: 'POST', headers: {}, body: '{}' }).catch((e: unknown) => e);
    expect(requests).toBe(1); // a fresh connection: httpPost did not resend
    // serveUpstream: `if (!isStaleConnection(error) || aborted) throw error; return send();` — a fresh connection's
    // reset is not a stale kept-alive socket, yet it is resent (and httpPost may resend that one once more itself).
    expect(isStaleConnection(error)).toBe(false); // failed before the review-6 fixes
  });

  it('serveUpstream’s resend on top of httpPost’s: a request that kills the engine reaches it 3 times (fetch: 2)', async () => {
    let requests = 0;
    let poisoned = 0;
    const raw: NetServer = createNetServer((socket) => {
      socket.on('data', (data) => {
        const text = data.toString();
        if (!text.includes('\r\n\r\n')) return;
        requests += 1;
        if (text.includes('poison')) {
          poisoned += 1;
          return void socket.destroy();
        }
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok');
      });
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    closers.push(() => raw.close());
    const url = new URL('/v1/chat/completions', `http://127.0.0.1:${(raw.address() as AddressInfo).port}`);
    const post = (body: string) => httpPost(url, { method: 'POST', headers: {}, body });
    const warm = await post('{}');
    for await (const _ of warm.body as AsyncIterable<unknown>) void _;
    await new Promise((resolve) => setTimeout(resolve, 20));
    // serveUpstream's send, as written in src/runner/metered/server.ts.
    await post('{"poison":1}')
      .catch((error: unknown) => {
        if (!isStaleConnection(error)) throw error;
        return post('{"poison":1}');
      })
      .catch(() => undefined);
    expect(requests).toBeGreaterThan(1);
    expect(poisoned).toBeLessThanOrEqual(2); // failed before the review-6 fixes
  });
});
