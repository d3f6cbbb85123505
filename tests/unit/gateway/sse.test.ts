import { describe, expect, it } from 'vitest';

import { sseChunks, type StreamTally } from '../../../src/gateway/sse.ts';
import { UpstreamError } from '../../../src/gateway/transport.ts';

const body = (...parts: string[]): ReadableStream<Uint8Array> =>
  new ReadableStream({
    start(controller) {
      for (const part of parts) controller.enqueue(new TextEncoder().encode(part));
      controller.close();
    }
  });
const event = (data: unknown): string => `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
const delta = (content: string) => ({ choices: [{ index: 0, delta: { content } }] });

async function drain(stream: ReadableStream<Uint8Array>): Promise<{ chunks: unknown[]; tally: StreamTally; error?: unknown }> {
  const tally: StreamTally = { promptTokens: 0, completionTokens: 0, reported: false };
  const chunks: unknown[] = [];
  try {
    for await (const chunk of sseChunks(stream, tally)) chunks.push(chunk);
    return { chunks, tally };
  } catch (error) {
    return { chunks, tally, error };
  }
}

describe('sseChunks: an engine’s OpenAI stream, read and metered', () => {
  it('yields the chunks until [DONE] and takes the engine’s usage', async () => {
    const usage = { prompt_tokens: 7, completion_tokens: 2 };
    const { chunks, tally, error } = await drain(
      body(event(delta('a')), event(delta(' b')).slice(0, 5), event(delta(' b')).slice(5), event({ choices: [], usage }), event('[DONE]'))
    );
    expect(error).toBeUndefined();
    expect(chunks).toHaveLength(3);
    expect(tally).toEqual({ promptTokens: 7, completionTokens: 2, reported: true });
  });

  it('without usage, counts content chunks (at least a token each); completions’ `text` counts too', async () => {
    const { tally } = await drain(body(event(delta('a')), event(delta('')), event({ choices: [{ text: 'x' }] }), event('[DONE]')));
    expect(tally).toEqual({ promptTokens: 0, completionTokens: 2, reported: false });
  });

  it('names what went wrong: an engine error event, a chunk that is not JSON, no [DONE], a line beyond 1 MiB', async () => {
    const cases: Array<[ReadableStream<Uint8Array>, string, RegExp]> = [
      [body(event(delta('a')), event({ error: { message: 'boom' } })), 'ServerError', /mid-stream: boom/],
      [body(event('{not json')), 'BadResponse', /not JSON/],
      [body(event('[1,2]')), 'BadResponse', /not an object/],
      [body(event(delta('a'))), 'BadResponse', /without \[DONE\]/],
      [body(`data: ${'x'.repeat(1024 * 1024 + 10)}`), 'BadResponse', /beyond 1 MiB/]
    ];
    for (const [stream, code, message] of cases) {
      const { error } = await drain(stream);
      expect(error).toBeInstanceOf(UpstreamError);
      expect(error).toMatchObject({ code, retryable: true });
      expect(String((error as Error).message)).toMatch(message);
    }
  });
});
