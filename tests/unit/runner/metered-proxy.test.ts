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

describe('an engine connection that fails before any answer', () => {
  /** A metered server in front of `engine`, and one signed streamed request through it. */
  async function oneRequest(engine: typeof fetch): Promise<{ status: number; events: string[] }> {
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
    const events: string[] = [];
    const server = await startMeteredServer({
      runner,
      engineUrl: 'http://engine.invalid',
      engineModel: 'm',
      models: [{ id: 'm', prices: { inputPerMillion: 1_000_000n, outputPerMillion: 1_000_000n } }],
      credit: credit.runner(runner),
      receiptsFile: join(mkdtempSync(join(tmpdir(), 'deai-stale-')), 'r.json'),
      settleCheckMs: 0,
      fetch: engine,
      log: (e) => events.push(e)
    });
    try {
      const body = new TextEncoder().encode(JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 }));
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
      return { status: response.status, events };
    } finally {
      await server.close();
    }
  }
  const answer = (): Response =>
    Response.json({
      choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 }
    });
  const failure = (code: string): TypeError => new TypeError('fetch failed', { cause: Object.assign(new Error(code), { code }) });

  it('is sent once more on a fresh connection when a kept-alive socket was closed under it (llama-server under load)', async () => {
    let calls = 0;
    const engine = (async () => {
      calls += 1;
      if (calls === 1) throw failure('UND_ERR_SOCKET');
      return answer();
    }) as typeof fetch;
    const { status, events } = await oneRequest(engine);
    expect(status).toBe(200);
    expect(calls).toBe(2);
    expect(events).toContain('metered-engine-resent');
  });

  it('is not sent again when the engine refuses connections or fails twice: 502 engine_unreachable', async () => {
    let calls = 0;
    const refused = (async () => {
      calls += 1;
      throw failure('ECONNREFUSED');
    }) as typeof fetch;
    expect((await oneRequest(refused)).status).toBe(502);
    expect(calls).toBe(1);
    calls = 0;
    const resetTwice = (async () => {
      calls += 1;
      throw failure('ECONNRESET');
    }) as typeof fetch;
    expect((await oneRequest(resetTwice)).status).toBe(502);
    expect(calls).toBe(2);
  });
});
