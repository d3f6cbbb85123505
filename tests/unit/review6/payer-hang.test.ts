import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { Ed25519KeyIdentity } from '@dfinity/identity';
import { afterEach, describe, expect, it } from 'vitest';

import { httpPost } from '../../../src/inference/http-post.ts';
import { PayerClient } from '../../../src/sdk/paid/payer.ts';
import { MemoryCredit } from '../../support/credit.ts';

const closers: Array<() => void> = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

async function runner(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; open: () => number }> {
  const s: Server = createServer(handle);
  s.keepAliveTimeout = 60_000;
  let open = 0;
  s.on('connection', (socket) => {
    open += 1;
    socket.on('close', () => (open -= 1));
  });
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  closers.push(() => {
    s.closeAllConnections();
    s.close();
  });
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, open: () => open };
}

const settledWithin = async (p: Promise<unknown>, ms: number): Promise<boolean> =>
  Promise.race([
    p.then(
      () => true,
      () => true
    ),
    new Promise<boolean>((r) => setTimeout(() => r(false), ms))
  ]);

describe('review 6: the payer on httpPost (no timeouts, bodies left unread)', () => {
  it('attack: a runner that cuts a stream, then never answers GET /charges, holds every later send forever (the request signal is ignored)', async () => {
    const identity = Ed25519KeyIdentity.generate();
    const payer = identity.getPrincipal().toText();
    const runnerId = Ed25519KeyIdentity.generate().getPrincipal().toText();
    const credit = new MemoryCredit();
    await credit.payer(payer).depositCredit(100_000_000n);
    let chargesAsked = 0;
    const r = await runner((req, res) => {
      if (req.method === 'GET') {
        chargesAsked += 1;
        return; // never answers: no timeout on httpPost (fetch had undici's 300 s headersTimeout)
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"choices":[{"delta":{"content":"a"}}]}\n\n');
      setTimeout(() => res.destroy(), 20); // cut: the payer notes an unbilled request and asks /charges next time
    });
    const client = await PayerClient.open({ identity, credit: credit.payer(payer), fetch: httpPost, settleEveryMs: 0 });
    const target = { runner: runnerId, endpoint: r.url, prices: { inputPerMillion: 1_000n, outputPerMillion: 1_000n } };
    const request = { path: '/v1/chat/completions' as const, body: { stream: true, messages: [{ role: 'user', content: 'hi' }] } };
    await expect(client.send(target, request)).rejects.toBeDefined();
    // The gateway aborts its attempt after its timeout (attemptTimeoutMs): here 100 ms.
    const second = client.send(target, { ...request, signal: AbortSignal.timeout(100) });
    const settled = await settledWithin(second, 2_000);
    expect(chargesAsked).toBe(1);
    expect(settled).toBe(true); // failed before the review-6 fixes
  });

  it('attack: reconcile leaves a non-OK /charges body unread: each one pins a connection (fd) as long as the runner keeps it', async () => {
    const identity = Ed25519KeyIdentity.generate();
    const payer = identity.getPrincipal().toText();
    const runnerId = Ed25519KeyIdentity.generate().getPrincipal().toText();
    const credit = new MemoryCredit();
    await credit.payer(payer).depositCredit(100_000_000n);
    const r = await runner((req, res) => {
      if (req.method === 'GET') return void res.writeHead(500, { 'content-type': 'text/plain' }).end('busy');
      res.writeHead(402, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'unpaid', code: 'unpaid_charges' } }));
    });
    const client = await PayerClient.open({ identity, credit: credit.payer(payer), fetch: httpPost, settleEveryMs: 0 });
    const target = { runner: runnerId, endpoint: r.url, prices: { inputPerMillion: 1_000n, outputPerMillion: 1_000n } };
    const request = { path: '/v1/chat/completions' as const, body: { messages: [{ role: 'user', content: 'hi' }] } };
    for (let i = 0; i < 5; i++) await client.send(target, request);
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Each send: a POST (402 unpaid_charges: read, its socket reused) and a GET /charges (500: never read, never freed).
    expect(r.open()).toBeLessThanOrEqual(2); // failed before the review-6 fixes
  });
});
