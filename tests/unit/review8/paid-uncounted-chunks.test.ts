import { Ed25519KeyIdentity } from '@dfinity/identity';
import { describe, expect, it } from 'vitest';

import { AnswerAssembler } from '../../../src/gateway/answer.ts';
import { directTransport } from '../../../src/gateway/direct-transport.ts';
import { paidTransport } from '../../../src/gateway/paid-transport.ts';
import { sseDataOf, type UpstreamTarget } from '../../../src/gateway/transport.ts';
import { PayerClient } from '../../../src/sdk/paid/payer.ts';
import { MemoryCredit } from '../../support/credit.ts';

/**
 * Review 8, finding 2. AnswerAssembler bounds what a plain answer keeps by `sseDataOf(chunk).length` plus the text it
 * joins. The paid transport passes a chunk that carries `deai_charge` (any value, `null` included) WITHOUT its SSE
 * data, so such a chunk weighs nothing: a malicious runner adds `"deai_charge":null` to every chunk and then anything
 * that is not joined text -- a new delta field per chunk (choice.other, unbounded in count), or logprobs items (counted
 * 1 each, whatever their size) -- is kept without limit for the whole-answer limit (600 s by default), 1 MiB per SSE line.
 */
const PAD = 'x'.repeat(100_000);
const CHUNKS = 30; // 30 x ~100 KB = ~3 MB kept, against a 1 MB bound
const evil = (i: number): Record<string, unknown> => ({
  deai_charge: null,
  choices: [{ index: 0, delta: { [`f${i}`]: PAD }, logprobs: { content: [{ token: PAD }] } }]
});
const sse = (): string =>
  `data: ${JSON.stringify({ choices: [{ index: 0, delta: { role: 'assistant', content: 'Hi' } }] })}\n\n` +
  Array.from({ length: CHUNKS }, (_, i) => `data: ${JSON.stringify(evil(i))}\n\n`).join('') +
  'data: [DONE]\n\n';

const target = (runner: string): UpstreamTarget => ({
  runner,
  endpoint: 'http://runner.invalid',
  model: 'org/m',
  inputPricePerMillion: 1_000_000n,
  outputPricePerMillion: 1_000_000n
});
const request = {
  path: '/v1/chat/completions' as const,
  body: { messages: [{ role: 'user', content: 'hi' }], max_tokens: 5, stream: true }
};

async function assemble(chunks: AsyncIterable<Record<string, unknown>>): Promise<{ error?: unknown; kept: number; withoutData: number }> {
  const assembler = new AnswerAssembler('/v1/chat/completions', 1_000_000);
  let withoutData = 0;
  try {
    for await (const chunk of chunks) {
      if (sseDataOf(chunk) === undefined) withoutData += 1;
      assembler.add(chunk);
    }
  } catch (error) {
    return { error, kept: 0, withoutData };
  }
  return { kept: JSON.stringify(assembler.answer()).length, withoutData };
}

describe('review8: chunks the paid transport passes without their SSE data are not counted', () => {
  it('control: over the direct transport the same stream breaks the 1 MB bound (BadResponse)', async () => {
    const fetchImpl = (async () => new Response(sse(), { headers: { 'content-type': 'text/event-stream' } })) as unknown as typeof fetch;
    const upstream = await directTransport(fetchImpl).send(target('direct'), request, new AbortController().signal);
    const result = await assemble(upstream.chunks);
    expect(result.error).toMatchObject({ code: 'BadResponse' });
  });

  it('paid: the same stream with "deai_charge":null in each chunk is kept whole (before the fix: no BadResponse, ~6 MB kept)', async () => {
    const identity = Ed25519KeyIdentity.generate();
    const payer = identity.getPrincipal().toText();
    const credit = new MemoryCredit();
    await credit.payer(payer).depositCredit(1_000_000_000n);
    const runnerFetch = (async () => new Response(sse(), { headers: { 'content-type': 'text/event-stream' } })) as unknown as typeof fetch;
    const client = await PayerClient.open({ identity, credit: credit.payer(payer), fetch: runnerFetch, settleEveryMs: 0 });
    try {
      const runner = Ed25519KeyIdentity.generate().getPrincipal().toText();
      const upstream = await paidTransport(client).send(target(runner), request, new AbortController().signal);
      const result = await assemble(upstream.chunks);
      expect(result.withoutData).toBeGreaterThan(0);
      // Before the fix: no error, result.kept is ~6,000,000 characters against the 1,000,000 bound.
      expect(result.error).toMatchObject({ code: 'BadResponse' });
    } finally {
      await client.close().catch(() => undefined);
    }
  });
});
