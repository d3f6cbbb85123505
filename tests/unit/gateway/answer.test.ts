import { ChatCompletionStream } from 'openai/lib/ChatCompletionStream';
import { describe, expect, it } from 'vitest';

import { AnswerAssembler } from '../../../src/gateway/answer.ts';
import { UpstreamError, withSseData } from '../../../src/gateway/transport.ts';

/** A plain answer put together from a streamed one (src/gateway/answer.ts), checked against the `openai` package's own. */

const chunk = (choices: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  id: 'chatcmpl-1',
  object: 'chat.completion.chunk',
  created: 1_700_000_000,
  model: 'engine-model',
  choices,
  ...extra
});

/** A streamed chat answer with reasoning, content, two tool calls in pieces, logprobs and a usage-only chunk. */
const CHAT: Array<Record<string, unknown>> = [
  chunk([{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]),
  chunk([{ index: 0, delta: { reasoning_content: 'Think' }, finish_reason: null }]),
  chunk([{ index: 0, delta: { reasoning_content: 'ing.' }, finish_reason: null }]),
  chunk([{ index: 0, delta: { content: 'Hel' }, logprobs: { content: [{ token: 'Hel', logprob: -0.1, bytes: null, top_logprobs: [] }] } }]),
  chunk([{ index: 0, delta: { content: 'lo' }, logprobs: { content: [{ token: 'lo', logprob: -0.2, bytes: null, top_logprobs: [] }] } }]),
  chunk([
    {
      index: 0,
      delta: { tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '' } }] }
    }
  ]),
  chunk([{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] } }]),
  chunk([
    { index: 0, delta: { tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '{}' } }] } }
  ]),
  chunk([{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '"Oslo"}' } }] } }]),
  chunk([{ index: 0, delta: {}, finish_reason: 'tool_calls' }], { timings: { predicted_n: 9 } }),
  chunk([], { usage: { prompt_tokens: 5, completion_tokens: 9, total_tokens: 14 } })
];

/** The `openai` package's own accumulation of `chunks` (its ChatCompletionStream helper, fed as JSON lines). */
async function openaiFinal(chunks: Array<Record<string, unknown>>): Promise<Record<string, unknown>> {
  const lines = new TextEncoder().encode(chunks.map((c) => `${JSON.stringify(c)}\n`).join(''));
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(lines);
      controller.close();
    }
  });
  return (await ChatCompletionStream.fromReadableStream(body).finalChatCompletion()) as unknown as Record<string, unknown>;
}

describe('a plain answer put together from a stream', () => {
  it('chat: the same message, finish reason and logprobs as the openai package puts together', async () => {
    const assembler = new AnswerAssembler('/v1/chat/completions');
    for (const c of CHAT) assembler.add(structuredClone(c));
    const ours = assembler.answer() as { choices: Array<Record<string, unknown>> } & Record<string, unknown>;
    const theirs = (await openaiFinal(CHAT)) as typeof ours;
    expect(ours).toMatchObject({ id: 'chatcmpl-1', object: 'chat.completion', created: 1_700_000_000, model: 'engine-model' });
    expect(ours.usage).toBeUndefined();
    expect(ours.timings).toEqual({ predicted_n: 9 });
    expect(ours.choices).toHaveLength(1);
    const [mine, reference] = [ours.choices[0]!, theirs.choices[0]!];
    expect(mine.finish_reason).toBe('tool_calls');
    expect(mine.finish_reason).toBe(reference.finish_reason);
    expect(mine.logprobs).toEqual(reference.logprobs);
    const message = mine.message as Record<string, unknown>;
    const expected = reference.message as Record<string, unknown>;
    expect(message.role).toBe('assistant');
    expect(message.content).toBe('Hello');
    expect(message.content).toBe(expected.content);
    // llama.cpp's reasoning deltas are not OpenAI's: the openai helper keeps only the last piece; all of it is joined here.
    expect(message.reasoning_content).toBe('Thinking.');
    expect(message.tool_calls).toEqual([
      { id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
      { id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '{}' } }
    ]);
    expect(message.tool_calls).toEqual(expected.tool_calls);
  });

  it('chat: several choices in index order, content null when only tools or nothing came', () => {
    const assembler = new AnswerAssembler('/v1/chat/completions');
    assembler.add(chunk([{ index: 1, delta: { role: 'assistant', content: 'B' }, finish_reason: 'stop' }]));
    assembler.add(chunk([{ index: 0, delta: { role: 'assistant' }, finish_reason: 'length' }]));
    const { choices } = assembler.answer() as { choices: Array<{ index: number; message: { content: unknown }; finish_reason: unknown }> };
    expect(choices.map((c) => [c.index, c.message.content, c.finish_reason])).toEqual([
      [0, null, 'length'],
      [1, 'B', 'stop']
    ]);
  });

  it('completions: text joined per choice, as text_completion', () => {
    const assembler = new AnswerAssembler('/v1/completions');
    for (const text of ['The', ' sea', ' is']) assembler.add({ id: 'cmpl-1', object: 'text_completion', choices: [{ index: 0, text }] });
    assembler.add({ id: 'cmpl-1', object: 'text_completion', choices: [{ index: 0, text: '', finish_reason: 'length' }] });
    expect(assembler.answer()).toEqual({
      id: 'cmpl-1',
      object: 'text_completion',
      choices: [{ index: 0, text: 'The sea is', logprobs: null, finish_reason: 'length' }]
    });
  });

  it('keeps the first chunk’s id and created, later fields in place, at most 64 top-level fields; __proto__ is a field', () => {
    const assembler = new AnswerAssembler('/v1/chat/completions');
    assembler.add(chunk([{ index: 0, delta: { content: 'a' } }], { system_fingerprint: 'b1' }));
    assembler.add({ id: 'other', created: 1, system_fingerprint: 'b2', choices: [] });
    // A runner adding a new top-level key to every chunk: 10,000 chunks keep 64 fields, not 10,000.
    for (let i = 0; i < 10_000; i++) assembler.add({ [`k${i}`]: i, choices: [] });
    assembler.add(
      JSON.parse('{"__proto__":{"polluted":true},"choices":[{"index":0,"delta":{"__proto__":{"x":1}}}]}') as Record<string, unknown>
    );
    const answer = assembler.answer();
    expect(answer).toMatchObject({ id: 'chatcmpl-1', created: 1_700_000_000, system_fingerprint: 'b2' });
    expect(Object.keys(answer).length).toBeLessThanOrEqual(64 + 2);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(JSON.parse(JSON.stringify(answer)).choices[0].message.content).toBe('a');
  });

  it('an empty stream is an answer with no choices', () => {
    expect(new AnswerAssembler('/v1/chat/completions').answer()).toEqual({ object: 'chat.completion', choices: [] });
  });

  it.each([
    ['a choice that is not an object', [42]],
    ['a choice index that is not an integer below 128', [{ index: 128, delta: { content: 'x' } }]],
    ['a choice index that is not an integer below 128', [{ index: -1, delta: { content: 'x' } }]],
    ['a choice index that is not an integer below 128', [{ index: '0', delta: { content: 'x' } }]],
    ['a tool call that is not an object', [{ index: 0, delta: { tool_calls: ['x'] } }]],
    ['a tool call index that is not an integer below 128', [{ index: 0, delta: { tool_calls: [{ index: 1.5 }] } }]]
  ])('a runner streaming %s is a BadResponse', (what, choices) => {
    const assembler = new AnswerAssembler('/v1/chat/completions');
    const error = (() => {
      try {
        assembler.add(chunk(choices));
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error).toMatchObject({ code: 'BadResponse', message: `the runner streamed ${what}` });
  });

  it('bounds what it keeps: text past the limit, or chunks whose SSE data weighs past it, is a BadResponse', () => {
    const text = new AnswerAssembler('/v1/chat/completions', 10);
    text.add(chunk([{ index: 0, delta: { content: '12345' } }]));
    expect(() => text.add(chunk([{ index: 0, delta: { content: '123456' } }]))).toThrow(/an answer beyond 10 characters/);
    const tools = new AnswerAssembler('/v1/chat/completions', 10);
    expect(() => tools.add(chunk([{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: 'x'.repeat(11) } }] } }]))).toThrow(
      /beyond 10/
    );
    // A chunk that keeps no text still counts what its data weighed (an engine padding every chunk).
    const padded = new AnswerAssembler('/v1/chat/completions', 100);
    const heavy = chunk([{ index: 0, delta: {} }]);
    expect(() => padded.add(withSseData(heavy, ' '.repeat(101)))).toThrow(/beyond 100/);
  });
});
