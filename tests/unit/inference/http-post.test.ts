import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

import { afterEach, describe, expect, it } from 'vitest';

import { createHttpPost, HttpPostError, httpPost } from '../../../src/inference/http-post.ts';
import { isStaleConnection } from '../../../src/runner/metered/proxy.ts';
import { DRAIN_MAX_BYTES, eachPiece, readBodyText } from '../../../src/sdk/bounded-body.ts';

const closers: Array<() => void> = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

/** An HTTP server counting the connections it accepted; `handle` answers each request. */
async function server(handle: Parameters<typeof createHttpServer>[1]): Promise<{ url: string; connections: () => number }> {
  const s: Server = createHttpServer(handle);
  let connections = 0;
  s.on('connection', () => (connections += 1));
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  closers.push(() => {
    s.closeAllConnections();
    s.close();
  });
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, connections: () => connections };
}

const post = (url: string, body = '{}', signal?: AbortSignal) =>
  httpPost(new URL('/v1/chat/completions', url), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    ...(signal ? { signal } : {})
  });

const sse = (n: number): string[] => [...Array.from({ length: n }, (_, i) => `data: {"i":${i}}\n\n`), 'data: [DONE]\n\n'];

describe('httpPost (Node’s HTTP client for the paid path’s hops)', () => {
  it('sends the body with its length and headers, and answers status, headers and the body as it arrives', async () => {
    const s = await server((req, res) => {
      let got = '';
      req.on('data', (c: Buffer) => (got += c.toString()));
      req.on('end', () => {
        res.writeHead(201, { 'content-type': 'application/json', 'x-echo-length': req.headers['content-length'] ?? '' });
        res.end(JSON.stringify({ got }));
      });
    });
    const answer = await post(s.url, '{"é":1}');
    expect(answer).toMatchObject({ ok: true, status: 201 });
    expect(answer.headers.get('Content-Type')).toBe('application/json');
    expect(answer.headers.get('x-echo-length')).toBe(String(Buffer.byteLength('{"é":1}')));
    expect(answer.headers.get('x-absent')).toBeNull();
    expect(JSON.parse((await readBodyText(answer, 1024)).text)).toEqual({ got: '{"é":1}' });
    const refused = await post((await server((_req, res) => res.writeHead(402).end('no credit'))).url);
    expect(refused).toMatchObject({ ok: false, status: 402 });
    expect((await readBodyText(refused, 1024)).text).toBe('no credit');
  });

  it('keeps connections alive: requests read to their end share one connection', async () => {
    const s = await server((_req, res) => res.end('ok'));
    for (let i = 0; i < 5; i++) expect((await readBodyText(await post(s.url), 64)).text).toBe('ok');
    expect(s.connections()).toBe(1);
  });

  it('a stream read to its [DONE] (`done`) drains what follows, so its connection is reused', async () => {
    const s = await server((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const event of sse(3)) res.write(event);
      // The chunked body's end comes after [DONE], in a later write.
      setTimeout(() => res.end(), 20);
    });
    for (let i = 0; i < 3; i++) {
      let text = '';
      const ended = await eachPiece((await post(s.url)).body!, (piece) => {
        text += typeof piece === 'string' ? piece : Buffer.from(piece).toString();
        return text.includes('[DONE]') ? 'done' : true;
      });
      expect(ended).toBe(false);
      expect(text).toContain('data: [DONE]');
      // The body's end arrives meanwhile, drained: the connection goes back to the pool.
      await new Promise((resolve) => setTimeout(resolve, 60));
    }
    expect(s.connections()).toBe(1);
  });

  it('attack: a runner padding its answer after [DONE] gains nothing: past DRAIN_MAX_BYTES the connection is dropped', async () => {
    let closed = 0;
    const s = await server((req, res) => {
      req.socket.once('close', () => (closed += 1));
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(sse(1).join(''));
      const pad = ': pad\n'.repeat(4096);
      const more = (): void => {
        if (res.destroyed) return;
        res.write(pad);
        setTimeout(more, 1);
      };
      setTimeout(more, 5);
    });
    await eachPiece((await post(s.url)).body!, (piece) => (String(piece).includes('[DONE]') ? 'done' : true));
    await expect.poll(() => closed, { timeout: 5_000 }).toBe(1);
    expect(DRAIN_MAX_BYTES).toBeLessThan(1024 * 1024);
  });

  it('`stop` (a body over its bound) drops the connection at once: the next request opens another', async () => {
    const s = await server((_req, res) => res.end('x'.repeat(100_000)));
    expect(await readBodyText(await post(s.url), 10)).toEqual({ text: 'x'.repeat(10), truncated: true });
    expect((await readBodyText(await post(s.url), 200_000)).text).toHaveLength(100_000);
    expect(s.connections()).toBe(2);
  });

  it('never sends a request twice: a reused connection reset before any answer fails, marked reused; the next opens another', async () => {
    // A raw server: its first connection answers one request with keep-alive, then is cut at the next one unanswered.
    let connections = 0;
    let requests = 0;
    const raw: NetServer = createNetServer((socket: Socket) => {
      const mine = ++connections;
      let answered = 0;
      socket.on('data', (data) => {
        if (!data.toString().startsWith('POST')) return;
        requests += 1;
        if (mine === 1 && answered === 1) return void socket.destroy();
        answered += 1;
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok');
      });
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    closers.push(() => raw.close());
    const url = `http://127.0.0.1:${(raw.address() as AddressInfo).port}`;
    expect((await readBodyText(await post(url), 64)).text).toBe('ok');
    const error = await post(url).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpPostError);
    expect(error).toMatchObject({ code: 'ConnectionFailed', details: { errno: 'ECONNRESET', reused: true } });
    expect(isStaleConnection(error)).toBe(true);
    expect({ connections, requests }).toEqual({ connections: 1, requests: 2 });
    expect((await readBodyText(await post(url), 64)).text).toBe('ok');
    expect({ connections, requests }).toEqual({ connections: 2, requests: 3 });
  });

  it('attack: a peer that accepts and never answers (or stops mid-body) fails the request after its inactivity timeout', async () => {
    const silent = await server(() => undefined);
    const quick = createHttpPost({ inactivityTimeoutMs: 150 });
    const send = (url: string) => quick(new URL('/x', url), { method: 'POST', headers: {}, body: '{}' });
    await expect(send(silent.url)).rejects.toMatchObject({ code: 'ConnectionFailed', details: { errno: 'ETIMEDOUT' } });
    const stalls = await server((_req, res) => {
      res.writeHead(200);
      res.write('data: 1\n\n');
    });
    const answer = await send(stalls.url);
    await expect(eachPiece(answer.body!, () => true)).rejects.toBeDefined();
  });

  it('fails with HttpPostError ConnectionFailed (the errno in details) where nothing listens, without a resend', async () => {
    const s = await server((_req, res) => res.end());
    const url = s.url;
    for (const close of closers.splice(0)) close();
    const error = await post(url).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpPostError);
    expect(error).toMatchObject({ code: 'ConnectionFailed', retryable: true, details: { errno: 'ECONNREFUSED', reused: false } });
    expect(isStaleConnection(error)).toBe(false);
  });

  it('refuses another protocol with UnsupportedProtocol', async () => {
    await expect(httpPost(new URL('ftp://127.0.0.1/x'), { method: 'POST', headers: {} })).rejects.toMatchObject({
      code: 'UnsupportedProtocol'
    });
  });

  it('an abort before the answer rejects with the AbortError; one during the body fails its read', async () => {
    const s = await server((_req, res) => {
      res.writeHead(200);
      res.write('data: 1\n\n');
    });
    const early = new AbortController();
    early.abort();
    await expect(post(s.url, '{}', early.signal)).rejects.toMatchObject({ name: 'AbortError' });
    const late = new AbortController();
    const answer = await post(s.url, '{}', late.signal);
    const read = eachPiece(answer.body!, () => void late.abort());
    await expect(read).rejects.toBeDefined();
  });

  it('a body cut before anyone read it fails the read at once instead of waiting forever', async () => {
    const s = await server((_req, res) => {
      res.writeHead(200);
      res.write('partial');
      setTimeout(() => res.destroy(), 10);
    });
    const answer = await post(s.url);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await expect(eachPiece(answer.body!, () => true)).rejects.toBeDefined();
  });
});
