import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import type { GatewayRegistry } from '../../../src/gateway/catalog.ts';
import { withModel } from '../../../src/gateway/completions.ts';
import { KeyStore } from '../../../src/gateway/keys.ts';
import { startGateway, type RunningGateway } from '../../../src/gateway/server.ts';
import { withSseData, type UpstreamSettlement, type UpstreamTransport } from '../../../src/gateway/transport.ts';
import { testCandidate, testCard } from '../../support/gateway-fixtures.ts';

describe('withModel: a chunk’s JSON text with the card id as its model, without parsing it again', () => {
  it('replaces the top-level model and nothing else, byte for byte', () => {
    const data = '{"id":"x", "model":"engine","choices":[{"delta":{"content":"say \\"model\\":\\"engine\\""}}] }';
    expect(withModel(data, 'engine', 'org/card')).toBe(data.replace('"model":"engine"', '"model":"org/card"'));
    expect(withModel(data, 'engine', 'engine')).toBe(data);
    expect(withModel('{"model":"a/b"}', 'a/b', 'q"uote')).toBe('{"model":"q\\"uote"}');
  });

  it('gives up (the caller serializes the chunk) when the text is not plainly the parsed chunk', () => {
    expect(withModel('{"choices":[]}', 'engine', 'card')).toBeUndefined();
    expect(withModel('{"model":"engine","x":{"model":"engine"}}', 'engine', 'card')).toBeUndefined();
    expect(withModel('{"model":"eng\\u0069ne"}', 'engine', 'card')).toBeUndefined();
    expect(withModel('{"model":"engine2"}', 'engine', 'card')).toBeUndefined();
  });
});

const MODEL = 'org/relay';
const card = testCard(MODEL);
const candidate = testCandidate(MODEL, { endpoint: 'http://runner.invalid', score: 9_000 });

describe('the gateway relaying a paid stream', () => {
  let dir: string;
  let keys: KeyStore;
  let id: string;
  let key: string;
  let gateway: RunningGateway;
  /** Resolves the settlement of the stream in flight (the payer's check of the charge and its receipt). */
  let settle: (s: UpstreamSettlement) => void = () => undefined;
  const chunk = (data: string): Record<string, unknown> => withSseData(JSON.parse(data) as Record<string, unknown>, data);
  // Spacing no serializer would produce: what reaches the client shows whether the runner's bytes were forwarded.
  const first = '{"id":"c1", "model":"engine","choices":[{"index":0,"delta":{"content":"Hé"}}] , "extra" : 1}';
  const second = '{"id":"c1", "model":"engine","choices":[{"index":0,"delta":{"content":"!"}}]}';
  const usage = '{"id":"c1","model":"engine","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deai-relay-'));
    const registry: GatewayRegistry = { listModels: async () => [card], findRunners: async () => [candidate] };
    keys = new KeyStore(join(dir, 'keys.json'));
    ({ key } = keys.create({ name: 'relay', limitE8s: 1_000_000_000n }));
    id = keys.list()[0]!.id;
    const transport: UpstreamTransport = {
      send: async () => {
        async function* chunks(): AsyncGenerator<Record<string, unknown>> {
          yield chunk(first);
          yield chunk(second);
          yield chunk(usage);
        }
        return { chunks: chunks(), settlement: new Promise<UpstreamSettlement>((resolve) => (settle = resolve)) };
      }
    };
    gateway = await startGateway({ registry, keys, transport, port: 0, attemptTimeoutMs: 1_000 });
  });
  afterAll(async () => {
    await gateway.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('forwards the runner’s chunks as sent (model renamed) and ends at its [DONE], before the charge is settled', async () => {
    const response = await fetch(`${gateway.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: MODEL,
        messages: [{ role: 'user', content: 'hi' }],
        stream: true
      })
    });
    expect(response.status).toBe(200);
    // The whole answer arrives while the settlement is still pending (the payer signing its receipt). The runner's
    // usage chunk is its claim, not shown (a client asking for usage gets the billed one, after the settlement).
    const text = await response.text();
    const renamed = (data: string): string => data.replace('"model":"engine"', `"model":"${MODEL}"`);
    expect(text).toBe(`data: ${renamed(first)}\n\ndata: ${renamed(second)}\n\ndata: [DONE]\n\n`);
    expect(keys.heldE8s(id)).toBeGreaterThan(0n);
    // Then the key is charged what the payer accepted, and nothing stays held.
    settle({ promptTokens: 3, completionTokens: 2, chargeE8s: 7n });
    await vi.waitFor(() => expect(keys.heldE8s(id)).toBe(0n));
    keys.flush();
    expect(keys.list()[0]!.spentE8s).toBe(7n);
  }, 10_000);
});
