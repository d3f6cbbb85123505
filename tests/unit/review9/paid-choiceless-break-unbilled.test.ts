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
 * Review 9, finding 2 (a regression of 88db784's untilFirstChoice). A paid runner answers 200, streams ONE chunk without
 * a choice, then cuts its stream (no [DONE]). The payer hands the stream over at that first chunk, then notes the
 * request `unbilled` (worst case) and returns `stream_broken`; the paid transport's generator turns that into a plain
 * ServerError (no `billable`), untilFirstChoice rejects with it, and completions' failover branch charges the key the
 * settlement: NOTHING, 0. At the next request the payer takes up the charge the runner lists and signs for it. Review 8
 * closed this for a break before the first SSE chunk (billable -> worst case); one choice-less chunk reopens it, and
 * before 88db784 the same stream was a broken stream after the first token (charged the worst case).
 */
const MODEL = 'org/choiceless';

describe('review9: a paid runner that breaks after a choice-less chunk', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'deai-review9-choiceless-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('costs the key what the gateway may pay the runner (before the fix: the key paid nothing)', async () => {
    const identity = Ed25519KeyIdentity.generate();
    const payerPrincipal = identity.getPrincipal().toText();
    const credit = new MemoryCredit();
    await credit.payer(payerPrincipal).depositCredit(1_000_000_000n);
    let seq = 0n;
    const listed: unknown[] = [];
    const runnerFetch = (async (_url: URL, init: { method: string; headers: Record<string, string> }) => {
      const lineId = BigInt(new Headers(init.headers).get(AUTH_HEADERS.line)!);
      if (init.method === 'GET')
        return new Response(JSON.stringify({ charges: listed }), { headers: { 'content-type': 'application/json' } });
      seq += 1n;
      listed.push(chargeToJson({ lineId, chargeSeq: seq, inputTokens: 3n, outputTokens: 2n, costE8s: 5n, owedE8s: 5n * seq }));
      // One chunk of no choice, then the stream ends without [DONE].
      return new Response(`data: ${JSON.stringify({ object: 'chat.completion.chunk', choices: [] })}\n\n`, {
        headers: { 'content-type': 'text/event-stream' }
      });
    }) as unknown as typeof fetch;
    const payer = await PayerClient.open({ identity, credit: credit.payer(payerPrincipal), fetch: runnerFetch, settleEveryMs: 0 });
    const runner = Ed25519KeyIdentity.generate().getPrincipal().toText();
    const registry = {
      listModels: async () => [testCard(MODEL)],
      findRunners: async () => [testCandidate(MODEL, { runner })]
    } as unknown as GatewayRegistry;
    const keys = new KeyStore(join(dir, 'keys.json'));
    const { key, view } = keys.create({ name: 'choiceless', limitE8s: 10n ** 12n });
    const gateway = await startGateway({ registry, keys, port: 0, transport: paidTransport(payer), attemptTimeoutMs: 2_000 });
    try {
      for (let i = 0; i < 3; i++) {
        const response = await fetch(`${gateway.baseURL}/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 })
        });
        await response.text();
      }
      const spent = keys.list().find((k) => k.id === view.id)?.spentE8s ?? 0n;
      const owed = payer.lineOf(runner)?.owedE8s ?? 0n;
      // Before a fix: the gateway owes the runner 10 e8s (two charges taken up) while the key spent 0.
      expect(owed).toBeGreaterThan(0n);
      expect(spent).toBeGreaterThanOrEqual(owed);
    } finally {
      await gateway.close();
      await payer.close().catch(() => undefined);
    }
  }, 30_000);
});
