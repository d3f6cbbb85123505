import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { requestBoundOf, worstCaseCostE8s, type RequestBound } from '../../../src/core/credit/metering.ts';
import type { GatewayRegistry } from '../../../src/gateway/catalog.ts';
import { KeyStore } from '../../../src/gateway/keys.ts';
import { startGateway, type RunningGateway } from '../../../src/gateway/server.ts';
import type { UpstreamSettlement, UpstreamTransport } from '../../../src/gateway/transport.ts';
import { TEST_PRICES, testCandidate, testCard } from '../../support/gateway-fixtures.ts';

const MODEL = 'org/spend';
const PRICES = TEST_PRICES;
const MESSAGES = [{ role: 'user', content: 'hi' }];
const WORST = worstCaseCostE8s(PRICES, requestBoundOf('/v1/chat/completions', { messages: MESSAGES, max_tokens: 100 }) as RequestBound);

const card = testCard(MODEL);
const runner = testCandidate(MODEL);

/**
 * A transport whose streams (runners always stream, plain answers too) send one chunk, then wait for `finishAll` (a
 * complete answer charged `settlement`) or for the gateway to abort (then it reports `abortedSettlement`, as the paid
 * transport reports nothing for a broken stream).
 */
function gatedTransport() {
  const gates: Array<() => void> = [];
  const state = { settlement: { promptTokens: 3, completionTokens: 2, chargeE8s: 7n } as UpstreamSettlement, abortedSettlement: NOTHING };
  const transport: UpstreamTransport = {
    async send(_target, _request, signal) {
      let settle: (s: UpstreamSettlement) => void = () => undefined;
      const settlement = new Promise<UpstreamSettlement>((resolve) => (settle = resolve));
      const gate = new Promise<void>((resolve, reject) => {
        gates.push(resolve);
        signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
      });
      async function* chunks(): AsyncGenerator<Record<string, unknown>> {
        let ended = false;
        try {
          yield { object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: 'a' } }] };
          await gate;
          yield { object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: 'b' } }] };
          ended = true;
        } finally {
          settle(ended ? state.settlement : state.abortedSettlement);
        }
      }
      return { chunks: chunks(), settlement };
    }
  };
  return { transport, state, finishAll: () => gates.splice(0).forEach((open) => open()) };
}
const NOTHING: UpstreamSettlement = { promptTokens: 0, completionTokens: 0, chargeE8s: 0n };

describe('the gateway holds a request’s worst case against its key while it runs (review finding 10)', () => {
  let dir: string;
  let keys: KeyStore;
  let gateway: RunningGateway;
  const upstream = gatedTransport();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deai-gateway-spend-'));
    const registry: GatewayRegistry = { listModels: async () => [card], findRunners: async () => [runner] };
    keys = new KeyStore(join(dir, 'keys.json'));
    gateway = await startGateway({ registry, keys, port: 0, transport: upstream.transport });
  });
  afterAll(async () => {
    upstream.finishAll();
    await gateway.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A key whose limit covers one worst case and a half. */
  const newKey = () => keys.create({ name: 'spend', limitE8s: WORST + WORST / 2n });
  const spentOf = (id: string): bigint => keys.list().find((k) => k.id === id)?.spentE8s ?? -1n;
  const post = (key: string, stream: boolean, signal?: AbortSignal) =>
    fetch(`${gateway.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages: MESSAGES, max_tokens: 100, stream }),
      ...(signal === undefined ? {} : { signal })
    });
  /** A plain request, its runner let finish as soon as it has begun. */
  const plain = async (key: string, gateway_ = gateway, body: Record<string, unknown> = { max_tokens: 100 }) => {
    const opener = setInterval(() => upstream.finishAll(), 5);
    try {
      return await fetch(`${gateway_.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: MODEL, messages: MESSAGES, ...body })
      });
    } finally {
      clearInterval(opener);
    }
  };
  /** Opens a stream and waits for its first chunk (the request is then in flight at the runner). */
  const openStream = async (key: string, signal?: AbortSignal) => {
    const response = await post(key, true, signal);
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('"a"');
    return reader;
  };

  it('refuses (402) a concurrent request whose worst case would pass the limit, then settles to the charge', async () => {
    const { key, view } = newKey();
    const first = await openStream(key);
    expect(keys.heldE8s?.(view.id) ?? WORST).toBe(WORST);
    const second = await post(key, true);
    expect({ status: second.status, body: await second.json() }).toMatchObject({
      status: 402,
      body: { error: { code: 'insufficient_credit' } }
    });
    upstream.finishAll();
    while (!(await first.read()).done);
    await vi.waitFor(() => expect(keys.heldE8s(view.id)).toBe(0n));
    expect(spentOf(view.id)).toBe(7n);
    // The hold is released: the next request is admitted and charged what it cost.
    const third = await plain(key);
    expect(third.status).toBe(200);
    expect(spentOf(view.id)).toBe(14n);
  });

  it('charges a stream the client aborts the worst case it was admitted at when the transport metered nothing', async () => {
    const { key, view } = newKey();
    const client = new AbortController();
    await openStream(key, client.signal);
    client.abort();
    await vi.waitFor(() => expect(keys.heldE8s(view.id)).toBe(0n));
    expect(spentOf(view.id)).toBe(WORST);
    // The key has less than one worst case left: the next request is refused, not served on credit.
    expect((await plain(key)).status).toBe(402);
  });

  it('charges an aborted stream what the transport metered when it counted the prompt', async () => {
    const { key, view } = newKey();
    upstream.state.abortedSettlement = { promptTokens: 3, completionTokens: 1, chargeE8s: 5n };
    try {
      const client = new AbortController();
      await openStream(key, client.signal);
      client.abort();
      await vi.waitFor(() => expect(keys.heldE8s(view.id)).toBe(0n));
      expect(spentOf(view.id)).toBe(5n);
    } finally {
      upstream.state.abortedSettlement = NOTHING;
    }
  });

  it('charges at most the worst case held, whatever the runner reports, and shows the client that charge (review 5 G1)', async () => {
    const { key, view } = keys.create({ name: 'inflated', limitE8s: 10n ** 12n });
    const reported = upstream.state.settlement;
    upstream.state.settlement = { promptTokens: 999_999, completionTokens: 999_999, chargeE8s: 10n ** 10n };
    try {
      const response = await plain(key);
      expect(response.status).toBe(200);
      expect(response.headers.get('x-deai-cost-e8s')).toBe(WORST.toString());
      expect(((await response.json()) as { usage: { cost_e8s: string } }).usage.cost_e8s).toBe(WORST.toString());
      expect(spentOf(view.id)).toBe(WORST);
    } finally {
      upstream.state.settlement = reported;
    }
  });

  /** The body the engine is sent for one chat request with `body` (a gateway of its own, recording its transport). */
  const engineBodyFor = async (name: string, body: Record<string, unknown>): Promise<Record<string, unknown> | undefined> => {
    const seen: Array<Record<string, unknown>> = [];
    const registry: GatewayRegistry = { listModels: async () => [card], findRunners: async () => [runner] };
    const recording: UpstreamTransport = {
      send: async (target, request, signal) => {
        seen.push(request.body);
        return upstream.transport.send(target, request, signal);
      }
    };
    const other = await startGateway({ registry, keys, port: 0, transport: recording });
    try {
      const { key } = keys.create({ name, limitE8s: 10n ** 12n });
      const response = await plain(key, other, body);
      expect(response.status).toBe(200);
      return seen[0];
    } finally {
      await other.close();
    }
  };

  it('passes only cost-bounded fields to the engine, with the bound as max_tokens and n_predict (review 5 G1)', async () => {
    const body = { max_completion_tokens: 10, max_tokens: 1_000_000, n_predict: 1_000_000, id_slot: 0, temperature: 0.5 };
    expect(await engineBodyFor('fields', body)).toEqual({
      model: MODEL,
      messages: MESSAGES,
      temperature: 0.5,
      max_tokens: 10,
      n_predict: 10,
      stream: true,
      stream_options: { include_usage: true }
    });
  });

  it('tells the engine the max_tokens the hold assumed when the request named none', async () => {
    expect(await engineBodyFor('default', { max_tokens: null })).toMatchObject({ max_tokens: 1024 });
  });
});
