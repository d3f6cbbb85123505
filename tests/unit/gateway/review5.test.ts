import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { requestBoundOf, worstCaseCostE8s, type RequestBound } from '../../../src/core/credit/metering.ts';
import type { GatewayRegistry } from '../../../src/gateway/catalog.ts';
import { directTransport } from '../../../src/gateway/direct-transport.ts';
import { KeyStore } from '../../../src/gateway/keys.ts';
import { startGateway, type RunningGateway } from '../../../src/gateway/server.ts';
import type { UpstreamTransport } from '../../../src/gateway/transport.ts';
import type { RunnerRequest } from '../../../src/sdk/index.ts';
import { TEST_PRICES, streamedAnswer, testCandidate, testCard } from '../../support/gateway-fixtures.ts';

/** Review 5 PoCs against `deai gateway` (src/gateway). */

const MODEL = 'org/review5';
const PRICES = TEST_PRICES;
const MESSAGES = [{ role: 'user', content: 'hi' }];

const cardOf = testCard;
const runnerOf = (model: string, endpoint: string) => testCandidate(model, { runner: 'r1', endpoint });

describe('review 5 G1: what a key is charged is not bounded by the worst case held for it', () => {
  let dir: string;
  let engine: Server;
  let gateway: RunningGateway;
  let keys: KeyStore;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deai-review5-'));
    // An engine as llama-server reads a body: n_predict first, then max_tokens (max_completion_tokens unknown to it). It
    // streams (the gateway always asks runners to): one token, then the usage of all it generated.
    engine = createServer((request, response) => {
      let text = '';
      request.on('data', (c: Buffer) => (text += c.toString()));
      request.on('end', () => {
        const body = JSON.parse(text) as Record<string, unknown>;
        const generated =
          typeof body.n_predict === 'number' ? body.n_predict : typeof body.max_tokens === 'number' ? body.max_tokens : 100_000;
        const events = [
          { object: 'chat.completion.chunk', choices: [{ index: 0, delta: { role: 'assistant', content: 'x' }, finish_reason: 'length' }] },
          { object: 'chat.completion.chunk', choices: [], usage: { prompt_tokens: 10, completion_tokens: generated } }
        ];
        response
          .writeHead(200, { 'content-type': 'text/event-stream' })
          .end(`${events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join('')}data: [DONE]\n\n`);
      });
    });
    await new Promise<void>((resolve) => engine.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(engine.address() as AddressInfo).port}`;
    const registry: GatewayRegistry = { listModels: async () => [cardOf(MODEL)], findRunners: async () => [runnerOf(MODEL, endpoint)] };
    keys = new KeyStore(join(dir, 'keys.json'));
    gateway = await startGateway({ registry, keys, port: 0, transport: directTransport() });
  });
  afterAll(async () => {
    await gateway.close();
    engine.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const worst = (body: Record<string, unknown>) =>
    worstCaseCostE8s(PRICES, requestBoundOf('/v1/chat/completions', { messages: MESSAGES, ...body }) as RequestBound);

  it.each([
    ['n_predict passed through to the engine', { max_tokens: 10, n_predict: 1_000_000 }],
    ['max_completion_tokens bounds the hold, the engine reads max_tokens', { max_completion_tokens: 10, max_tokens: 1_000_000 }]
  ])('%s: the key spends past its limit in one request', async (_case, extra) => {
    // A limit of two worst cases of the request as the gateway bounds it.
    const limitE8s = 2n * worst(extra);
    const { key, view } = keys.create({ name: 'poc', limitE8s });
    const response = await fetch(`${gateway.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages: MESSAGES, ...extra })
    });
    expect(response.status).toBe(200);
    const spent = keys.list().find((k) => k.id === view.id)?.spentE8s ?? 0n;
    // SHOULD hold: a request is charged at most the worst case it was admitted (and held) at, so spent <= limit.
    expect(spent).toBeLessThanOrEqual(limitE8s);
  });
});

describe('review 5 G4: unauthenticated GET /v1/models with many published cards', () => {
  it('asks the registry for runners at most once per card within the cache TTL, however many cards there are', async () => {
    const cards = Array.from({ length: 1_200 }, (_, i) => cardOf(`org${i}/m`));
    let findRunnersCalls = 0;
    const registry: GatewayRegistry = {
      listModels: async () => cards,
      findRunners: async (request: RunnerRequest) => {
        findRunnersCalls++;
        return [runnerOf(request.model ?? '', 'http://127.0.0.1:9')];
      }
    };
    const dir = mkdtempSync(join(tmpdir(), 'deai-review5-models-'));
    const gateway = await startGateway({ registry, keys: new KeyStore(join(dir, 'keys.json')), port: 0 });
    try {
      expect((await fetch(`${gateway.baseURL}/models`)).status).toBe(200);
      const afterFirst = findRunnersCalls;
      // Ten more unauthenticated calls, back to back (well within CANDIDATES_TTL_MS of each other).
      for (let i = 0; i < 10; i++) expect((await fetch(`${gateway.baseURL}/models`)).status).toBe(200);
      // SHOULD hold: the answer (or each card's runners) is reused; on main each call clears the 1,000-entry
      // candidate cache part-way and asks the registry ~1,200 times again (an unauthenticated 1,200x amplifier).
      expect(findRunnersCalls - afterFirst).toBeLessThanOrEqual(cards.length / 10);
    } finally {
      await gateway.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('review 5 G5: a runner’s oversized body is read whole before any bound is applied', () => {
  const MiB = 1024 * 1024;
  it.each([
    ['an error body (kept: 64 KiB)', 500, 32 * MiB, 4 * MiB],
    ['an answer (an SSE line refused past 1 MiB)', 200, 96 * MiB, 72 * MiB]
  ])('%s: the gateway stops reading near the bound', async (_case, status, total, allowed) => {
    let written = 0;
    const engine = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        response.writeHead(status, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(MiB, 0x20); // JSON whitespace
        const pump = (): void => {
          while (written < total && !response.destroyed) {
            written += chunk.length;
            if (!response.write(chunk)) return void response.once('drain', pump);
          }
          if (!response.destroyed) response.end('{}');
        };
        pump();
      });
    });
    await new Promise<void>((resolve) => engine.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(engine.address() as AddressInfo).port}`;
    const dir = mkdtempSync(join(tmpdir(), 'deai-review5-big-'));
    const keys = new KeyStore(join(dir, 'keys.json'));
    const registry: GatewayRegistry = { listModels: async () => [cardOf(MODEL)], findRunners: async () => [runnerOf(MODEL, endpoint)] };
    const gateway = await startGateway({ registry, keys, port: 0, transport: directTransport() });
    try {
      const { key } = keys.create({ name: 'big', limitE8s: 10n ** 12n });
      const response = await fetch(`${gateway.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: MODEL, messages: MESSAGES, max_tokens: 5 })
      });
      expect(response.status).toBe(502);
      // SHOULD hold: the gateway reads at most its bound (plus socket buffers), then drops the runner's connection;
      // on main it buffers all of it (response.text()) first, so one runner (picked with provider.only by any key
      // holder) streaming for the attempt timeout (30 s) grows the gateway's heap by gigabytes.
      expect(written).toBeLessThanOrEqual(allowed);
    } finally {
      await gateway.close();
      engine.closeAllConnections();
      engine.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('review 5 G2: provider.order may name one runner many times', () => {
  it('plans each runner at most once', async () => {
    const { planRoute } = await import('../../../src/gateway/routing.ts');
    const a = { ...runnerOf(MODEL, 'http://127.0.0.1:9'), runner: 'a' };
    const b = { ...runnerOf(MODEL, 'http://127.0.0.1:9'), runner: 'b' };
    const plan = planRoute([a, b], { order: ['a', 'a', 'a', 'a'] }).map((c) => c.runner);
    // SHOULD hold: a failing (or slow) runner is tried once per request; on main ['a','a','a','a'] (each attempt up to
    // attemptTimeoutMs, 30 s, against the same runner) and the fallback b is never reached.
    expect(plan).toEqual(['a', 'b']);
  });
});

describe('review 5 G6: GET /v1/models/<malformed escape>', () => {
  it('answers 404 (or 400) in OpenAI’s shape, not a 500 internal error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'deai-review5-id-'));
    const registry: GatewayRegistry = { listModels: async () => [cardOf(MODEL)], findRunners: async () => [] };
    const logged: string[] = [];
    const gateway = await startGateway({
      registry,
      keys: new KeyStore(join(dir, 'keys.json')),
      port: 0,
      log: (event) => logged.push(event)
    });
    try {
      const response = await fetch(`${gateway.baseURL}/models/%E0%A4%A`);
      expect([400, 404]).toContain(response.status);
      expect(logged).not.toContain('error');
    } finally {
      await gateway.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('review 5 G7: the usage a streamed client sees is the runner’s claim, not what its key is charged', () => {
  it('sends the settled usage (the one billed, with cost_e8s) when the client asks for usage', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'deai-review5-usage-'));
    const keys = new KeyStore(join(dir, 'keys.json'));
    const registry: GatewayRegistry = {
      listModels: async () => [cardOf(MODEL)],
      findRunners: async () => [runnerOf(MODEL, 'http://127.0.0.1:9')]
    };
    const billed = { promptTokens: 3, completionTokens: 2, chargeE8s: 7n };
    const transport: UpstreamTransport = {
      send: async () => {
        async function* chunks(): AsyncGenerator<Record<string, unknown>> {
          yield { object: 'chat.completion.chunk', model: MODEL, choices: [{ index: 0, delta: { content: 'a' } }] };
          // The runner's engine reports usage of its own (a runner inflating it, or any engine count the payer corrects).
          yield { object: 'chat.completion.chunk', model: MODEL, choices: [], usage: { prompt_tokens: 999, completion_tokens: 999 } };
        }
        return { chunks: chunks(), settlement: Promise.resolve(billed) };
      }
    };
    const gateway = await startGateway({ registry, keys, port: 0, transport });
    try {
      const { key, view } = keys.create({ name: 'usage', limitE8s: 10n ** 12n });
      const response = await fetch(`${gateway.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: MODEL, messages: MESSAGES, max_tokens: 5, stream: true, stream_options: { include_usage: true } })
      });
      const events = (await response.text())
        .split('\n\n')
        .map((e) => e.replace(/^data: /, ''))
        .filter((e) => e !== '' && e !== '[DONE]')
        .map((e) => JSON.parse(e) as { usage?: Record<string, unknown> });
      const usages = events.flatMap((e) => (e.usage === undefined || e.usage === null ? [] : [e.usage]));
      expect(keys.list().find((k) => k.id === view.id)?.spentE8s).toBe(7n);
      // SHOULD hold: one usage, the billed one (as the non-streamed answer gives); on main the runner's 999/999.
      expect(usages).toEqual([{ prompt_tokens: 3, completion_tokens: 2, total_tokens: 5, cost_e8s: '7' }]);
    } finally {
      await gateway.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('review 5 G3: a non-streamed answer must arrive within the time-to-first-token limit', () => {
  it('serves a slow but live runner’s whole answer instead of failing over to every runner for free', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'deai-review5-slow-'));
    const keys = new KeyStore(join(dir, 'keys.json'));
    const runners = ['a', 'b', 'c', 'd'].map((runner) => ({ ...runnerOf(MODEL, 'http://127.0.0.1:9'), runner }));
    const registry: GatewayRegistry = { listModels: async () => [cardOf(MODEL)], findRunners: async () => runners };
    const tried: string[] = [];
    // Each runner starts at once, generates for 400 ms (a long answer), then ends; the gateway gives each 100 ms to its
    // first token. The client asks for a plain answer: runners stream it all the same.
    const transport: UpstreamTransport = {
      send: async (target, _request, signal) => {
        tried.push(target.runner);
        async function* chunks(): AsyncGenerator<Record<string, unknown>> {
          yield { object: 'chat.completion.chunk', choices: [{ index: 0, delta: { role: 'assistant', content: 'lo' } }] };
          await new Promise<void>((resolve, reject) => {
            const timer = setTimeout(resolve, 400);
            signal.addEventListener('abort', () => {
              clearTimeout(timer);
              reject(new Error('aborted'));
            });
          });
          yield { object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: 'ng' }, finish_reason: 'stop' }] };
        }
        return { chunks: chunks(), settlement: Promise.resolve({ promptTokens: 3, completionTokens: 200, chargeE8s: 403n }) };
      }
    };
    const gateway = await startGateway({ registry, keys, port: 0, transport, attemptTimeoutMs: 100 });
    try {
      const { key, view } = keys.create({ name: 'slow', limitE8s: 10n ** 12n });
      const response = await fetch(`${gateway.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: MODEL, messages: MESSAGES, max_tokens: 200 })
      });
      const spent = keys.list().find((k) => k.id === view.id)?.spentE8s;
      // SHOULD hold: one runner, one answer, charged. On main: 502 after all four runners worked 100 ms each (with
      // attemptTimeoutMs at its default 30 s: any answer longer than 30 s makes 4 runners generate for 30 s each),
      // and the key is charged nothing for any of it.
      expect({ status: response.status, tried, spent }).toEqual({ status: 200, tried: ['a'], spent: 403n });
      expect(((await response.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]?.message.content).toBe('long');
    } finally {
      await gateway.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('review 5 G8: a runner event whose data spans lines is forwarded as one `data:` line plus stray lines', () => {
  it('re-frames multi-line data so the client reads the JSON the gateway parsed', async () => {
    const { withSseData } = await import('../../../src/gateway/transport.ts');
    const dir = mkdtempSync(join(tmpdir(), 'deai-review5-sse-'));
    const keys = new KeyStore(join(dir, 'keys.json'));
    const registry: GatewayRegistry = {
      listModels: async () => [cardOf(MODEL)],
      findRunners: async () => [runnerOf(MODEL, 'http://127.0.0.1:9')]
    };
    // `data: {"model":…,"choices":[…]` then `data: }`: one SSE event whose data is valid JSON with a newline in it.
    const data = `{"model":"${MODEL}","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"a"}}]\n}`;
    const transport: UpstreamTransport = {
      send: async () => {
        async function* chunks(): AsyncGenerator<Record<string, unknown>> {
          yield withSseData(JSON.parse(data) as Record<string, unknown>, data);
        }
        return { chunks: chunks(), settlement: Promise.resolve({ promptTokens: 1, completionTokens: 1, chargeE8s: 3n }) };
      }
    };
    const gateway = await startGateway({ registry, keys, port: 0, transport });
    try {
      const { key } = keys.create({ name: 'sse', limitE8s: 10n ** 12n });
      const response = await fetch(`${gateway.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: MODEL, messages: MESSAGES, max_tokens: 5, stream: true })
      });
      const text = await response.text();
      // SHOULD hold: every line of the answer is a `data:` line or blank (each event's data parses as the client reads
      // it). On main the second line is a bare `}`: the client's event is `{"model":…` alone, which is not JSON.
      for (const line of text.split('\n')) expect(line === '' || line.startsWith('data: ')).toBe(true);
    } finally {
      await gateway.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('review 5 G9: one runner answering 4xx to everything blackholes the model (no failover on Rejected)', () => {
  it('tries the next runner when the first refuses a request as invalid', async () => {
    const { UpstreamError } = await import('../../../src/gateway/transport.ts');
    const dir = mkdtempSync(join(tmpdir(), 'deai-review5-4xx-'));
    const keys = new KeyStore(join(dir, 'keys.json'));
    // The liar ranks first (cheapest, best score): a runner anyone can register.
    const runners = ['liar', 'honest'].map((runner) => ({ ...runnerOf(MODEL, 'http://127.0.0.1:9'), runner }));
    const registry: GatewayRegistry = { listModels: async () => [cardOf(MODEL)], findRunners: async () => runners };
    const transport: UpstreamTransport = {
      send: async (target) => {
        if (target.runner === 'liar')
          throw new UpstreamError('Rejected', `runner liar answered 400: the request exceeds the context size`, { status: 400 });
        return streamedAnswer('ok', { promptTokens: 3, completionTokens: 1, chargeE8s: 5n });
      }
    };
    const gateway = await startGateway({ registry, keys, port: 0, transport });
    try {
      const { key } = keys.create({ name: '4xx', limitE8s: 10n ** 12n });
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        const response = await fetch(`${gateway.baseURL}/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: MODEL, messages: MESSAGES, max_tokens: 5 })
        });
        statuses.push(response.status);
        await response.arrayBuffer();
      }
      // SHOULD hold: a short request that another runner serves is served (the gateway cannot tell a runner's lie from
      // a real 4xx without trying elsewhere). On main: 400, 400, 400 — for every client, as long as the liar ranks first.
      expect(statuses).toEqual([200, 200, 200]);
    } finally {
      await gateway.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
