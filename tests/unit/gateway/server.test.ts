import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { perTokenPrice, type GatewayRegistry } from '../../../src/gateway/catalog.ts';
import { openAiError } from '../../../src/gateway/errors.ts';
import { KeyStore } from '../../../src/gateway/keys.ts';
import { startGateway, type RunningGateway } from '../../../src/gateway/server.ts';
import type { PublishedModel, RunnerCandidate } from '../../../src/sdk/index.ts';
import { startFakeEngine, type FakeEngine } from '../../support/fake-engine.ts';
import { testCandidate, testCard } from '../../support/gateway-fixtures.ts';

const MODEL = 'org/fake';
/** A model whose runners rank (nearly) equal: affinity decides. */
const TIED = 'org/tied';
const card: PublishedModel = {
  ...testCard(MODEL),
  manifestJson: JSON.stringify({ modalities: { input: ['text', 'image'], output: ['text'] }, capabilities: ['tools'] })
};
const candidate = (runner: string, endpoint: string, score: number): RunnerCandidate => testCandidate(MODEL, { runner, endpoint, score });

/** The gateway in-process over a fake registry and two fake engines: the HTTP surface without a network. */
describe('the gateway HTTP surface (fake registry and engines)', () => {
  let dir: string;
  let keys: KeyStore;
  let gateway: RunningGateway;
  let first: FakeEngine;
  let second: FakeEngine;
  let openai: OpenAI;
  let key: string;
  let registryDown = false;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deai-gateway-unit-'));
    [first, second] = [await startFakeEngine(), await startFakeEngine()];
    const registry: GatewayRegistry = {
      listModels: async () => {
        if (registryDown) throw new Error('connection refused');
        return [card, { ...card, id: TIED }];
      },
      findRunners: async (request) =>
        request.model === TIED
          ? [candidate('first', first.url, 8_000), candidate('second', second.url, 8_000), candidate('third', first.url, 7_990)]
          : [candidate('first', first.url, 9_000), candidate('second', second.url, 1_000)]
    };
    keys = new KeyStore(join(dir, 'keys.json'));
    key = keys.create({ name: 'unit', limitE8s: 1_000_000_000n }).key;
    gateway = await startGateway({ registry, keys, port: 0, attemptTimeoutMs: 1_000 });
    openai = new OpenAI({ baseURL: gateway.baseURL, apiKey: key, maxRetries: 0 });
  });
  afterAll(async () => {
    await gateway.close();
    await Promise.all([first.close(), second.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('fails over on an HTTP 500 and on a runner slower than the attempt timeout, before any byte reaches the client', async () => {
    first.failNext('http500');
    const { data, response } = await openai.chat.completions
      .create({ model: MODEL, messages: [{ role: 'user', content: 'a b c' }] })
      .withResponse();
    expect(response.headers.get('x-deai-runner')).toBe('second');
    expect(data.choices[0]?.message.content).toBe('c b a');
    // 13 + 3 tokens at 1,000,000 / 2,000,000 e8s per million: 19 e8s, charged to the key.
    expect(data.usage).toMatchObject({ prompt_tokens: 13, completion_tokens: 3, total_tokens: 16, cost_e8s: '19' });
    first.delayNext(3_000);
    const slow = await openai.chat.completions.create(
      Object.assign(
        { model: MODEL, messages: [{ role: 'user' as const, content: 'x y' }], stream: true as const },
        { provider: { order: ['first'] } }
      )
    );
    let text = '';
    for await (const chunk of slow) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('y x');
    expect(second.lastBody).toMatchObject({ model: MODEL, stream: true, stream_options: { include_usage: true } });
    expect(second.lastBody).not.toHaveProperty('provider');
  });

  it('streams without usage unless asked; a runner failing after its first token ends the stream with an error', async () => {
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of await openai.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'p q' }],
      stream: true
    }))
      chunks.push(chunk);
    expect(chunks.some((c) => c.usage !== undefined && c.usage !== null)).toBe(false);
    expect(chunks.every((c) => c.model === MODEL)).toBe(true);
    first.failNext('midstream');
    const broken = await openai.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'u v w' }], stream: true });
    const seen: string[] = [];
    const error = await (async () => {
      try {
        for await (const chunk of broken) seen.push(chunk.choices[0]?.delta.content ?? '');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(APIError);
    expect(String((error as APIError).message)).toMatch(/mid-stream/);
    expect(seen.join('')).toBe('w v u');
  });

  it('answers the OpenAI error shape for routes, methods, bodies and a registry it cannot read', async () => {
    const get = (path: string, init: RequestInit = {}) => fetch(`${gateway.baseURL.replace(/\/v1$/, '')}${path}`, init);
    expect((await get('/health')).status).toBe(200);
    expect(await (await get('/v1/nothing')).json()).toMatchObject({ error: { code: 'not_found', param: null } });
    expect((await get('/v1/chat/completions')).status).toBe(405);
    const auth = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const notJson = await get('/v1/chat/completions', { method: 'POST', headers: auth, body: '{' });
    expect({ status: notJson.status, body: await notJson.json() }).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid_request' } }
    });
    const huge = await get('/v1/completions', { method: 'POST', headers: auth, body: 'x'.repeat(9 * 1024 * 1024) });
    expect(huge.status).toBe(413);
    const noPrompt = await get('/v1/completions', { method: 'POST', headers: auth, body: JSON.stringify({ model: MODEL }) });
    expect(await noPrompt.json()).toMatchObject({ error: { param: 'prompt', type: 'invalid_request_error' } });
    const badProvider = await get('/v1/chat/completions', {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'a' }], provider: { sort: 'cheapest' } })
    });
    expect(await badProvider.json()).toMatchObject({ error: { param: 'provider.sort' } });
    expect((await get('/v1/models', { method: 'OPTIONS' })).headers.get('access-control-allow-origin')).toBe('*');
    registryDown = true;
    try {
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      const down = await get('/v1/chat/completions', {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ model: 'org/unknown', messages: [{ role: 'user', content: 'a' }] })
      });
      expect({ status: down.status, body: await down.json() }).toMatchObject({
        status: 503,
        body: { error: { code: 'registry_unavailable' } }
      });
    } finally {
      registryDown = false;
    }
    // Anything unexpected is a 500 that does not leak its message.
    expect(openAiError(new Error('secret detail'))).toEqual({
      status: 500,
      body: { error: { message: 'internal gateway error', type: 'server_error', param: null, code: 'internal' } }
    });
  });

  it('the affinity key (x-deai-affinity, else user) keeps a session on one of equally ranked runners', async () => {
    const served = async (user: string | undefined, header: string | undefined): Promise<string | null> => {
      const body = { model: TIED, messages: [{ role: 'user' as const, content: 'a' }], ...(user === undefined ? {} : { user }) };
      const options = header === undefined ? {} : { headers: { 'x-deai-affinity': header } };
      return (await openai.chat.completions.create(body, options).withResponse()).response.headers.get('x-deai-runner');
    };
    const sessions = Array.from({ length: 12 }, (_, i) => `session-${i}`);
    const chosen = await Promise.all(sessions.map((s) => served(s, undefined)));
    expect(await Promise.all(sessions.map((s) => served(s, undefined)))).toEqual(chosen);
    expect(await Promise.all(sessions.map((s) => served('ignored', s)))).toEqual(chosen);
    expect(new Set(chosen).size).toBeGreaterThan(1);
  });

  it('lists models in OpenRouter’s shape with exact per-token prices', async () => {
    const entry = (await openai.models.retrieve(MODEL)) as unknown as Record<string, unknown>;
    expect(entry).toMatchObject({
      id: MODEL,
      context_length: 4096,
      architecture: { modality: 'text+image->text', input_modalities: ['text', 'image'], output_modalities: ['text'], tokenizer: 'llama' },
      pricing: { prompt: '0.00000001', completion: '0.00000002' },
      quantization: 'Q4_K_M',
      deai: { runners: 2, capabilities: ['tools'], pricing_e8s_per_million: { prompt: '1000000', completion: '2000000' } }
    });
    expect([0n, 1n, 100n, 123_456_789_000_000_000n].map(perTokenPrice)).toEqual(['0', '0.00000000000001', '0.000000000001', '1234.56789']);
  });
});
