import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Ed25519KeyIdentity } from '@dfinity/identity';
import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { PayerCreditApi } from '../../../src/core/credit/index.ts';
import { CodedError } from '../../../src/core/errors/coded-error.ts';
import type { GatewayRegistry } from '../../../src/gateway/catalog.ts';
import { KeyStore } from '../../../src/gateway/keys.ts';
import { paidTransport } from '../../../src/gateway/paid-transport.ts';
import { startGateway, type RunningGateway } from '../../../src/gateway/server.ts';
import { PayerClient } from '../../../src/sdk/paid/payer.ts';
import { testCandidate, testCard } from '../../support/gateway-fixtures.ts';

const MODEL = 'org/fake';

/** The gateway's own payer out of credit: the client gets OpenAI's 402, not a failover to every runner and a 502. */
describe('paid transport: the gateway payer without free credit', () => {
  let dir: string;
  let gateway: RunningGateway;
  let reserveCalls = 0;
  let apiKey = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deai-paid-transport-'));
    const candidate = (runner: string) => testCandidate(MODEL, { runner, score: 9_000 });
    const registry = {
      listModels: async () => [testCard(MODEL)],
      findRunners: async () => [candidate('first'), candidate('second')]
    } as unknown as GatewayRegistry;
    const credit: PayerCreditApi = {
      depositCredit: () => Promise.reject(new Error('unused')),
      findCreditLine: async () => undefined,
      reserveCredit: async () => {
        reserveCalls += 1;
        throw new CodedError('InsufficientCredit', 'reserve_credit: InsufficientCredit {"available_e8s":"0"}');
      },
      settleUsage: async () => [],
      getCreditAccount: async () => undefined
    };
    const payer = await PayerClient.open({ identity: Ed25519KeyIdentity.generate(), credit, settleEveryMs: 0 });
    const keys = new KeyStore(join(dir, 'keys.json'));
    const key = keys.create({ name: 'unit', limitE8s: 1_000_000_000n }).key;
    gateway = await startGateway({ registry, keys, port: 0, transport: paidTransport(payer), attemptTimeoutMs: 1_000 });
    apiKey = key;
  });
  afterAll(async () => {
    await gateway.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 402 insufficient_credit at the first runner, without trying the next', async () => {
    const openai = new OpenAI({ baseURL: gateway.baseURL, apiKey: apiKey, maxRetries: 0 });
    const error: unknown = await openai.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }).then(
      () => undefined,
      (e: unknown) => e
    );
    expect(error).toBeInstanceOf(APIError);
    expect({ status: (error as APIError).status, code: (error as APIError).code }).toEqual({ status: 402, code: 'insufficient_credit' });
    expect((error as APIError).message).toMatch(/gateway's payer .* too little free credit/);
    expect(reserveCalls).toBe(1);
  });
});

/** What a runner sends after its [DONE] is never shown (the answer ends there), so the key never pays for it. */
describe('paid transport: padding after the runner’s [DONE] (review 2, F6)', () => {
  it('attack: neither reaches the client nor raises what the key is charged', async () => {
    const { AUTH_HEADERS, chargeToJson } = await import('../../../src/core/credit/index.ts');
    const { MemoryCredit } = await import('../../support/credit.ts');
    const identity = Ed25519KeyIdentity.generate();
    const payer = identity.getPrincipal().toText();
    const credit = new MemoryCredit();
    await credit.payer(payer).depositCredit(100_000_000n);
    const runnerFetch = (async (_url: string | URL | Request, init?: RequestInit) => {
      const lineId = BigInt(new Headers(init?.headers).get(AUTH_HEADERS.line)!);
      const charge = { lineId, chargeSeq: 1n, inputTokens: 1n, outputTokens: 500n, costE8s: 501n, owedE8s: 501n };
      const sse =
        `data: ${JSON.stringify({ model: 'm', choices: [{ delta: { content: 'hi' } }] })}\n\n` +
        `data: ${JSON.stringify({ model: 'm', choices: [], deai_charge: chargeToJson(charge) })}\n\n` +
        'data: [DONE]\n\n' +
        `data: ${JSON.stringify({ model: 'm', choices: [{ delta: { content: 'x'.repeat(1000) } }] })}\n\n`;
      return new Response(sse, { headers: { 'content-type': 'text/event-stream' } });
    }) as typeof fetch;
    const client = await PayerClient.open({ identity, credit: credit.payer(payer), fetch: runnerFetch, settleEveryMs: 0 });
    const target = {
      runner: Ed25519KeyIdentity.generate().getPrincipal().toText(),
      endpoint: 'http://runner.invalid',
      model: MODEL,
      inputPricePerMillion: 1_000_000n,
      outputPricePerMillion: 1_000_000n
    };
    const upstream = await paidTransport(client).send(
      target,
      { path: '/v1/chat/completions', body: { messages: [{ role: 'user', content: 'hi' }], max_tokens: 1000, stream: true } },
      new AbortController().signal
    );
    const shown: unknown[] = [];
    for await (const chunk of upstream.chunks) shown.push(chunk);
    const settlement = await upstream.settlement;
    expect(shown).toHaveLength(2);
    // 'hi' is 2 bytes: at most 2 + 16 slack output tokens, plus the 1 input token, not the 501 the runner charged.
    expect(settlement.completionTokens).toBeLessThanOrEqual(18);
    expect(settlement.chargeE8s).toBeLessThanOrEqual(19n);
    await client.close().catch(() => undefined);
  });
});
