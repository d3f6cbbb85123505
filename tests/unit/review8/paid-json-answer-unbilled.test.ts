import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Ed25519KeyIdentity } from '@dfinity/identity';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { AUTH_HEADERS, chargeToJson } from '../../../src/core/credit/index.ts';
import type { GatewayRegistry } from '../../../src/gateway/catalog.ts';
import { KeyStore } from '../../../src/gateway/keys.ts';
import { paidTransport } from '../../../src/gateway/paid-transport.ts';
import { startGateway } from '../../../src/gateway/server.ts';
import { PayerClient } from '../../../src/sdk/paid/payer.ts';
import { MemoryCredit } from '../../support/credit.ts';
import { testCandidate, testCard } from '../../support/gateway-fixtures.ts';

/**
 * Review 8, finding 5 (pre-existing for streams, widened by 9274b36 to every request). Runners are now always asked to
 * stream. A paid runner that answers 200 with a plain JSON completion (its deai_charge inside) -- or any 200 that breaks
 * before its first chunk -- is a failover (ServerError 'stream_broken') and the KEY is charged 0, but the payer notes
 * the request as `unbilled` and, at the next request to that runner, takes up the charge the runner lists
 * (/deai/v1/charges) and signs a receipt for it: the gateway pays the runner, nobody pays the gateway, the runner is not
 * demoted, and it can repeat this on every request routed to it.
 */
const MODEL = 'org/json';

describe('review8: a paid runner answering JSON to the stream it is asked for', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'deai-review8-json-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('costs the key what the gateway may pay the runner (before the fix: the key paid nothing)', async () => {
    const identity = Ed25519KeyIdentity.generate();
    const payerPrincipal = identity.getPrincipal().toText();
    const credit = new MemoryCredit();
    await credit.payer(payerPrincipal).depositCredit(1_000_000_000n);
    let seq = 0n;
    const listed: unknown[] = [];
    const runnerFetch = (async (url: URL, init: { method: string; headers: Record<string, string> }) => {
      const lineId = BigInt(new Headers(init.headers).get(AUTH_HEADERS.line)!);
      if (init.method === 'GET')
        return new Response(JSON.stringify({ charges: listed }), { headers: { 'content-type': 'application/json' } });
      seq += 1n;
      const charge = chargeToJson({ lineId, chargeSeq: seq, inputTokens: 3n, outputTokens: 2n, costE8s: 5n, owedE8s: 5n * seq });
      listed.push(charge);
      const answer = {
        object: 'chat.completion',
        choices: [{ index: 0, message: { role: 'assistant', content: 'hi' } }],
        deai_charge: charge
      };
      return new Response(JSON.stringify(answer), { headers: { 'content-type': 'application/json' } });
    }) as unknown as typeof fetch;
    const payer = await PayerClient.open({ identity, credit: credit.payer(payerPrincipal), fetch: runnerFetch, settleEveryMs: 0 });
    const runner = Ed25519KeyIdentity.generate().getPrincipal().toText();
    const registry = {
      listModels: async () => [testCard(MODEL)],
      findRunners: async () => [testCandidate(MODEL, { runner })]
    } as unknown as GatewayRegistry;
    const keys = new KeyStore(join(dir, 'keys.json'));
    const { key, view } = keys.create({ name: 'json', limitE8s: 10n ** 12n });
    const gateway = await startGateway({ registry, keys, port: 0, transport: paidTransport(payer), attemptTimeoutMs: 2_000 });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        const response = await fetch(`${gateway.baseURL}/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 })
        });
        statuses.push(response.status);
        await response.text();
      }
      const spent = keys.list().find((k) => k.id === view.id)?.spentE8s ?? 0n;
      const owed = payer.lineOf(runner)?.owedE8s ?? 0n;
      // Before the fix: the gateway owes the runner 10 e8s (two charges taken up) while the key spent 0.
      expect(owed).toBeLessThanOrEqual(spent);
    } finally {
      await gateway.close();
      await payer.close().catch(() => undefined);
    }
  }, 30_000);
});
