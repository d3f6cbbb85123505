import type { ServerResponse } from 'node:http';

import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { z } from 'zod';

/**
 * The engine call behind a metered request: the body as the engine needs it (its own model id, `max_tokens` set
 * to what was priced, usage requested on streams), and the usage it reports. Plain answers are read whole; streams
 * are relayed event by event, holding back only the usage chunk, which carries the charge.
 */

const Usage = z.object({ prompt_tokens: z.number().int().nonnegative(), completion_tokens: z.number().int().nonnegative() });
const WithUsage = z.object({ usage: Usage.nullish() }).passthrough();

export interface EngineUsage {
  inputTokens: bigint;
  outputTokens: bigint;
}

/**
 * The request fields passed to the engine: only those that cannot raise the cost beyond what was priced. Anything else
 * (llama.cpp's `n_predict`, which it reads before `max_tokens`; `chat_template_kwargs`, rendered into the prompt but
 * not counted in its bound; grammars; `n_probs`) is dropped. `tools` and `response_format` are counted in the bound.
 */
const ENGINE_FIELDS = [
  'messages',
  'prompt',
  'stream',
  'temperature',
  'top_p',
  'top_k',
  'min_p',
  'stop',
  'seed',
  'presence_penalty',
  'frequency_penalty',
  'repeat_penalty',
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'response_format'
] as const;

export function engineBody(body: Record<string, unknown>, engineModel: string, maxTokens: number): Record<string, unknown> {
  const upstream: Record<string, unknown> = {};
  for (const key of ENGINE_FIELDS) if (body[key] !== undefined) upstream[key] = body[key];
  Object.assign(upstream, { model: engineModel, max_tokens: maxTokens, n_predict: maxTokens });
  if (body.stream === true) upstream.stream_options = { include_usage: true };
  return upstream;
}

/** Whether the client itself asked for the usage chunk (else the runner strips `usage` from it). */
export const clientWantsUsage = (body: Record<string, unknown>): boolean =>
  typeof body.stream_options === 'object' &&
  body.stream_options !== null &&
  (body.stream_options as Record<string, unknown>).include_usage === true;

export function usageOf(json: unknown): EngineUsage | undefined {
  const parsed = WithUsage.safeParse(json);
  const usage = parsed.success ? parsed.data.usage : undefined;
  return usage ? { inputTokens: BigInt(usage.prompt_tokens), outputTokens: BigInt(usage.completion_tokens) } : undefined;
}

/**
 * Relays an engine SSE stream to `res`. The chunk carrying usage is passed to `finish`, which returns what to send
 * in its place (the chunk with the charge added); the rest passes through as the engine sent it.
 */
export async function relayStream(
  upstream: Response,
  res: ServerResponse,
  finish: (chunk: Record<string, unknown>, usage: EngineUsage) => Record<string, unknown>
): Promise<{ usage?: EngineUsage; contentChunks: number; error?: string }> {
  let usage: EngineUsage | undefined;
  let contentChunks = 0;
  const parser = createParser({
    maxBufferSize: 1024 * 1024,
    onEvent(event: EventSourceMessage) {
      // Only a chunk that can carry usage is parsed; the others are forwarded as they came.
      if (event.data.includes('"usage"') && usage === undefined) {
        let json: unknown;
        try {
          json = JSON.parse(event.data);
        } catch {
          json = undefined;
        }
        const found = usageOf(json);
        if (found !== undefined && typeof json === 'object' && json !== null) {
          usage = found;
          res.write(`data: ${JSON.stringify(finish(json as Record<string, unknown>, found))}\n\n`);
          return;
        }
      }
      if (event.data.includes('"content":"') || event.data.includes('"text":"')) contentChunks++;
      res.write(`data: ${event.data}\n\n`);
    }
  });
  const reader = upstream.body!.getReader();
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
    }
  } catch (error) {
    return { ...(usage === undefined ? {} : { usage }), contentChunks, error: String(error) };
  }
  return usage === undefined ? { contentChunks, error: 'the stream ended without usage' } : { usage, contentChunks };
}

/** The socket errors of a kept-alive connection the engine closed as it was reused (llama-server does, under load). */
const STALE_SOCKET_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

/**
 * Whether a failed `fetch` to the engine died on a reused connection before any answer: sending it again on a fresh
 * connection is safe, since the engine answered nothing (a refused connection or an abort is not retried).
 */
export function isStaleConnection(error: unknown): boolean {
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  return typeof cause?.code === 'string' && STALE_SOCKET_CODES.has(cause.code);
}
