import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Ed25519KeyIdentity } from '@dfinity/identity';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { GatewayRegistry } from '../../../src/gateway/catalog.ts';
import { KeyStore } from '../../../src/gateway/keys.ts';
import { paidTransport } from '../../../src/gateway/paid-transport.ts';
import { startGateway } from '../../../src/gateway/server.ts';
import { PayerClient } from '../../../src/sdk/paid/payer.ts';
import { MemoryCredit } from '../../support/credit.ts';
import { testCandidate, testCard } from '../../support/gateway-fixtures.ts';

/**
 * Review 9, finding 3. Since 88db784 a paid runner that takes the request and breaks before its first chunk costs the
 * key the worst case (`billable`). Nothing remembers it: the failover branch neither demotes nor records the runner, so
 * the registry's first-ranked runner that breaks every request is tried first on EVERY request, and every request
 * pays its worst case there before being served by the next runner. (The payer notes each as unbilled and will sign
 * whatever charge up to the worst case the runner lists.)
 */
const MODEL = 'org/broken-first';
const enc = new TextEncoder();

describe('review9: a paid runner that always breaks before its first chunk', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'deai-review9-broken-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is not tried first on every request', async () => {
    const identity = Ed25519KeyIdentity.generate();
    const payerPrincipal = identity.getPrincipal().toText();
    const credit = new MemoryCredit();
    await credit.payer(payerPrincipal).depositCredit(1_000_000_000n);
    const hits: string[] = [];
    const runnerFetch = (async (url: URL, init: { method: string }) => {
      if (init.method === 'GET') return new Response(JSON.stringify({ charges: [] }), { headers: { 'content-type': 'application/json' } });
      hits.push(url.host);
      if (url.port === '1001') return new Response(enc.encode(''), { headers: { 'content-type': 'text/event-stream' } }); // no [DONE]
      const chunk = {
        object: 'chat.completion.chunk',
        model: MODEL,
        choices: [{ index: 0, delta: { content: 'hi' }, finish_reason: 'stop' }]
      };
      return new Response(`data: ${JSON.stringify(chunk)}\n\ndata: [DONE]\n\n`, { headers: { 'content-type': 'text/event-stream' } });
    }) as unknown as typeof fetch;
    const payer = await PayerClient.open({ identity, credit: credit.payer(payerPrincipal), fetch: runnerFetch, settleEveryMs: 0 });
    const bad = Ed25519KeyIdentity.generate().getPrincipal().toText();
    const good = Ed25519KeyIdentity.generate().getPrincipal().toText();
    const registry = {
      listModels: async () => [testCard(MODEL)],
      findRunners: async () => [
        testCandidate(MODEL, { runner: bad, endpoint: 'http://127.0.0.1:1001', score: 2 }),
        testCandidate(MODEL, { runner: good, endpoint: 'http://127.0.0.1:1002', score: 1 })
      ]
    } as unknown as GatewayRegistry;
    const keys = new KeyStore(join(dir, 'keys.json'));
    const { key, view } = keys.create({ name: 'broken', limitE8s: 10n ** 12n });
    const gateway = await startGateway({ registry, keys, port: 0, transport: paidTransport(payer), attemptTimeoutMs: 2_000 });
    try {
      for (let i = 0; i < 4; i++) {
        const response = await fetch(`${gateway.baseURL}/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 })
        });
        expect(response.status).toBe(200);
        await response.text();
      }
      const spent = keys.list().find((k) => k.id === view.id)?.spentE8s ?? 0n;
      const badHits = hits.filter((h) => h.endsWith(':1001')).length;
      // Before a fix: the broken runner is tried first 4 times out of 4, and the key paid its worst case each time.
      expect({ badHits, spent }).toEqual({ badHits: 1, spent: expect.any(BigInt) });
    } finally {
      await gateway.close();
      await payer.close().catch(() => undefined);
    }
  }, 30_000);
});
