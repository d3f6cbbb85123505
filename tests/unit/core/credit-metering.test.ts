import { describe, expect, it } from 'vitest';

import {
  acceptCharge,
  availableCreditE8s,
  chargeFromJson,
  chargeToJson,
  creditRefusal,
  DEFAULT_MAX_TOKENS,
  inputTokenBoundOf,
  OUTPUT_SLACK_TOKENS,
  requestBoundOf,
  worstCaseCostE8s,
  type Charge,
  type LineExposure
} from '../../../src/core/credit/index.js';

const PRICES = { inputPerMillion: 1_000_000n, outputPerMillion: 3_000_000n };
const MESSAGES = [{ role: 'user', content: 'héllo 🌊' }];
const PROMPT_BYTES = new TextEncoder().encode(JSON.stringify(MESSAGES)).length;

describe('request bounds', () => {
  it('chat: the messages as JSON bytes; max_completion_tokens wins over max_tokens; none means the default', () => {
    expect(requestBoundOf('/v1/chat/completions', { messages: MESSAGES, max_tokens: 7 })).toEqual({
      promptBytes: PROMPT_BYTES,
      maxTokens: 7
    });
    expect(requestBoundOf('/v1/chat/completions', { messages: MESSAGES, max_tokens: 7, max_completion_tokens: 9 })).toMatchObject({
      maxTokens: 9
    });
    expect(requestBoundOf('/v1/chat/completions', { messages: MESSAGES })).toMatchObject({ maxTokens: DEFAULT_MAX_TOKENS });
    expect(requestBoundOf('/v1/completions', { prompt: 'ab' })).toEqual({ promptBytes: 2, maxTokens: DEFAULT_MAX_TOKENS });
    expect(requestBoundOf('/v1/completions', { prompt: ['a', 'b'] })).toMatchObject({ promptBytes: 9 });
  });

  it('attack: tools and response_format, rendered into the prompt, count in its bound (finding 3)', () => {
    const tools = [{ type: 'function', function: { name: 'f', description: 'x'.repeat(5_000) } }];
    const bound = requestBoundOf('/v1/chat/completions', { messages: MESSAGES, tools, response_format: { type: 'json_object' } });
    expect(bound).toMatchObject({ promptBytes: PROMPT_BYTES + JSON.stringify(tools).length + 22 });
  });

  it('refuses what cannot be bounded', () => {
    for (const [path, body] of [
      ['/v1/chat/completions', { messages: [] }],
      ['/v1/chat/completions', {}],
      ['/v1/chat/completions', { messages: MESSAGES, max_tokens: 0 }],
      ['/v1/chat/completions', { messages: MESSAGES, max_tokens: 1.5 }],
      ['/v1/chat/completions', { messages: MESSAGES, max_tokens: '9' }],
      ['/v1/chat/completions', { messages: MESSAGES, n: 3 }],
      ['/v1/completions', { prompt: 5 }],
      ['/v1/embeddings', { input: 'x' }]
    ] as const)
      expect(typeof requestBoundOf(path, body as Record<string, unknown>)).toBe('string');
  });

  it('worst case: (bytes + template overhead, capped by the context) at the input price, max_tokens at the output price', () => {
    expect(inputTokenBoundOf(10)).toBe(522n);
    expect(inputTokenBoundOf(10, 100)).toBe(100n);
    expect(worstCaseCostE8s(PRICES, { promptBytes: 10, maxTokens: 4 })).toBe(522n + 12n);
    expect(worstCaseCostE8s(PRICES, { promptBytes: 10, maxTokens: 4 }, 100)).toBe(100n + 12n);
  });
});

describe('charges', () => {
  const charge: Charge = { lineId: 3n, chargeSeq: 9n, inputTokens: 20n, outputTokens: 5n, costE8s: 35n, owedE8s: 100n };

  it('round-trip through JSON; anything malformed is undefined', () => {
    expect(chargeFromJson(JSON.parse(JSON.stringify(chargeToJson(charge))))).toEqual(charge);
    expect(chargeFromJson({ ...chargeToJson(charge), cost_e8s: '-1' })).toBeUndefined();
    expect(chargeFromJson({ ...chargeToJson(charge), owed_e8s: 5 })).toBeUndefined();
    expect(chargeFromJson(null)).toBeUndefined();
  });

  it('an honest charge is accepted as it is', () => {
    const accepted = acceptCharge(charge, { prices: PRICES, promptBytes: 8, maxTokens: 10, completionBytes: 6 });
    expect(accepted).toEqual({ inputTokens: 20n, outputTokens: 5n, costE8s: 35n, overReported: [] });
  });

  it('over-reported tokens are cut to the payer’s bounds and priced at the posted prices', () => {
    const inflated = { ...charge, inputTokens: 10_000n, outputTokens: 500n, costE8s: 11_500n };
    const accepted = acceptCharge(inflated, { prices: PRICES, promptBytes: 8, maxTokens: 100, completionBytes: 6 });
    expect(accepted).toEqual({
      inputTokens: 520n,
      outputTokens: BigInt(6 + OUTPUT_SLACK_TOKENS),
      costE8s: 520n + 3n * 22n,
      overReported: ['input_tokens', 'output_tokens']
    });
    // max_tokens bounds output even when the bytes would allow more.
    expect(acceptCharge(inflated, { prices: PRICES, promptBytes: 8, maxTokens: 4, completionBytes: 600 }).outputTokens).toBe(4n);
  });

  it('a cost above the posted prices of the claimed tokens is over-reporting too (and not paid)', () => {
    const accepted = acceptCharge({ ...charge, costE8s: 36n }, { prices: PRICES, promptBytes: 8, maxTokens: 10, completionBytes: 6 });
    expect(accepted).toMatchObject({ costE8s: 35n, overReported: ['cost_e8s'] });
  });
});

describe('the runner’s exposure on a line', () => {
  const line: LineExposure = { reservedE8s: 1_000n, settledE8s: 100n, receiptOwedE8s: 300n, unsignedE8s: 200n, unsignedRequests: 2 };
  const limits = { maxUnsignedE8s: 500n, maxUnsignedRequests: 3 };

  it('available = reserved − max(settled, receipted) − unsigned, never negative', () => {
    expect(availableCreditE8s(line)).toBe(500n);
    expect(availableCreditE8s({ ...line, settledE8s: 400n })).toBe(400n);
    expect(availableCreditE8s({ ...line, unsignedE8s: 5_000n })).toBe(0n);
    // Finding 12: the registry's available figure (net of the protocol fee) bounds it, not the reserve.
    expect(availableCreditE8s({ ...line, availableE8s: 857n })).toBe(457n); // 857 − (300 − 100) − 200
    expect(creditRefusal({ ...line, availableE8s: 857n }, 500n, { maxUnsignedE8s: 10_000n, maxUnsignedRequests: 10 })).toMatchObject({
      code: 'InsufficientCredit',
      availableE8s: 457n
    });
  });

  it('serves within the credit and the caps; refuses beyond either, naming which', () => {
    expect(creditRefusal(line, 300n, limits)).toBeUndefined();
    expect(creditRefusal(line, 501n, { ...limits, maxUnsignedE8s: 10_000n })).toEqual({
      code: 'InsufficientCredit',
      availableE8s: 500n,
      neededE8s: 501n
    });
    expect(creditRefusal(line, 301n, limits)).toMatchObject({ code: 'ExposureCap', unsignedE8s: 200n });
    expect(creditRefusal({ ...line, unsignedRequests: 3 }, 1n, limits)).toMatchObject({ code: 'ExposureCap', unsignedRequests: 3 });
  });
});
