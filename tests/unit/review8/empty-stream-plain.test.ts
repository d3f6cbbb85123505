import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { GatewayRegistry } from '../../../src/gateway/catalog.ts';
import { directTransport } from '../../../src/gateway/direct-transport.ts';
import { KeyStore } from '../../../src/gateway/keys.ts';
import { startGateway } from '../../../src/gateway/server.ts';
import { testCandidate, testCard } from '../../support/gateway-fixtures.ts';

/**
 * Review 8, finding 4. A runner that answers a (plain) request with `data: [DONE]` and nothing else -- or with chunks
 * that carry no choice at all -- is neither a failure nor a failover: the client gets 200
 * `{"object":"chat.completion","choices":[]}` (an OpenAI SDK user's `choices[0].message` throws), the next runner is
 * never tried, and the runner is recorded as served with a near-zero first-token time (favoured by sort: latency).
 */
const MODEL = 'org/empty';

describe('review8: a runner that streams no choice at all', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'deai-review8-empty-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is failed over to the next runner (before the fix: 200 with choices [])', async () => {
    const tried: string[] = [];
    const fetchImpl = (async (url: URL) => {
      const runner = url.port === '1001' ? 'empty' : 'honest';
      tried.push(runner);
      const sse =
        runner === 'empty'
          ? 'data: {"id":"x","object":"chat.completion.chunk","choices":[]}\n\ndata: [DONE]\n\n'
          : `data: ${JSON.stringify({ id: 'y', object: 'chat.completion.chunk', model: 'm', choices: [{ index: 0, delta: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }] })}\n\n` +
            `data: ${JSON.stringify({ id: 'y', choices: [], usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } })}\n\ndata: [DONE]\n\n`;
      return new Response(sse, { headers: { 'content-type': 'text/event-stream' } });
    }) as unknown as typeof fetch;
    const registry: GatewayRegistry = {
      listModels: async () => [testCard(MODEL)],
      findRunners: async () => [
        testCandidate(MODEL, { runner: 'empty', endpoint: 'http://127.0.0.1:1001' }),
        testCandidate(MODEL, { runner: 'honest', endpoint: 'http://127.0.0.1:1002' })
      ]
    };
    const keys = new KeyStore(join(dir, 'keys.json'));
    const { key } = keys.create({ name: 'empty', limitE8s: 10n ** 12n });
    const gateway = await startGateway({ registry, keys, port: 0, transport: directTransport(fetchImpl), attemptTimeoutMs: 2_000 });
    try {
      const response = await fetch(`${gateway.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 })
      });
      const body = (await response.json()) as { choices?: Array<{ message?: { content?: string } }> };
      // Before the fix: tried ['empty'] only, body.choices is [].
      expect(tried).toEqual(['empty', 'honest']);
      expect(body.choices?.[0]?.message?.content).toBe('ok');
    } finally {
      await gateway.close();
    }
  }, 30_000);
});
