import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Ed25519KeyIdentity } from '@dfinity/identity';
import { describe, expect, it } from 'vitest';

import { AUTH_HEADERS, chargeToJson, signedReceiptToJson } from '../../../src/core/credit/index.js';
import { startMeteredServer, type MeteredServerOptions } from '../../../src/runner/metered/server.js';
import { PayerClient } from '../../../src/sdk/paid/payer.js';
import { memoryPayerStore } from '../../../src/sdk/paid/state.js';
import { MemoryCredit } from '../../support/credit.js';

describe('PayerClient credit', () => {
  it('attack: a runner answering 402 insufficient_credit forever does not make the payer reserve again (finding 11)', async () => {
    const identity = Ed25519KeyIdentity.generate();
    const payer = identity.getPrincipal().toText();
    const runner = Ed25519KeyIdentity.generate().getPrincipal().toText();
    const credit = new MemoryCredit();
    await credit.payer(payer).depositCredit(100_000_000n);
    const refusing = (async () =>
      new Response(JSON.stringify({ error: { message: 'no credit', type: 'insufficient_quota', code: 'insufficient_credit' } }), {
        status: 402,
        headers: { 'content-type': 'application/json' }
      })) as typeof fetch;
    const client = await PayerClient.open({ identity, credit: credit.payer(payer), fetch: refusing, settleEveryMs: 0 });
    const target = { runner, endpoint: 'http://runner.invalid', prices: { inputPerMillion: 1_000n, outputPerMillion: 1_000n } };
    for (let i = 0; i < 3; i++) {
      const r = await client.send(target, { path: '/v1/chat/completions', body: { messages: [{ role: 'user', content: 'hi' }] } });
      expect(r).toMatchObject({ ok: false, status: 402 });
    }
    expect(credit.calls.filter((c) => c === 'reserveCredit')).toHaveLength(1);
    expect(credit.account(payer).freeE8s).toBe(90_000_000n);
  });

  it('attack: a runner answering an endless body is read up to the bound only, then cut (review 5 G5)', async () => {
    const identity = Ed25519KeyIdentity.generate();
    const payer = identity.getPrincipal().toText();
    const runner = Ed25519KeyIdentity.generate().getPrincipal().toText();
    const credit = new MemoryCredit();
    await credit.payer(payer).depositCredit(100_000_000n);
    let pulledBytes = 0;
    let cancelled = 0;
    let status = 500;
    const endless = (async () =>
      new Response(
        new ReadableStream<Uint8Array>({
          pull(c) {
            // Endless as far as the bound goes (100 MiB, so that a reader without a bound ends too).
            if (pulledBytes >= 100 * 1024 * 1024) return c.close();
            pulledBytes += 1024 * 1024;
            c.enqueue(new Uint8Array(1024 * 1024).fill(0x20));
          },
          cancel: () => void cancelled++
        }),
        { status, headers: { 'content-type': 'application/json' } }
      )) as typeof fetch;
    const client = await PayerClient.open({ identity, credit: credit.payer(payer), fetch: endless, settleEveryMs: 0 });
    const target = { runner, endpoint: 'http://runner.invalid', prices: { inputPerMillion: 1_000n, outputPerMillion: 1_000n } };
    const request = { path: '/v1/chat/completions' as const, body: { messages: [{ role: 'user', content: 'hi' }] } };
    // An error body: its first 64 KiB are read for the message.
    expect(await client.send(target, request)).toMatchObject({ ok: false, status: 500 });
    // (The stream queues one chunk ahead of the reader.)
    expect(pulledBytes).toBeLessThanOrEqual(2 * 1024 * 1024);
    expect(cancelled).toBe(1);
    // An answer: refused past 64 MiB.
    status = 200;
    pulledBytes = 0;
    await expect(client.send(target, request)).rejects.toThrow(/more than 64 MiB/);
    expect(pulledBytes).toBeLessThanOrEqual(66 * 1024 * 1024);
    expect(cancelled).toBe(2);
  });

  it('a payer that lost its books resumes owed from what is settled on-chain, not 0 (finding 8)', async () => {
    const identity = Ed25519KeyIdentity.generate();
    const payer = identity.getPrincipal().toText();
    const runner = Ed25519KeyIdentity.generate().getPrincipal().toText();
    const credit = new MemoryCredit();
    await credit.payer(payer).depositCredit(100_000_000n);
    const line = await credit.payer(payer).reserveCredit(runner, 10_000_000n);
    await credit.payer(payer).settleUsage([{ lineId: line.id, seq: 3n, owedE8s: 500n, inputTokens: 5n, outputTokens: 5n, requests: 3n }]);
    const refusing = (async () => new Response('{}', { status: 500 })) as typeof fetch;
    const client = await PayerClient.open({ identity, credit: credit.payer(payer), fetch: refusing, settleEveryMs: 0 });
    const target = { runner, endpoint: 'http://runner.invalid', prices: { inputPerMillion: 1_000n, outputPerMillion: 1_000n } };
    await client.send(target, { path: '/v1/chat/completions', body: { messages: [{ role: 'user', content: 'hi' }] } });
    expect(client.lineOf(runner)).toMatchObject({ lineId: line.id, seq: 3n, owedE8s: 500n });
  });
});

/** A metered runner (MemoryCredit, a stand-in engine charging 3 + 1 tokens; streams that break after one chunk). */
async function meteredRunner(credit: MemoryCredit, extra: Partial<MeteredServerOptions> = {}) {
  const runner = Ed25519KeyIdentity.generate().getPrincipal().toText();
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
  const server = await startMeteredServer({
    runner,
    engineUrl: 'http://engine.invalid',
    engineModel: 'm',
    models: [{ id: 'm', prices: PRICES }],
    credit: credit.runner(runner),
    receiptsFile: join(mkdtempSync(join(tmpdir(), 'deai-payer-')), 'r.json'),
    settleCheckMs: 0,
    fetch: engine,
    ...extra
  });
  return { runner, server, target: { runner, endpoint: server.url, prices: PRICES } };
}

const PRICES = { inputPerMillion: 1_000_000n, outputPerMillion: 1_000_000n };
const CHAT = { path: '/v1/chat/completions' as const, body: { model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 } };

describe('PayerClient streams end at [DONE] (review 2, F6)', () => {
  /** A streamed request to a runner answering 'hi', charged 500 output tokens, then `after` past its [DONE]. */
  async function streamWith(after: (c: ReadableStreamDefaultController<Uint8Array>) => void) {
    const identity = Ed25519KeyIdentity.generate();
    const payer = identity.getPrincipal().toText();
    const runner = Ed25519KeyIdentity.generate().getPrincipal().toText();
    const credit = new MemoryCredit();
    await credit.payer(payer).depositCredit(100_000_000n);
    const chunks: unknown[] = [];
    const runnerFetch = (async (_url: string | URL | Request, init?: RequestInit) => {
      const lineId = BigInt(new Headers(init?.headers).get(AUTH_HEADERS.line)!);
      const charge = { lineId, chargeSeq: 1n, inputTokens: 1n, outputTokens: 500n, costE8s: 501n, owedE8s: 501n };
      const sse =
        `data: ${JSON.stringify({ model: 'm', choices: [{ delta: { content: 'hi' } }] })}\n\n` +
        `data: ${JSON.stringify({ model: 'm', choices: [], deai_charge: chargeToJson(charge) })}\n\n` +
        'data: [DONE]\n\n';
      const body = new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(new TextEncoder().encode(sse));
          after(c);
        }
      });
      return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
    }) as typeof fetch;
    const client = await PayerClient.open({
      identity,
      credit: credit.payer(payer),
      store: memoryPayerStore(),
      fetch: runnerFetch,
      settleEveryMs: 0
    });
    const target = { runner, endpoint: 'http://runner.invalid', prices: { inputPerMillion: 1_000_000n, outputPerMillion: 1_000_000n } };
    const sent = await client.send(target, {
      path: '/v1/chat/completions',
      body: { messages: [{ role: 'user', content: 'hi' }], max_tokens: 1000, stream: true },
      onChunk: (chunk) => chunks.push(chunk)
    });
    await client.close().catch(() => undefined);
    return { sent, chunks };
  }

  it('attack: content sent after [DONE] (never shown by the gateway) neither reaches onChunk nor raises the signed bound', async () => {
    const { sent, chunks } = await streamWith((c) => {
      c.enqueue(
        new TextEncoder().encode(`data: ${JSON.stringify({ model: 'm', choices: [{ delta: { content: 'x'.repeat(1000) } }] })}\n\n`)
      );
      c.close();
    });
    expect(sent.ok).toBe(true);
    // 'hi' is 2 bytes: at most 2 + 16 slack output tokens are signed for, not the 500 charged.
    expect((sent as { accepted?: { outputTokens: bigint } }).accepted?.outputTokens).toBeLessThanOrEqual(18n);
    expect(chunks).toHaveLength(2);
  });

  it('attack: a runner that keeps the stream open after [DONE] does not hold the request', async () => {
    const { sent } = await streamWith(() => undefined);
    expect(sent.ok).toBe(true);
  });
});

describe('PayerClient against a metered runner', () => {
  it('a payer that lost its books resumes from the runner’s held receipt when it is ahead of the chain (finding 8)', async () => {
    const identity = Ed25519KeyIdentity.generate();
    const credit = new MemoryCredit();
    await credit.payer(identity.getPrincipal().toText()).depositCredit(100_000_000n);
    const r = await meteredRunner(credit);
    try {
      const first = await PayerClient.open({ identity, credit: credit.payer(identity.getPrincipal().toText()), settleEveryMs: 0 });
      const sent = [];
      for (let i = 0; i < 4; i++) sent.push(await first.send(r.target, CHAT));
      // The runner holds seq 3 (each receipt rides the next request); the books are lost (in memory only) and
      // nothing was settled on-chain, so the chain alone would restart them at 0.
      const third = sent[2]!;
      if (!third.ok || third.receipt === undefined) throw new Error('the third request was not paid');
      const held = third.receipt.receipt;
      const second = await PayerClient.open({ identity, credit: credit.payer(identity.getPrincipal().toText()), settleEveryMs: 0 });
      const result = await second.send(r.target, CHAT);
      if (!result.ok || result.accepted === undefined) throw new Error('the resumed request was not paid');
      expect(second.lineOf(r.runner)).toMatchObject({ lineId: held.lineId, seq: held.seq + 1n, requests: held.requests + 1n });
      expect(second.lineOf(r.runner)!.owedE8s).toBe(held.owedE8s + result.accepted.costE8s);
      // Its receipts are cumulative over the held one: the runner keeps serving and the batch settles it all.
      for (let i = 0; i < 3; i++) expect((await second.send(r.target, CHAT)).ok).toBe(true);
      const [settled] = await second.flush();
      expect(settled).toMatchObject({ ok: true, movedE8s: second.lineOf(r.runner)!.owedE8s });
    } finally {
      await r.server.close();
    }
  });

  it('attack: a runner answers a request carrying a receipt only once the receipt is on its disk (issue 17)', async () => {
    const identity = Ed25519KeyIdentity.generate();
    const credit = new MemoryCredit();
    await credit.payer(identity.getPrincipal().toText()).depositCredit(100_000_000n);
    // Every write of the runner's receipts fails (their folder is a file).
    const r = await meteredRunner(credit, { receiptsFile: join(process.execPath, 'receipts', 'r.json') });
    try {
      const payer = await PayerClient.open({ identity, credit: credit.payer(identity.getPrincipal().toText()), settleEveryMs: 0 });
      expect(await payer.send(r.target, CHAT)).toMatchObject({ ok: true }); // no receipt yet: nothing to store
      // The next request carries the first receipt: before, it was answered 200 while the receipt was lost.
      expect(await payer.send(r.target, CHAT)).toMatchObject({ ok: false, status: 503, error: { code: 'receipts_not_durable' } });
      // The payer still holds it as unsent (the next request carries it again).
      expect(payer.lineOf(r.runner)!.unsentCovers).toHaveLength(1);
      const sent = await fetch(new URL('/deai/v1/receipts', r.server.url), {
        method: 'POST',
        body: JSON.stringify({ ...signedReceiptToJson(payer.lineOf(r.runner)!.latest!), covers: ['1'] })
      });
      expect(sent.status).toBe(503);
    } finally {
      await expect(r.server.close()).rejects.toThrow(/ENOTDIR/);
    }
  });

  it('a payer without books that forked from the runner’s held receipt takes it up at the 409 and signs the charges after it (issue 17)', async () => {
    const identity = Ed25519KeyIdentity.generate();
    const payerId = identity.getPrincipal().toText();
    const credit = new MemoryCredit();
    await credit.payer(payerId).depositCredit(100_000_000n);
    // The engine counts a prompt's characters as its tokens: the first payer's long prompts cost more than the second's.
    const engine = (async (_url: unknown, init?: RequestInit) => {
      const body = JSON.parse(String(init?.body)) as { messages: Array<{ content: string }> };
      return Response.json({
        choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: body.messages[0]!.content.length, completion_tokens: 1 }
      });
    }) as typeof fetch;
    const r = await meteredRunner(credit, { fetch: engine });
    const ask = (content: string) => ({ ...CHAT, body: { ...CHAT.body, messages: [{ role: 'user', content }] } });
    try {
      const first = await PayerClient.open({ identity, credit: credit.payer(payerId), settleEveryMs: 0 });
      const before = [];
      for (let i = 0; i < 3; i++) before.push(await first.send(r.target, ask('x'.repeat(200))));
      // The runner holds the first payer's receipt 2 (it rode request 3). A second payer without books could not ask
      // for it (the runner's GET /deai/v1/charges failed), so it signs from what is settled on-chain (0): a fork.
      const heldOwed = before[1]?.ok ? before[1].receipt!.receipt.owedE8s : -1n;
      const noCharges = (async (url: string | URL | Request, init?: RequestInit) =>
        String(url).includes('/deai/v1/charges') ? new Response('busy', { status: 503 }) : fetch(url, init)) as typeof fetch;
      const second = await PayerClient.open({ identity, credit: credit.payer(payerId), settleEveryMs: 0, fetch: noCharges });
      const results = [];
      for (let i = 0; i < 6; i++) results.push(await second.send(r.target, ask('hi')));
      // Its receipt 3 (past the held 2, owing less) is NotCumulative: a 409 with the held receipt, taken up at once
      // (before, every request after it was a 409 and no charge was signed again).
      expect(results.map((x) => x.status)).toEqual([200, 200, 200, 200, 200, 200]);
      const costs = results.map((x) => (x.ok && x.accepted !== undefined ? x.accepted.costE8s : 0n));
      // Every charge of the second payer is signed, on top of the held receipt, under seqs above both.
      expect(second.lineOf(r.runner)).toMatchObject({ seq: 6n, owedE8s: heldOwed + costs.reduce((x, y) => x + y, 0n) });
      expect(results.every((x) => x.ok && x.receipt !== undefined)).toBe(true);
    } finally {
      await r.server.close();
    }
  });

  it('attack: signs for the charges of streams that broke before their charge arrived; the line stays usable (finding 6)', async () => {
    const identity = Ed25519KeyIdentity.generate();
    const credit = new MemoryCredit();
    await credit.payer(identity.getPrincipal().toText()).depositCredit(100_000_000n);
    const r = await meteredRunner(credit, { limits: { maxUnsignedRequests: 2 } });
    try {
      const payer = await PayerClient.open({ identity, credit: credit.payer(identity.getPrincipal().toText()), settleEveryMs: 0 });
      for (let i = 0; i < 6; i++) {
        const broken = await payer.send(r.target, { ...CHAT, body: { ...CHAT.body, stream: true } });
        expect(broken).toMatchObject({ ok: false, status: 502 });
        expect((await payer.send(r.target, CHAT)).ok).toBe(true);
      }
      // Each broken stream's charge (the prompt bound and one token) is in the books and signed.
      expect(payer.lineOf(r.runner)!.requests).toBe(12n);
    } finally {
      await r.server.close();
    }
  });

  it('caps what one runner’s line holds, and closes lines idle for closeIdleAfterMs (finding 11)', async () => {
    const identity = Ed25519KeyIdentity.generate();
    const payerId = identity.getPrincipal().toText();
    const credit = new MemoryCredit();
    await credit.payer(payerId).depositCredit(100_000_000n);
    const r = await meteredRunner(credit);
    let now = Date.now();
    try {
      const payer = await PayerClient.open({
        identity,
        credit: credit.payer(payerId),
        settleEveryMs: 0,
        reserveE8s: 10_000_000n,
        maxReservePerRunnerE8s: 1_000_000n,
        closeIdleAfterMs: 60_000,
        nowMs: () => now
      });
      expect((await payer.send(r.target, CHAT)).ok).toBe(true);
      expect(credit.view(payer.lineOf(r.runner)!.lineId)!.reservedE8s).toBe(1_000_000n);
      const huge = { ...CHAT, body: { ...CHAT.body, max_tokens: 2_000_000 } };
      expect(await payer.send(r.target, huge)).toMatchObject({ ok: false, status: 402, error: { code: 'reserve_cap' } });
      expect(credit.account(payerId).freeE8s).toBe(99_000_000n);
      await payer.flush();
      expect(await payer.closeIdleLines()).toEqual([]);
      now += 61_000;
      const lineId = payer.lineOf(r.runner)!.lineId;
      expect(await payer.closeIdleLines()).toEqual([lineId]);
      expect(credit.view(lineId)!.state).toBe('closing');
      expect(payer.lineOf(r.runner)).toBeUndefined();
      await payer.close();
    } finally {
      await r.server.close();
    }
  });
});

describe('payer books', () => {
  it('are tied to their network: books of another network are not used (and the client says so)', async () => {
    const identity = Ed25519KeyIdentity.generate();
    const payerId = identity.getPrincipal().toText();
    const credit = new MemoryCredit();
    await credit.payer(payerId).depositCredit(100_000_000n);
    const r = await meteredRunner(credit);
    try {
      const store = memoryPayerStore();
      const a = await PayerClient.open({ identity, credit: credit.payer(payerId), settleEveryMs: 0, store, network: 'net-a' });
      expect((await a.send(r.target, CHAT)).ok).toBe(true);
      expect(store.records.get('books')).toMatchObject({ network: 'net-a' });
      const again = await PayerClient.open({ identity, credit: credit.payer(payerId), settleEveryMs: 0, store, network: 'net-a' });
      expect(again.lineOf(r.runner)?.seq).toBe(1n);
      expect(again.foreignBooksNetwork).toBeUndefined();
      const other = await PayerClient.open({ identity, credit: credit.payer(payerId), settleEveryMs: 0, store, network: 'net-b' });
      expect(other.lineOf(r.runner)).toBeUndefined();
      expect(other.foreignBooksNetwork).toBe('net-a');
    } finally {
      await r.server.close();
    }
  });
});
