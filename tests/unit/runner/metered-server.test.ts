/**
 * The metered server's HTTP edge with a stand-in engine and MemoryCredit: what is refused before the body is read, the
 * order of line and nonce checks, the connection cap, the charges a payer never saw (listed, then its debt), and the
 * held receipt returned with a 409.
 */
import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Ed25519KeyIdentity } from '@dfinity/identity';
import { afterEach, describe, expect, it } from 'vitest';

import {
  authHeaders,
  receiptSigningBytes,
  requestSigningBytes,
  signedReceiptToJson,
  type Receipt,
  type RequestToSign
} from '../../../src/core/credit/index.js';
import { startMeteredServer, type MeteredServer, type MeteredServerOptions } from '../../../src/runner/metered/server.js';
import { MemoryCredit } from '../../support/credit.js';

const PRICES = { inputPerMillion: 1_000_000n, outputPerMillion: 1_000_000n };
const CHAT = { model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 };

/** An engine answering every plain request with 3 + 1 tokens, and streams that break after one chunk. */
const engine = (async (_url: unknown, init?: RequestInit) => {
  const body = JSON.parse(String(init?.body)) as { stream?: boolean };
  if (body.stream === true)
    return new Response(
      new ReadableStream({
        start(c) {
          c.enqueue(new TextEncoder().encode('data: {"choices":[{"delta":{"content":"a"}}]}\n\n'));
          c.error(new Error('engine died'));
        }
      }),
      { status: 200, headers: { 'content-type': 'text/event-stream' } }
    );
  return Response.json({
    choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 }
  });
}) as typeof fetch;

const servers: MeteredServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function setup(extra: Partial<MeteredServerOptions> = {}) {
  const runner = Ed25519KeyIdentity.generate().getPrincipal().toText();
  const identity = Ed25519KeyIdentity.generate();
  const payer = identity.getPrincipal().toText();
  const credit = new MemoryCredit();
  await credit.payer(payer).depositCredit(100_000_000n);
  const line = await credit.payer(payer).reserveCredit(runner, 10_000_000n);
  const server = await startMeteredServer({
    runner,
    engineUrl: 'http://engine.invalid',
    engineModel: 'm',
    models: [{ id: 'm', prices: PRICES }],
    credit: credit.runner(runner),
    receiptsFile: join(mkdtempSync(join(tmpdir(), 'deai-edge-')), 'r.json'),
    settleCheckMs: 0,
    fetch: engine,
    ...extra
  });
  servers.push(server);
  /** Signs and sends one request (POST of `body`, or a GET of `path`) as `who` on `lineId`. */
  async function send(
    o: {
      who?: Ed25519KeyIdentity;
      lineId?: bigint;
      body?: unknown;
      path?: string;
      nonce?: Uint8Array;
      headers?: Record<string, string>;
    } = {}
  ): Promise<Response> {
    const who = o.who ?? identity;
    const method = o.path?.startsWith('/deai/v1/charges') ? 'GET' : 'POST';
    const text = method === 'GET' ? '' : JSON.stringify(o.body ?? CHAT);
    const toSign: RequestToSign = {
      runner,
      lineId: o.lineId ?? line.id,
      method,
      path: o.path ?? '/v1/chat/completions',
      body: new TextEncoder().encode(text),
      nonce: o.nonce ?? crypto.getRandomValues(new Uint8Array(16)),
      expiresAtNs: BigInt((extra.nowMs ?? Date.now)() + 30_000) * 1_000_000n
    };
    const signature = new Uint8Array(await who.sign(requestSigningBytes(toSign)));
    const headers = { 'content-type': 'application/json', ...authHeaders(toSign, new Uint8Array(who.getPublicKey().toDer()), signature) };
    return fetch(`${server.url}${toSign.path}`, {
      method,
      headers: { ...headers, ...o.headers },
      ...(method === 'POST' ? { body: text } : {})
    });
  }
  async function receipt(seq: bigint, owedE8s: bigint): Promise<string> {
    const r: Receipt = { lineId: line.id, payer, runner, seq, owedE8s, inputTokens: seq, outputTokens: seq, requests: seq };
    const signature = new Uint8Array(await identity.sign(receiptSigningBytes(r)));
    return JSON.stringify(signedReceiptToJson({ receipt: r, publicKey: new Uint8Array(identity.getPublicKey().toDer()), signature }));
  }
  return { runner, identity, payer, credit, line, server, send, receipt };
}

const codeOf = async (r: Response): Promise<[number, string]> => [r.status, ((await r.json()) as { error: { code: string } }).error.code];

describe('metered server: refusals before the body, nonces after the line', () => {
  it('attack: a throwaway key naming someone else’s line records no nonce: the owner may still use it (finding 5)', async () => {
    const s = await setup();
    const nonce = crypto.getRandomValues(new Uint8Array(16));
    // Throwaway keys without a line of their own, many of them, each with the nonce the owner will use.
    for (let i = 0; i < 5; i++)
      expect(await codeOf(await s.send({ who: Ed25519KeyIdentity.generate(), nonce }))).toEqual([402, 'not_your_line']);
    expect(await codeOf(await s.send({ who: Ed25519KeyIdentity.generate(), lineId: 999n, nonce }))).toEqual([402, 'no_credit_line']);
    expect((await s.send({ nonce })).status).toBe(200);
    expect(await codeOf(await s.send({ nonce }))).toEqual([401, 'replayed_nonce']);
  });

  it('attack: refuses unsigned requests and oversized bodies before reading the body (finding 15)', async () => {
    const s = await setup({ maxBodyBytes: 1_000 });
    const { hostname, port } = new URL(s.server.url);
    /** Sends headers and a first part of a large body, never the rest: the answer must come anyway. */
    const partial = (headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const req = httpRequest({ host: hostname, port, method: 'POST', path: '/v1/chat/completions', headers }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
          req.destroy();
        });
        req.on('error', reject);
        req.write('x'.repeat(100));
      });
    expect(await partial({ 'content-length': '500', 'content-type': 'application/json' })).toBe(401);
    // Signed headers (for another body) with a declared length over the cap: 413 before any byte is read.
    const signed = await s.send();
    expect(signed.status).toBe(200);
    const big = await s.send({ body: { ...CHAT, pad: 'x'.repeat(2_000) } });
    expect(await codeOf(big)).toEqual([413, 'body_too_large']);
  }, 10_000);

  it('caps open connections', async () => {
    const s = await setup({ maxConnections: 2 });
    const { hostname, port } = new URL(s.server.url);
    const open = () =>
      new Promise<{ closed: Promise<void> }>((resolve) => {
        const socket = connect(Number(port), hostname, () => resolve({ closed: new Promise((done) => socket.on('close', () => done())) }));
        sockets.push(socket);
      });
    const sockets: ReturnType<typeof connect>[] = [];
    await open();
    await open();
    const third = await open();
    // The server drops a connection over the cap at once.
    await third.closed;
    expect(sockets[2]!.destroyed).toBe(true);
    expect(sockets[0]!.destroyed).toBe(false);
    sockets.forEach((x) => x.destroy());
  }, 10_000);
});

describe('metered server: charges the payer never saw', () => {
  it('attack: a broken stream’s charge is listed to its payer only, then times out into that payer’s debt, not a locked line (finding 6)', async () => {
    let now = Date.now();
    const s = await setup({ chargeAckMs: 60_000, nowMs: () => now, limits: { maxUnsignedRequests: 2 } });
    // Two broken streams: charged by the runner, never seen by the payer (its stream ended in an error event).
    for (let i = 0; i < 2; i++) await (await s.send({ body: { ...CHAT, stream: true } })).text();
    expect(await codeOf(await s.send())).toEqual([402, 'exposure_cap']);
    const path = `/deai/v1/charges?line=${s.line.id}`;
    const listed = (await (await s.send({ path })).json()) as { charges: Array<{ cost_e8s: string; owed_e8s: string }>; claim_e8s: string };
    expect(listed.charges).toHaveLength(2);
    expect(BigInt(listed.claim_e8s)).toBe(BigInt(listed.charges[1]!.owed_e8s));
    // Only the line's payer, signed, on the line it signed for.
    expect(await codeOf(await s.send({ path, who: Ed25519KeyIdentity.generate() }))).toEqual([402, 'not_your_line']);
    expect((await fetch(`${s.server.url}${path}`)).status).toBe(401);
    expect(await codeOf(await s.send({ path: `/deai/v1/charges?line=${s.line.id + 1n}` }))).toEqual([400, 'invalid_request']);
    // Unacknowledged past chargeAckMs: the payer is refused as a debtor (told how to clear it), on any line here.
    now += 61_000;
    expect(await codeOf(await s.send())).toEqual([402, 'unpaid_charges']);
    // It signs for them (a receipt reaching the claim): served again, the line never locked for good.
    const posted = await fetch(`${s.server.url}/deai/v1/receipts`, { method: 'POST', body: await s.receipt(1n, BigInt(listed.claim_e8s)) });
    expect(posted.status).toBe(200);
    expect((await s.send()).status).toBe(200);
  });
});

describe('metered server: a receipt behind the one held', () => {
  it('answers 409 with the held receipt, so a payer that lost its books resumes from it (finding 8)', async () => {
    const s = await setup();
    expect((await fetch(`${s.server.url}/deai/v1/receipts`, { method: 'POST', body: await s.receipt(5n, 500n) })).status).toBe(200);
    const stale = await fetch(`${s.server.url}/deai/v1/receipts`, { method: 'POST', body: await s.receipt(1n, 100n) });
    expect(stale.status).toBe(409);
    const body = (await stale.json()) as { held_receipt: { receipt: { seq: string; owedE8s: string } } };
    expect(body.held_receipt.receipt).toMatchObject({ seq: '5', owedE8s: '500' });
    // On a metered request, a newer seq owing less than held is refused the same way; an older one rides along.
    const lower = await s.send({ headers: { 'x-deai-receipt': await s.receipt(6n, 100n) } });
    expect(lower.status).toBe(409);
    expect(((await lower.json()) as { held_receipt?: unknown }).held_receipt).toBeDefined();
    expect((await s.send({ headers: { 'x-deai-receipt': await s.receipt(2n, 200n) } })).status).toBe(200);
  });
});
