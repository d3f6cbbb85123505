import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

import { afterEach, describe, expect, it } from 'vitest';

import { httpPost } from '../../../src/inference/http-post.ts';
import { readBodyText } from '../../../src/sdk/bounded-body.ts';

const closers: Array<() => void> = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

describe('review 6: httpPost never resends a request the server may have read', () => {
  it('a reused connection cut after the server read the whole (signed) request: the same bytes are sent again', async () => {
    const bodies: string[] = [];
    const raw: NetServer = createNetServer((socket: Socket) => {
      let answered = 0;
      let buffered = '';
      socket.on('data', (data) => {
        buffered += data.toString();
        const at = buffered.indexOf('\r\n\r\n');
        if (at < 0) return;
        const length = Number(/content-length: (\d+)/i.exec(buffered)?.[1] ?? 0);
        if (buffered.length < at + 4 + length) return;
        bodies.push(buffered.slice(at + 4, at + 4 + length));
        buffered = '';
        // The second request on this connection is read whole, then the server (a runner that crashed while serving,
        // a proxy in front of it) drops the connection without an answer.
        if (answered === 1) return void socket.destroy();
        answered += 1;
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok');
      });
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    closers.push(() => raw.close());
    const url = new URL('/v1/chat/completions', `http://127.0.0.1:${(raw.address() as AddressInfo).port}`);
    const post = (body: string) => httpPost(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    await readBodyText(await post('{"nonce":"1"}'), 64);
    // Fixed: nothing is sent twice; the failure says the connection was reused (the caller decides).
    await expect(post('{"nonce":"2"}')).rejects.toMatchObject({ code: 'ConnectionFailed', details: { reused: true } });
    expect(bodies.filter((b) => b === '{"nonce":"2"}')).toHaveLength(1);
  });
});
