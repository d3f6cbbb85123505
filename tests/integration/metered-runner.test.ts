/**
 * The runner's metered OpenAI endpoint in front of a REAL llama-server (tiny random model), paid by the payer client:
 * signed requests, credit checks, charges from the engine's usage, receipts kept across a runner restart, settlement
 * in batches and alone, and a runner that over-reports caught by the payer's own count. Credit is the registry
 * canister's (built Wasm on the localnet) through IcCredit, as the runner node and the SDK use it.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Identity } from '@dfinity/agent';
import { Ed25519KeyIdentity } from '@dfinity/identity';
import { Secp256k1KeyIdentity } from '@dfinity/identity-secp256k1';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { authHeaders, requestBoundOf, requestSigningBytes, worstCaseCostE8s, type RequestToSign } from '../../src/core/credit/index.ts';
import { IcCredit } from '../../src/ic/credit.ts';
import { Localnet } from '../../src/localnet/localnet.ts';
import { ReceiptStore } from '../../src/runner/metered/receipt-store.ts';
import { startMeteredServer, type MeteredServer, type MeteredServerOptions } from '../../src/runner/metered/server.ts';
import { filePayerStore } from '../../src/sdk/paid/file-store.ts';
import { PayerClient, type PaidTarget } from '../../src/sdk/paid/payer.ts';
import { FEE, taskNetwork, type TaskNetwork } from '../support/tasks.ts';
import { llamaFixture, type LlamaFixture } from '../support/llama.ts';

const BUILD_TIMEOUT_MS = 30 * 60_000;
const MODEL = 'tiny-metered';
const PRICES = { inputPerMillion: 1_000_000n, outputPerMillion: 2_000_000n };
const CHAT = { model: MODEL, messages: [{ role: 'user', content: 'Say something about the sea.' }], max_tokens: 12, temperature: 0 };

describe('metered runner endpoint (real llama-server, the registry canister’s credit)', () => {
  let llama: LlamaFixture | undefined;
  let net: Localnet;
  let t: TaskNetwork;
  /** The runner's credit calls, signed as the (registered) runner. */
  let credit: IcCredit;
  let runnerId: string;
  const servers: MeteredServer[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'deai-metered-'));

  beforeAll(async () => {
    llama = await llamaFixture({ slots: 2, ctx: 2048 });
    net = await Localnet.start({ port: 0, stateDir: null });
    t = await taskNetwork(net);
    const runnerIdentity = await t.runner(2);
    runnerId = runnerIdentity.getPrincipal().toText();
    credit = new IcCredit(await t.tasks(runnerIdentity), { registryId: t.registry, principal: runnerIdentity.getPrincipal() });
    // Lines here hold a few requests' worth (a few hundred e8s at these prices), below the default minimum.
    await (await t.tasks(t.admin)).set_credit_config({ dispute_window_seconds: [], auto_payout_threshold_e8s: [], min_reserve_e8s: [1n] });
  }, BUILD_TIMEOUT_MS);
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await llama?.stop();
    await net?.stop();
  });

  /** The credit methods as `identity` (with the ledger, for deposits). */
  const creditOf = async (identity: Identity): Promise<IcCredit> =>
    new IcCredit(await t.tasks(identity), { registryId: t.registry, principal: identity.getPrincipal(), ledger: await t.token(identity) });
  /** Funds `identity` on the ledger and deposits `amount` as its credit (approval and deposit fees on top). */
  async function deposit(identity: Identity, amount: bigint): Promise<IcCredit> {
    await t.fund(identity, amount + 2n * FEE);
    const payerCredit = await creditOf(identity);
    await payerCredit.depositCredit(amount);
    return payerCredit;
  }
  const accrued = async (): Promise<bigint> => (await credit.getCreditAccount(runnerId))?.accruedE8s ?? 0n;

  async function runner(extra: Partial<MeteredServerOptions> = {}): Promise<MeteredServer> {
    const server = await startMeteredServer({
      runner: runnerId,
      engineUrl: llama!.url,
      engineModel: llama!.alias,
      models: [{ id: MODEL, prices: PRICES, servedContext: 2048 }],
      credit,
      receiptsFile: join(dir, `receipts-${servers.length}.json`),
      settleCheckMs: 0,
      ...extra
    });
    servers.push(server);
    return server;
  }

  async function payer(identity: Ed25519KeyIdentity = Ed25519KeyIdentity.generate(), extra = {}): Promise<PayerClient> {
    return PayerClient.open({ identity, credit: await deposit(identity, 100_000_000n), settleEveryMs: 0, ...extra });
  }

  const target = (server: MeteredServer): PaidTarget => ({ runner: runnerId, endpoint: server.url, prices: PRICES, servedContext: 2048 });

  /** A request signed by hand (to break it on purpose). */
  async function signed(
    server: MeteredServer,
    identity: Ed25519KeyIdentity,
    lineId: bigint,
    body: unknown,
    change: Partial<RequestToSign> = {}
  ): Promise<{ send: () => Promise<Response>; headers: Record<string, string> }> {
    const text = JSON.stringify(body);
    const request: RequestToSign = {
      runner: runnerId,
      lineId,
      method: 'POST',
      path: '/v1/chat/completions',
      body: new TextEncoder().encode(text),
      nonce: crypto.getRandomValues(new Uint8Array(16)),
      expiresAtNs: BigInt(Date.now() + 30_000) * 1_000_000n,
      ...change
    };
    const signature = new Uint8Array(await identity.sign(requestSigningBytes(request)));
    const headers = {
      'content-type': 'application/json',
      ...authHeaders(request, new Uint8Array(identity.getPublicKey().toDer()), signature)
    };
    return { headers, send: () => fetch(`${server.url}/v1/chat/completions`, { method: 'POST', headers, body: text }) };
  }

  const errorCode = async (response: Response): Promise<[number, string]> => {
    const body = (await response.json()) as { error: { code: string; type: string; message: string } };
    expect(body.error.message.length).toBeGreaterThan(0);
    return [response.status, body.error.code];
  };

  it('plain chat: usage and a charge priced at the posted prices; the receipt rides the next request; a batch settles it', async () => {
    const server = await runner();
    const client = await payer();
    const accruedBefore = await accrued();
    const first = await client.send(target(server), { path: '/v1/chat/completions', body: CHAT });
    if (!first.ok) throw new Error(JSON.stringify(first));
    const usage = first.body!.usage as { prompt_tokens: number; completion_tokens: number };
    expect(usage.completion_tokens).toBeGreaterThan(0);
    const cost = BigInt(usage.prompt_tokens) + 2n * BigInt(usage.completion_tokens);
    expect(first.charge).toMatchObject({
      inputTokens: BigInt(usage.prompt_tokens),
      outputTokens: BigInt(usage.completion_tokens),
      costE8s: cost,
      owedE8s: cost
    });
    expect(first.accepted).toMatchObject({ costE8s: cost, overReported: [] });
    expect(first.receipt?.receipt).toMatchObject({ seq: 1n, owedE8s: cost, requests: 1n, runner: runnerId });

    const second = await client.send(target(server), { path: '/v1/chat/completions', body: CHAT });
    if (!second.ok) throw new Error(JSON.stringify(second));
    // The runner kept receipt 1 (sent with request 2) on disk before it answered, and its claim on request 2 builds on it.
    const held = new ReceiptStore(join(dir, `receipts-${servers.indexOf(server)}.json`)).all();
    expect(held.map((h) => h.signed.receipt.seq)).toEqual([1n]);
    expect(second.charge?.owedE8s).toBe(cost + second.charge!.costE8s);
    // One batch settles both: the line's settled total is the sum of the accepted charges, all of it to the runner.
    const outcomes = await client.close();
    expect(outcomes).toMatchObject([{ ok: true, movedE8s: cost + second.accepted!.costE8s }]);
    expect(await credit.getCreditLine(first.receipt!.receipt.lineId)).toMatchObject({
      settledSeq: 2n,
      settledE8s: cost + second.accepted!.costE8s
    });
    expect(await accrued()).toBe(accruedBefore + cost + second.accepted!.costE8s);
  });

  it('streamed chat and /v1/completions: the usage chunk carries the charge; usage is stripped when the client did not ask', async () => {
    const server = await runner();
    const identity = Ed25519KeyIdentity.generate();
    const client = await payer(identity);
    const chunks: Array<Record<string, unknown>> = [];
    const streamed = await client.send(target(server), {
      path: '/v1/chat/completions',
      body: { ...CHAT, stream: true, stream_options: { include_usage: true } },
      onChunk: (c) => chunks.push(c)
    });
    if (!streamed.ok) throw new Error(JSON.stringify(streamed));
    const last = chunks.find((c) => c.deai_charge !== undefined)!;
    expect(last.usage).toMatchObject({ completion_tokens: Number(streamed.charge!.outputTokens) });
    expect(streamed.accepted?.overReported).toEqual([]);
    expect(streamed.receipt?.receipt.seq).toBe(1n);

    const completion = await client.send(target(server), {
      path: '/v1/completions',
      body: { model: MODEL, prompt: 'The sea is', max_tokens: 8 }
    });
    if (!completion.ok) throw new Error(JSON.stringify(completion));
    expect(completion.charge?.outputTokens).toBeGreaterThan(0n);
    expect(completion.receipt?.receipt).toMatchObject({ seq: 2n, requests: 2n });

    // A plain OpenAI client that streams without asking for usage: no `usage`, but the charge is there.
    const line = client.lineOf(runnerId)!.lineId;
    const raw = await signed(server, identity, line, { ...CHAT, stream: true });
    const text = await (await raw.send()).text();
    const events = text
      .split('\n')
      .filter((l) => l.startsWith('data: ') && l !== 'data: [DONE]')
      .map((l) => JSON.parse(l.slice(6)) as Record<string, unknown>);
    expect(events.some((e) => e.usage !== undefined && e.usage !== null)).toBe(false);
    expect(events.filter((e) => e.deai_charge !== undefined)).toHaveLength(1);
    expect(text.trim().endsWith('data: [DONE]')).toBe(true);
  });

  it('401: missing headers, a bad signature, a replayed nonce, an expired request, a request signed for another runner', async () => {
    const server = await runner();
    const identity = Ed25519KeyIdentity.generate();
    const client = await payer(identity);
    await client.send(target(server), { path: '/v1/chat/completions', body: CHAT }); // opens the line
    const line = client.lineOf(runnerId)!.lineId;

    const unsigned = await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify(CHAT) });
    expect(await errorCode(unsigned)).toEqual([401, 'invalid_signature']);

    const good = await signed(server, identity, line, CHAT);
    const tampered = {
      ...good.headers,
      'x-deai-signature': good.headers['x-deai-signature']!.replace(/^./, (c) => (c === '0' ? '1' : '0'))
    };
    expect(
      await errorCode(await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', headers: tampered, body: JSON.stringify(CHAT) }))
    ).toEqual([401, 'invalid_signature']);
    expect((await good.send()).status).toBe(200);
    expect(await errorCode(await good.send())).toEqual([401, 'replayed_nonce']);

    const expired = await signed(server, identity, line, CHAT, { expiresAtNs: BigInt(Date.now() - 1_000) * 1_000_000n });
    expect(await errorCode(await expired.send())).toEqual([401, 'invalid_signature']);
    const elsewhere = await signed(server, identity, line, CHAT, { runner: Ed25519KeyIdentity.generate().getPrincipal().toText() });
    expect(await errorCode(await elsewhere.send())).toEqual([401, 'invalid_signature']);
    // Signed over another body than the one sent.
    const swapped = await signed(server, identity, line, { ...CHAT, max_tokens: 1 });
    expect(
      await errorCode(
        await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', headers: swapped.headers, body: JSON.stringify(CHAT) })
      )
    ).toEqual([401, 'invalid_signature']);
  });

  it('402: no line, another payer’s line, too little credit, and the cap on credit used without a receipt', async () => {
    const server = await runner({ limits: { maxUnsignedRequests: 2 } });
    const identity = Ed25519KeyIdentity.generate();
    const payerCredit = await deposit(identity, 1_000_000n);
    expect(await errorCode(await (await signed(server, identity, 999n, CHAT)).send())).toEqual([402, 'no_credit_line']);

    const small = await payerCredit.reserveCredit(runnerId, 100n);
    expect(await errorCode(await (await signed(server, identity, small.id, CHAT)).send())).toEqual([402, 'insufficient_credit']);
    const stranger = Ed25519KeyIdentity.generate();
    expect(await errorCode(await (await signed(server, stranger, small.id, CHAT)).send())).toEqual([402, 'not_your_line']);

    // Enough credit, but no receipt ever sent: after 2 uncovered requests the runner stops serving.
    await payerCredit.reserveCredit(runnerId, 100_000n);
    expect((await (await signed(server, identity, small.id, CHAT)).send()).status).toBe(200);
    expect((await (await signed(server, identity, small.id, CHAT)).send()).status).toBe(200);
    expect(await errorCode(await (await signed(server, identity, small.id, CHAT)).send())).toEqual([402, 'exposure_cap']);

    // The payer client sends receipts, so it is never capped for that.
    const client = await payer();
    for (let i = 0; i < 4; i++) expect((await client.send(target(server), { path: '/v1/chat/completions', body: CHAT })).ok).toBe(true);
  });

  it('a payer that never signs a receipt nor settles gets at most its reserved credit: the runner refuses at the cap (402)', async () => {
    const server = await runner();
    const identity = Ed25519KeyIdentity.generate();
    const payerCredit = await deposit(identity, 1_000_000n);
    const bound = requestBoundOf('/v1/chat/completions', CHAT);
    if (typeof bound === 'string') throw new Error(bound);
    const worst = worstCaseCostE8s(PRICES, bound, 2048);
    const line = await payerCredit.reserveCredit(runnerId, 2n * worst);
    let served = 0n;
    let response: Response;
    for (let i = 0; ; i++) {
      expect(i).toBeLessThan(32);
      response = await (await signed(server, identity, line.id, CHAT)).send();
      if (response.status !== 200) break;
      const body = (await response.json()) as { deai_charge: { cost_e8s: string } };
      served += BigInt(body.deai_charge.cost_e8s);
    }
    expect(await errorCode(response)).toEqual([402, 'insufficient_credit']);
    // What it was served never exceeds what the line can pay the runner (the reservation net of the protocol fee),
    // and it was refused only once the next worst case would.
    const available = line.availableE8s ?? line.reservedE8s;
    expect(available).toBeLessThan(line.reservedE8s);
    expect(served).toBeGreaterThan(0n);
    expect(served).toBeLessThanOrEqual(available);
    expect(served + worst).toBeGreaterThan(available);
  });

  it('keeps receipts across a runner restart and settles alone when the payer does not (secp256k1 payer)', async () => {
    const receiptsFile = join(dir, 'restart.json');
    // The runner's clock runs with the payer's (a signed request is valid 60 s at most), jumped ahead by `skew`.
    let skew = 0;
    const nowMs = (): number => Date.now() + skew;
    const server = await runner({ receiptsFile, settleAfterMs: 60_000, nowMs });
    const client = await payer(Secp256k1KeyIdentity.generate() as unknown as Ed25519KeyIdentity);
    const accruedBefore = await accrued();
    const r = await client.send(target(server), { path: '/v1/chat/completions', body: CHAT });
    if (!r.ok) throw new Error(JSON.stringify(r));
    expect(await client.sendReceipt(target(server))).toBe(true);
    await server.close();

    const restarted = await runner({ receiptsFile, settleAfterMs: 60_000, nowMs });
    await restarted.settler.tick();
    const lineId = r.receipt!.receipt.lineId;
    expect((await credit.getCreditLine(lineId))?.settledSeq).toBe(0n); // not yet: the payer still has time
    skew += 61_000;
    await restarted.settler.tick();
    expect(await credit.getCreditLine(lineId)).toMatchObject({ settledSeq: 1n, settledE8s: r.accepted!.costE8s });
    expect(await accrued()).toBe(accruedBefore + r.accepted!.costE8s);
    // Exactly once: another pass (and another restart) settles nothing more.
    await restarted.settler.tick();
    await (await runner({ receiptsFile, settleAfterMs: 60_000, nowMs })).settler.tick();
    expect(await accrued()).toBe(accruedBefore + r.accepted!.costE8s);
    // The payer's own settlement of the same receipt afterwards moves nothing more.
    expect(await client.close()).toMatchObject([{ ok: true, movedE8s: 0n }]);
  });

  it('a runner over-reporting tokens is caught by the payer’s own count: the signed receipt carries the payer’s count', async () => {
    // A dishonest runner: its charges claim thousands more prompt tokens and 50× the tokens it generated, priced at
    // its posted prices (so only the payer's own count can catch it).
    const inflating: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      const answer = (await response.json()) as { deai_charge: Record<string, string> };
      const c = answer.deai_charge;
      const inputTokens = BigInt(c.input_tokens!) + 5_000n;
      const outputTokens = BigInt(c.output_tokens!) * 50n;
      const cost = (inputTokens * PRICES.inputPerMillion) / 1_000_000n + (outputTokens * PRICES.outputPerMillion) / 1_000_000n;
      answer.deai_charge = {
        ...c,
        input_tokens: String(inputTokens),
        output_tokens: String(outputTokens),
        cost_e8s: String(cost),
        owed_e8s: String(cost)
      };
      return new Response(JSON.stringify(answer), { status: 200, headers: { 'content-type': 'application/json' } });
    };
    const server = await runner();
    const store = filePayerStore(join(dir, 'payer.json'));
    const flagged: string[] = [];
    const identity = Ed25519KeyIdentity.generate();
    const client = await payer(identity, { store, fetch: inflating, onOverReport: (runner: string) => flagged.push(runner) });
    const r = await client.send(target(server), { path: '/v1/chat/completions', body: { ...CHAT, max_tokens: 200 } });
    if (!r.ok) throw new Error(JSON.stringify(r));
    const message = (r.body!.choices as Array<{ message: { content: string } }>)[0]!.message.content;
    const promptBytes = new TextEncoder().encode(JSON.stringify(CHAT.messages)).length;
    expect(r.charge!.inputTokens).toBeGreaterThan(BigInt(promptBytes + 512));
    expect(r.accepted).toMatchObject({ inputTokens: BigInt(promptBytes + 512), overReported: ['input_tokens', 'output_tokens'] });
    expect(r.accepted!.outputTokens).toBeLessThanOrEqual(BigInt(new TextEncoder().encode(message).length + 16));
    expect(r.receipt!.receipt).toMatchObject({
      inputTokens: r.accepted!.inputTokens,
      outputTokens: r.accepted!.outputTokens,
      owedE8s: r.accepted!.costE8s
    });
    expect(r.receipt!.receipt.owedE8s).toBeLessThan(r.charge!.costE8s);
    expect(flagged).toEqual([runnerId]);
    expect(client.isOverReporting(runnerId)).toBe(true);
    // A restarted payer resumes its books (seq, owed) and remembers the over-reporting runner. The books are written
    // asynchronously (before any receipt leaves the payer): what this payer had written when it stopped.
    await store.flush?.();
    const reopened = await PayerClient.open({ identity, credit: await creditOf(identity), store, settleEveryMs: 0 });
    expect(reopened.lineOf(runnerId)).toMatchObject({ seq: 1n, owedE8s: r.accepted!.costE8s });
    expect(reopened.isOverReporting(runnerId)).toBe(true);
    // Settled on-chain: the payer's count, not the runner's claim.
    const accruedBefore = await accrued();
    expect(await reopened.flush()).toMatchObject([{ ok: true, movedE8s: r.accepted!.costE8s }]);
    expect(await credit.getCreditLine(r.receipt!.receipt.lineId)).toMatchObject({ settledSeq: 1n, settledE8s: r.accepted!.costE8s });
    expect(await accrued()).toBe(accruedBefore + r.accepted!.costE8s);
  });

  it('GET /v1/models lists the posted prices; an unknown model is 404', async () => {
    const server = await runner();
    const models = (await (await fetch(`${server.url}/v1/models`)).json()) as { data: Array<Record<string, unknown>> };
    expect(models.data).toEqual([
      expect.objectContaining({
        id: MODEL,
        context_length: 2048,
        pricing: { input_per_million_e8s: '1000000', output_per_million_e8s: '2000000' }
      })
    ]);
    const client = await payer();
    const r = await client.send(target(server), { path: '/v1/chat/completions', body: { ...CHAT, model: 'nope' } });
    expect(r).toMatchObject({ ok: false, status: 404, error: { code: 'model_not_found' } });
  });
});
