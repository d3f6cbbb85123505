import { createParser } from 'eventsource-parser';

import { UpstreamErrorSchema, UsageSchema } from './schemas.js';
import { UpstreamError, withSseData } from './transport.js';

/** Far above any real chunk, far below a memory problem (as src/inference/chat-stream.ts). */
const MAX_SSE_BUFFER_CHARS = 1024 * 1024;

export interface StreamTally {
  promptTokens: number;
  completionTokens: number;
  /** Whether the engine reported usage (else completionTokens counts content chunks, at least one token each). */
  reported: boolean;
}

export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function contentChunks(chunk: Record<string, unknown>): number {
  const choices = Array.isArray(chunk.choices) ? chunk.choices : [];
  let count = 0;
  for (const choice of choices) {
    if (!isRecord(choice)) continue;
    const delta = isRecord(choice.delta) ? choice.delta.content : choice.text;
    if (typeof delta === 'string' && delta.length > 0) count++;
  }
  return count;
}

/**
 * The `data:` payloads of an OpenAI SSE body as objects, until `[DONE]`; `tally` counts usage as it goes. Throws an
 * UpstreamError on an engine error event, a malformed chunk, an oversized line or a stream that ends without
 * `[DONE]`. Stopping early (return/throw by the consumer) cancels the body.
 */
export async function* sseChunks(body: ReadableStream<Uint8Array>, tally: StreamTally): AsyncGenerator<Record<string, unknown>> {
  const events: string[] = [];
  let failure: UpstreamError | undefined;
  const parser = createParser({
    maxBufferSize: MAX_SSE_BUFFER_CHARS,
    onEvent: (event) => events.push(event.data),
    onError: (error) => {
      if (error.type === 'max-buffer-size-exceeded')
        failure ??= new UpstreamError('BadResponse', 'an SSE line beyond 1 MiB', { cause: error });
    }
  });
  const reader = body.getReader();
  const decoder = new TextDecoder();
  try {
    for (;;) {
      while (events.length > 0) {
        const data = events.shift() ?? '';
        if (data === '[DONE]') return;
        let json: unknown;
        try {
          json = JSON.parse(data);
        } catch (error) {
          throw new UpstreamError('BadResponse', `a stream chunk that is not JSON: ${data.slice(0, 80)}`, { cause: error });
        }
        const engineError = UpstreamErrorSchema.safeParse(json);
        if (engineError.success) throw new UpstreamError('ServerError', `the engine failed mid-stream: ${engineError.data.error.message}`);
        if (!isRecord(json)) throw new UpstreamError('BadResponse', 'a stream chunk that is not an object');
        const usage = UsageSchema.safeParse(json.usage);
        if (usage.success) {
          tally.promptTokens = usage.data.prompt_tokens;
          tally.completionTokens = usage.data.completion_tokens;
          tally.reported = true;
        } else if (!tally.reported) tally.completionTokens += contentChunks(json);
        yield withSseData(json, data);
      }
      if (failure !== undefined) throw failure;
      let read: ReadableStreamReadResult<Uint8Array>;
      try {
        read = await reader.read();
      } catch (error) {
        throw new UpstreamError('Unreachable', `the runner closed the stream: ${String(error)}`, { cause: error });
      }
      if (read.done) throw new UpstreamError('BadResponse', 'the stream ended without [DONE]');
      parser.feed(decoder.decode(read.value, { stream: true }));
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
