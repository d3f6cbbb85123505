import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { GatewayRegistry } from '../../../src/gateway/catalog.ts';
import { KeyStore } from '../../../src/gateway/keys.ts';
import { startGateway } from '../../../src/gateway/server.ts';
import type { UpstreamTransport } from '../../../src/gateway/transport.ts';
import { streamedAnswer, testCandidate, testCard } from '../../support/gateway-fixtures.ts';

/**
 * Review 8, finding 3. A runner streams a chunk whose field is a deeply nested array (200,000 levels: 400 KB, within
 * the 1 MiB SSE line; JSON.parse takes it). AnswerAssembler keeps it, and answerPlain's
 * `response.writeHead(200, ...).end(JSON.stringify(body))` calls writeHead BEFORE JSON.stringify throws RangeError
 * (stack overflow). The RangeError is no GatewayError/UpstreamError: serveCompletion treats it as a FAILOVER (charging
 * what runner a metered), runner b then serves the answer but its writeHead throws ERR_HTTP_HEADERS_SENT (charged
 * again), and so on down the plan; the client finally gets the 200 head with an empty body.
 */
const MODEL = 'org/deep';
const DEPTH = 200_000;

describe('review8: a deeply nested field in a plain answer', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'deai-review8-deep-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is one runner’s failure, not a failover that charges every runner', async () => {
    const tried: string[] = [];
    const deep = JSON.parse(`${'['.repeat(DEPTH)}${']'.repeat(DEPTH)}`) as unknown;
    const transport: UpstreamTransport = {
      send: async (target) => {
        tried.push(target.runner);
        if (target.runner !== 'a') return streamedAnswer('ok', { promptTokens: 3, completionTokens: 1, chargeE8s: 5n });
        async function* chunks(): AsyncGenerator<Record<string, unknown>> {
          yield { object: 'chat.completion.chunk', timings: deep, choices: [{ index: 0, delta: { role: 'assistant', content: 'x' } }] };
        }
        return { chunks: chunks(), settlement: Promise.resolve({ promptTokens: 3, completionTokens: 1, chargeE8s: 7n }) };
      }
    };
    const registry: GatewayRegistry = {
      listModels: async () => [testCard(MODEL)],
      findRunners: async () => [
        testCandidate(MODEL, { runner: 'a' }),
        testCandidate(MODEL, { runner: 'b' }),
        testCandidate(MODEL, { runner: 'c' })
      ]
    };
    const keys = new KeyStore(join(dir, 'keys.json'));
    const { key, view } = keys.create({ name: 'deep', limitE8s: 10n ** 12n });
    const gateway = await startGateway({ registry, keys, port: 0, transport, attemptTimeoutMs: 2_000, answerTimeoutMs: 5_000 });
    try {
      const response = await fetch(`${gateway.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 })
      });
      expect(await response.text()).toContain('failed mid-answer');
      const spent = keys.list().find((k) => k.id === view.id)?.spentE8s;
      // Before the fix: status 200 with an empty body, tried a, b and c, spent 7 + 5 + 5 = 17.
      expect(tried).toEqual(['a']);
      expect(spent).toBe(7n);
      expect(response.status).toBe(502);
    } finally {
      await gateway.close();
    }
  }, 30_000);
});
