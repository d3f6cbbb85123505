import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { inputTokenBoundOf, requestBoundOf, type RequestBound } from '../../../src/core/credit/metering.ts';
import { meteredCostE8s } from '../../../src/core/rewards/pricing.ts';
import type { GatewayRegistry } from '../../../src/gateway/catalog.ts';
import { KeyStore } from '../../../src/gateway/keys.ts';
import { startGateway } from '../../../src/gateway/server.ts';
import { UpstreamError, type UpstreamTransport } from '../../../src/gateway/transport.ts';
import { TEST_PRICES, streamedAnswer, testCandidate, testCard } from '../../support/gateway-fixtures.ts';

/** Failover edges: attempts the gateway's own timer stopped (review 5 G3), runners' 4xx (review 5 G9). */

const MODEL = 'org/timeouts';
const PRICES = TEST_PRICES;
const MESSAGES = [{ role: 'user', content: 'hi' }];
const card = testCard(MODEL);
const runner = (name: string) => testCandidate(MODEL, { runner: name });
const registry: GatewayRegistry = { listModels: async () => [card], findRunners: async () => [runner('a'), runner('b'), runner('c')] };
/** A runner that takes the request and never answers (until aborted). */
const silent = (tried: string[]): UpstreamTransport => ({
  send: (target, _request, signal) =>
    new Promise((_resolve, reject) => {
      tried.push(target.runner);
      signal.addEventListener('abort', () => reject(new Error('aborted')));
    })
});

describe('an attempt the gateway stops is charged', () => {
  let dir: string;
  let keys: KeyStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'deai-attempt-charge-'));
    keys = new KeyStore(join(dir, 'keys.json'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const inputBoundE8s = (body: Record<string, unknown>): bigint =>
    meteredCostE8s(PRICES, inputTokenBoundOf((requestBoundOf('/v1/chat/completions', body) as RequestBound).promptBytes), 0n);

  it('a stream with no first token fails over, each stopped runner charged the prompt bound', async () => {
    const tried: string[] = [];
    const gateway = await startGateway({ registry, keys, port: 0, transport: silent(tried), attemptTimeoutMs: 50 });
    try {
      const { key, view } = keys.create({ name: 'stream', limitE8s: 10n ** 12n });
      const body = { model: MODEL, messages: MESSAGES, max_tokens: 5, stream: true };
      const response = await fetch(`${gateway.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify(body)
      });
      expect(response.status).toBe(502);
      expect(tried).toEqual(['a', 'b', 'c']);
      const spent = keys.list().find((k) => k.id === view.id)?.spentE8s;
      expect(spent).toBe(3n * inputBoundE8s(body));
      expect(spent).toBeGreaterThan(0n);
    } finally {
      await gateway.close();
    }
  });

  it('a plain request to runners that never start fails over at the first-token limit, each charged the prompt bound', async () => {
    const tried: string[] = [];
    // The whole-answer limit is far away: a runner that took the request and never started is left after 50 ms.
    const gateway = await startGateway({
      registry,
      keys,
      port: 0,
      transport: silent(tried),
      attemptTimeoutMs: 50,
      answerTimeoutMs: 60_000
    });
    try {
      const { key, view } = keys.create({ name: 'plain-silent', limitE8s: 10n ** 12n });
      const body = { model: MODEL, messages: MESSAGES, max_tokens: 5 };
      const started = performance.now();
      const response = await fetch(`${gateway.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify(body)
      });
      expect(response.status).toBe(502);
      expect(performance.now() - started).toBeLessThan(30_000);
      expect(tried).toEqual(['a', 'b', 'c']);
      expect(keys.list().find((k) => k.id === view.id)?.spentE8s).toBe(3n * inputBoundE8s(body));
    } finally {
      await gateway.close();
    }
  });

  it('a plain answer begun but not ended within the whole-answer limit fails without failover, charged as a broken stream', async () => {
    const tried: string[] = [];
    // Runners that give one token, then stall until stopped; the transport metered the prompt and that token.
    const stalling: UpstreamTransport = {
      send: async (target, _request, signal) => {
        tried.push(target.runner);
        async function* chunks(): AsyncGenerator<Record<string, unknown>> {
          yield { object: 'chat.completion.chunk', choices: [{ index: 0, delta: { role: 'assistant', content: 'a' } }] };
          await new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error('aborted'))));
        }
        return { chunks: chunks(), settlement: Promise.resolve({ promptTokens: 2, completionTokens: 1, chargeE8s: 4n }) };
      }
    };
    const gateway = await startGateway({ registry, keys, port: 0, transport: stalling, attemptTimeoutMs: 50, answerTimeoutMs: 200 });
    try {
      const { key, view } = keys.create({ name: 'plain-stall', limitE8s: 10n ** 12n });
      const response = await fetch(`${gateway.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: MODEL, messages: MESSAGES, max_tokens: 5 })
      });
      expect(response.status).toBe(502);
      expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(/no whole answer within 200 ms/);
      expect(tried).toEqual(['a']);
      expect(keys.list().find((k) => k.id === view.id)?.spentE8s).toBe(4n);
    } finally {
      await gateway.close();
    }
  });
});

describe('a runner’s 4xx', () => {
  let dir: string;
  let keys: KeyStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'deai-rejected-'));
    keys = new KeyStore(join(dir, 'keys.json'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** `refusing` answer 400; the others serve. */
  const transport = (refusing: Set<string>, tried: string[]): UpstreamTransport => ({
    send: async (target) => {
      tried.push(target.runner);
      if (refusing.has(target.runner))
        throw new UpstreamError('Rejected', `runner ${target.runner} answered 400: too long`, { status: 400 });
      return streamedAnswer('ok', { promptTokens: 3, completionTokens: 1, chargeE8s: 5n });
    }
  });
  const ask = async (baseURL: string, key: string): Promise<number> => {
    const response = await fetch(`${baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages: MESSAGES, max_tokens: 5 })
    });
    await response.arrayBuffer();
    return response.status;
  };

  it('is retried once on another runner; the refusing runner, then served elsewhere, is tried last', async () => {
    const tried: string[] = [];
    const gateway = await startGateway({ registry, keys, port: 0, transport: transport(new Set(['a']), tried) });
    try {
      const { key } = keys.create({ name: 'retry', limitE8s: 10n ** 12n });
      expect(await ask(gateway.baseURL, key)).toBe(200);
      expect(await ask(gateway.baseURL, key)).toBe(200);
      expect(tried).toEqual(['a', 'b', 'b']);
    } finally {
      await gateway.close();
    }
  });

  it('is retried on a runner serving a longer context first; served there, the shorter one is not demoted', async () => {
    // The registry ranks a (4,096 tokens), b (4,096), c (32,768); a refuses (its context), c serves it.
    const byContext: GatewayRegistry = {
      listModels: async () => [card],
      findRunners: async () => [runner('a'), runner('b'), { ...runner('c'), servedContext: 32_768n }]
    };
    const tried: string[] = [];
    const events: string[] = [];
    const gateway = await startGateway({
      registry: byContext,
      keys,
      port: 0,
      transport: transport(new Set(['a']), tried),
      log: (event, fields) => events.push(`${event} ${String(fields.runner)}`)
    });
    try {
      const { key } = keys.create({ name: 'context', limitE8s: 10n ** 12n });
      expect(await ask(gateway.baseURL, key)).toBe(200);
      expect(tried).toEqual(['a', 'c']);
      expect(events).toContain('context-refusal a');
      expect(events).not.toContain('demoted a');
      // Not demoted: the next request still goes to a first (one it would serve, were it shorter), then to c.
      expect(await ask(gateway.baseURL, key)).toBe(200);
      expect(tried).toEqual(['a', 'c', 'a', 'c']);
    } finally {
      await gateway.close();
    }
  });

  it('a refusal that a runner of no longer context then serves demotes the refusing runner', async () => {
    const tried: string[] = [];
    const events: string[] = [];
    const gateway = await startGateway({
      registry,
      keys,
      port: 0,
      transport: transport(new Set(['a']), tried),
      log: (event, fields) => events.push(`${event} ${String(fields.runner)}`)
    });
    try {
      const { key } = keys.create({ name: 'same-context', limitE8s: 10n ** 12n });
      expect(await ask(gateway.baseURL, key)).toBe(200);
      expect(events).toContain('demoted a');
      expect(events).not.toContain('context-refusal a');
    } finally {
      await gateway.close();
    }
  });

  it('from two runners is passed on as a 400, a third never asked and nobody demoted', async () => {
    const tried: string[] = [];
    const gateway = await startGateway({ registry, keys, port: 0, transport: transport(new Set(['a', 'b']), tried) });
    try {
      const { key } = keys.create({ name: 'twice', limitE8s: 10n ** 12n });
      expect(await ask(gateway.baseURL, key)).toBe(400);
      expect(await ask(gateway.baseURL, key)).toBe(400);
      expect(tried).toEqual(['a', 'b', 'a', 'b']);
    } finally {
      await gateway.close();
    }
  });
});
