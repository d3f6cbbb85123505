import { Ed25519KeyIdentity } from '@dfinity/identity';
import { describe, expect, it } from 'vitest';

import { PayerClient } from '../../../src/sdk/paid/payer.js';
import { MemoryCredit } from '../../support/credit.js';

describe('PayerClient credit', () => {
  it('attack: a runner answering 402 insufficient_credit forever does not make the payer reserve again (finding 11)', async () => {
    const identity = Ed25519KeyIdentity.generate();
    const payer = identity.getPrincipal().toText();
    const runner = Ed25519KeyIdentity.generate().getPrincipal().toText();
    const credit = new MemoryCredit();
    await credit.payer(payer).depositCredit(100_000_000n);
    const refusing = (async () =>
      new Response(JSON.stringify({ error: { message: 'no credit', type: 'insufficient_quota', code: 'insufficient_credit' } }), {
        status: 402,
        headers: { 'content-type': 'application/json' }
      })) as typeof fetch;
    const client = await PayerClient.open({ identity, credit: credit.payer(payer), fetch: refusing, settleEveryMs: 0 });
    const target = { runner, endpoint: 'http://runner.invalid', prices: { inputPerMillion: 1_000n, outputPerMillion: 1_000n } };
    for (let i = 0; i < 3; i++) {
      const r = await client.send(target, { path: '/v1/chat/completions', body: { messages: [{ role: 'user', content: 'hi' }] } });
      expect(r).toMatchObject({ ok: false, status: 402 });
    }
    expect(credit.calls.filter((c) => c === 'reserveCredit')).toHaveLength(1);
    expect(credit.account(payer).freeE8s).toBe(90_000_000n);
  });

  it('a payer that lost its books resumes owed from what is settled on-chain, not 0 (finding 8)', async () => {
    const identity = Ed25519KeyIdentity.generate();
    const payer = identity.getPrincipal().toText();
    const runner = Ed25519KeyIdentity.generate().getPrincipal().toText();
    const credit = new MemoryCredit();
    await credit.payer(payer).depositCredit(100_000_000n);
    const line = await credit.payer(payer).reserveCredit(runner, 10_000_000n);
    await credit.payer(payer).settleUsage([{ lineId: line.id, seq: 3n, owedE8s: 500n, inputTokens: 5n, outputTokens: 5n, requests: 3n }]);
    const refusing = (async () => new Response('{}', { status: 500 })) as typeof fetch;
    const client = await PayerClient.open({ identity, credit: credit.payer(payer), fetch: refusing, settleEveryMs: 0 });
    const target = { runner, endpoint: 'http://runner.invalid', prices: { inputPerMillion: 1_000n, outputPerMillion: 1_000n } };
    await client.send(target, { path: '/v1/chat/completions', body: { messages: [{ role: 'user', content: 'hi' }] } });
    expect(client.lineOf(runner)).toMatchObject({ lineId: line.id, seq: 3n, owedE8s: 500n });
  });
});
