import { describe, expect, it } from 'vitest';

import { engineBody } from '../../../src/runner/metered/proxy.js';

describe('engineBody', () => {
  it('attack: the payer’s own n_predict, template kwargs or grammar never reach the engine (finding 3)', () => {
    const body = engineBody(
      {
        model: 'm',
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: 1,
        n_predict: -1,
        chat_template_kwargs: { padding: 'x'.repeat(10_000) },
        grammar: 'root ::= "a"*',
        stream: true,
        stream_options: { include_usage: false },
        temperature: 0.5
      },
      'engine-model',
      1
    );
    expect(body).toEqual({
      model: 'engine-model',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 1,
      n_predict: 1,
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0.5
    });
  });
});

describe('a broken engine stream', () => {
  it('attack: charges the prompt bound, not 0 input tokens (finding 6)', async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { Ed25519KeyIdentity } = await import('@dfinity/identity');
    const { authHeaders, requestSigningBytes } = await import('../../../src/core/credit/index.js');
    const { startMeteredServer } = await import('../../../src/runner/metered/server.js');
    const { MemoryCredit } = await import('../../support/credit.js');
    const runner = Ed25519KeyIdentity.generate().getPrincipal().toText();
    const payerId = Ed25519KeyIdentity.generate();
    const credit = new MemoryCredit();
    await credit.payer(payerId.getPrincipal().toText()).depositCredit(10_000_000n);
    const line = await credit.payer(payerId.getPrincipal().toText()).reserveCredit(runner, 10_000_000n);
    const brokenEngine = (async () =>
      new Response(
        new ReadableStream({
          start(c) {
            c.enqueue(new TextEncoder().encode('data: {"choices":[{"delta":{"content":"a"}}]}\n\n'));
            c.error(new Error('engine died'));
          }
        }),
        { status: 200, headers: { 'content-type': 'text/event-stream' } }
      )) as typeof fetch;
    const events: Array<[string, Record<string, unknown> | undefined]> = [];
    const server = await startMeteredServer({
      runner,
      engineUrl: 'http://engine.invalid',
      engineModel: 'm',
      models: [{ id: 'm', prices: { inputPerMillion: 1_000_000n, outputPerMillion: 1_000_000n } }],
      credit: credit.runner(runner),
      receiptsFile: join(mkdtempSync(join(tmpdir(), 'deai-broken-')), 'r.json'),
      settleCheckMs: 0,
      fetch: brokenEngine,
      log: (e, f) => events.push([e, f])
    });
    try {
      const body = new TextEncoder().encode(
        JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x'.repeat(1_000) }], stream: true })
      );
      const toSign = {
        runner,
        lineId: line.id,
        method: 'POST',
        path: '/v1/chat/completions',
        body,
        nonce: crypto.getRandomValues(new Uint8Array(16)),
        expiresAtNs: BigInt(Date.now() + 30_000) * 1_000_000n
      };
      const signature = new Uint8Array(await payerId.sign(requestSigningBytes(toSign)));
      const response = await fetch(`${server.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...authHeaders(toSign, new Uint8Array(payerId.getPublicKey().toDer()), signature) },
        body
      });
      await response.text();
      const charged = events.find(([e]) => e === 'metered-stream-charged')?.[1];
      expect(charged).toBeDefined();
      expect(BigInt(charged!.costE8s as string)).toBeGreaterThan(1_000n); // the prompt bound, not 1 output token
    } finally {
      await server.close();
    }
  });
});
