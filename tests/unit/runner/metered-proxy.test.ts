import { describe, expect, it } from 'vitest';

import { mkdtempSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Ed25519KeyIdentity } from '@dfinity/identity';

import { authHeaders, requestSigningBytes } from '../../../src/core/credit/index.js';
import { engineBody } from '../../../src/core/credit/metering.js';
import { relayStream, STREAM_FLUSH_MS } from '../../../src/runner/metered/proxy.js';
import { startMeteredServer } from '../../../src/runner/metered/server.js';
import { MemoryCredit } from '../../support/credit.js';

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

describe('relayStream', () => {
  /** An engine answer read in these pieces, and what was written to the client, write by write. */
  async function relay(pieces: string[], finish = (c: Record<string, unknown>) => ({ ...c, deai_charge: 'C' })) {
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        for (const piece of pieces) c.enqueue(new TextEncoder().encode(piece));
        c.close();
      }
    });
    const writes: string[] = [];
    // The one method relayStream uses of the client's response.
    const res = { write: (text: string) => writes.push(text) > 0 } as unknown as ServerResponse;
    const result = await relayStream(new Response(body), res, finish);
    return { writes, result };
  }
  // Spacing no serializer would produce: what the client gets shows whether the engine's bytes were forwarded.
  const content = 'data: {"model":"m" , "choices":[{"delta":{"content":"Hé"}}],"usage":null}\n\n';
  const more = 'data: {"model":"m","choices":[{"delta":{"content":"!"}}]}\n\n';
  const usage = 'data: {"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}\n\n';
  const done = 'data: [DONE]\n\n';

  it('forwards the engine’s events as sent, one write per read, and replaces only the usage chunk (with the charge)', async () => {
    const { writes, result } = await relay([content + more, usage + done]);
    expect(writes).toEqual([
      content + more,
      'data: {"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2},"deai_charge":"C"}\n\n' + done
    ]);
    expect(result).toEqual({ usage: { inputTokens: 3n, outputTokens: 2n }, contentChunks: 2 });
  });

  it('holds an event split across reads until it is whole, so the usage chunk is replaced whole', async () => {
    const whole = content + more + usage + done;
    const cuts = [10, content.length + 5, content.length + more.length + 30, whole.length - 3];
    const pieces = cuts.map((cut, i) => whole.slice(i === 0 ? 0 : cuts[i - 1], cut)).concat(whole.slice(cuts.at(-1)));
    const { writes, result } = await relay(pieces, (c) => {
      const { usage: _usage, ...rest } = c;
      return { ...rest, deai_charge: 'C' };
    });
    expect(writes.join('')).toBe(content + more + 'data: {"model":"m","choices":[],"deai_charge":"C"}\n\n' + done);
    expect(result.usage).toEqual({ inputTokens: 3n, outputTokens: 2n });
  });

  // OpenAI-style engines send "usage":null on every chunk once include_usage is set.
  const lastNull = 'data: {"model":"m","choices":[{"delta":{},"finish_reason":"stop"}],"usage":null}\n\n';

  it('attack: the usage chunk sharing a read with a "usage":null chunk is still replaced, in one write (review 2, F5)', async () => {
    const { writes, result } = await relay([content + lastNull + usage + done]);
    expect(writes).toEqual([
      content + lastNull + 'data: {"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2},"deai_charge":"C"}\n\n' + done
    ]);
    expect(result).toEqual({ usage: { inputTokens: 3n, outputTokens: 2n }, contentChunks: 1 });
  });

  it('attack: usage reported on every chunk is charged from the last one before [DONE], the earlier ones stripped (F5)', async () => {
    const chunk = (content: string, tokens: number): string =>
      `data: {"model":"m","choices":[{"delta":{"content":"${content}"}}],"usage":{"prompt_tokens":3,"completion_tokens":${tokens}}}\n\n`;
    const after = 'data: {"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":900}}\n\n';
    const charged: bigint[] = [];
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        for (const piece of [chunk('a', 0), chunk('b', 1) + usage, done + after]) c.enqueue(new TextEncoder().encode(piece));
        c.close();
      }
    });
    const writes: string[] = [];
    const res = { write: (text: string) => writes.push(text) > 0 } as unknown as ServerResponse;
    const strip = ({ usage: _usage, ...rest }: Record<string, unknown>) => rest;
    const result = await relayStream(
      new Response(body),
      res,
      (c, found) => {
        charged.push(found.outputTokens);
        return { ...strip(c), deai_charge: 'C' };
      },
      strip
    );
    expect(charged).toEqual([2n]); // once, from the last usage before [DONE]
    expect(result).toEqual({ usage: { inputTokens: 3n, outputTokens: 2n }, contentChunks: 2 });
    // Nothing is written for the first read (its one event might have carried the last usage); what follows [DONE]
    // is relayed as sent.
    expect(writes).toEqual([
      'data: {"model":"m","choices":[{"delta":{"content":"a"}}]}\n\n' + 'data: {"model":"m","choices":[{"delta":{"content":"b"}}]}\n\n',
      'data: {"model":"m","choices":[],"deai_charge":"C"}\n\n' + done + after
    ]);
  });

  it('a usage chunk ending a read is held until the next read shows it was the last', async () => {
    const { writes, result } = await relay([content + usage, done]);
    expect(writes).toEqual([
      content,
      'data: {"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2},"deai_charge":"C"}\n\n' + done
    ]);
    expect(result.usage).toEqual({ inputTokens: 3n, outputTokens: 2n });
  });

  it('a usage chunk the engine ends the stream on, without [DONE], is still charged', async () => {
    const { writes, result } = await relay([content, usage]);
    expect(writes.join('')).toBe(
      content + 'data: {"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2},"deai_charge":"C"}\n\n'
    );
    expect(result.usage).toEqual({ inputTokens: 3n, outputTokens: 2n });
  });

  it('after the first content, writes within STREAM_FLUSH_MS share one write; the first content and the end go out at once', async () => {
    const role = 'data: {"model":"m","choices":[{"delta":{"role":"assistant"}}]}\n\n';
    const token = (t: string): string => `data: {"model":"m","choices":[{"delta":{"content":"${t}"}}]}\n\n`;
    let engine!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({ start: (c) => void (engine = c) });
    const writes: string[] = [];
    const res = { write: (text: string) => writes.push(text) > 0, destroyed: false } as unknown as ServerResponse;
    const relayed = relayStream(new Response(body), res, (c) => ({ ...c, deai_charge: 'C' }));
    const send = async (text: string): Promise<void> => {
      engine.enqueue(new TextEncoder().encode(text));
      await new Promise((resolve) => setTimeout(resolve, 0));
    };
    for (const text of [role, token('a'), token('b'), token('c')]) await send(text);
    // What precedes the first content and the first content itself are not held (the time to first token).
    expect(writes).toEqual([role, token('a')]);
    await new Promise((resolve) => setTimeout(resolve, STREAM_FLUSH_MS + 30));
    expect(writes).toEqual([role, token('a'), token('b') + token('c')]);
    await send(token('d'));
    engine.enqueue(new TextEncoder().encode(usage + done));
    engine.close();
    const result = await relayed;
    // The end of the answer goes at once, after what was waiting.
    expect(writes.slice(3)).toEqual([
      token('d'),
      'data: {"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2},"deai_charge":"C"}\n\n' + done
    ]);
    expect(result).toEqual({ usage: { inputTokens: 3n, outputTokens: 2n }, contentChunks: 4 });
  });

  it('a stream without usage is reported, with its content chunks counted', async () => {
    const { result } = await relay([content, more, done]);
    expect(result).toEqual({ contentChunks: 2, error: 'the stream ended without usage' });
  });
});

/** A metered server (in-memory credit, a funded line) in front of `engine`, and one signed request through it. */
async function oneRequest(
  engine: typeof fetch,
  request: Record<string, unknown>
): Promise<{ status: number; events: Array<[string, Record<string, unknown> | undefined]> }> {
  const runner = Ed25519KeyIdentity.generate().getPrincipal().toText();
  const payerId = Ed25519KeyIdentity.generate();
  const credit = new MemoryCredit();
  await credit.payer(payerId.getPrincipal().toText()).depositCredit(10_000_000n);
  const line = await credit.payer(payerId.getPrincipal().toText()).reserveCredit(runner, 10_000_000n);
  const events: Array<[string, Record<string, unknown> | undefined]> = [];
  const server = await startMeteredServer({
    runner,
    engineUrl: 'http://engine.invalid',
    engineModel: 'm',
    models: [{ id: 'm', prices: { inputPerMillion: 1_000_000n, outputPerMillion: 1_000_000n } }],
    credit: credit.runner(runner),
    receiptsFile: join(mkdtempSync(join(tmpdir(), 'deai-metered-')), 'r.json'),
    settleCheckMs: 0,
    fetch: engine,
    log: (e, f) => events.push([e, f])
  });
  try {
    const body = new TextEncoder().encode(JSON.stringify(request));
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

describe('a broken engine stream', () => {
  it('attack: charges the prompt bound, not 0 input tokens (finding 6)', async () => {
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
    const { events } = await oneRequest(brokenEngine, {
      model: 'm',
      messages: [{ role: 'user', content: 'x'.repeat(1_000) }],
      stream: true
    });
    const charged = events.find(([e]) => e === 'metered-stream-charged')?.[1];
    expect(charged).toBeDefined();
    expect(BigInt(charged!.costE8s as string)).toBeGreaterThan(1_000n); // the prompt bound, not 1 output token
  });
});

describe('an engine connection that fails before any answer', () => {
  const ask = { model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 };
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
    const { status, events } = await oneRequest(engine, ask);
    expect(status).toBe(200);
    expect(calls).toBe(2);
    expect(events.map(([e]) => e)).toContain('metered-engine-resent');
  });

  it('is not sent again when the engine refuses connections or fails twice: 502 engine_unreachable', async () => {
    let calls = 0;
    const refused = (async () => {
      calls += 1;
      throw failure('ECONNREFUSED');
    }) as typeof fetch;
    expect((await oneRequest(refused, ask)).status).toBe(502);
    expect(calls).toBe(1);
    calls = 0;
    const resetTwice = (async () => {
      calls += 1;
      throw failure('ECONNRESET');
    }) as typeof fetch;
    expect((await oneRequest(resetTwice, ask)).status).toBe(502);
    expect(calls).toBe(2);
  });
});
