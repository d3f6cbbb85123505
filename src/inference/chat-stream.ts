import { sha256 } from '@noble/hashes/sha2';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { z } from 'zod';

import { chatMessagesOf } from '../core/tasks/chat-input.js';
import { CodedError } from '../core/errors/coded-error.js';

/**
 * One streamed chat completion on an OpenAI-compatible endpoint (llama.cpp and vLLM both serve it), measured the
 * way the registry wants results reported: output and its digest, usage, time to first token. The runner runs its
 * tasks through it and the SDK's direct chat() its calls to runners' endpoints, so it uses no Node API (the SDK
 * bundles for browsers; tests/unit/sdk/browser-bundle.test.ts).
 */
export interface ExecuteRequest {
  baseUrl: string;
  model: string;
  /** The task's inline input: a prompt, or a chat document (`src/core/tasks/chat-input.ts`) with roles. */
  prompt: string;
  maxOutputTokens: number;
  temperature?: number;
  seed?: bigint;
  signal?: AbortSignal;
  /** Called once, when the first output token arrives. */
  onFirstToken?: () => void;
  /** Called with each piece of output text as it streams in. */
  onDelta?: (text: string) => void;
}

export interface Execution {
  output: string;
  outputDigest: string;
  inputTokens: bigint;
  outputTokens: bigint;
  firstTokenMs: number;
  totalMs: number;
  finishReason: string | undefined;
}

export type ExecutionErrorCode = 'ServerError' | 'BadResponse' | 'Unreachable' | 'Aborted';

export class ExecutionError extends CodedError<ExecutionErrorCode> {
  constructor(code: ExecutionErrorCode, message: string, retryable: boolean, options?: { cause?: unknown }) {
    super(code, message, { ...options, retryable });
    this.name = 'ExecutionError';
  }
}

const Chunk = z
  .object({
    choices: z.array(
      z.object({ delta: z.object({ content: z.string().nullish() }).passthrough(), finish_reason: z.string().nullish() }).passthrough()
    ),
    usage: z
      .object({ prompt_tokens: z.number().int().nonnegative(), completion_tokens: z.number().int().nonnegative() })
      .passthrough()
      .nullish()
  })
  .passthrough();
const ErrorBody = z.object({
  error: z.object({ message: z.string(), code: z.union([z.number(), z.string()]).nullish(), type: z.string().nullish() }).passthrough()
});

export const outputDigest = (output: string): string => `sha256:${bytesToHex(sha256(utf8ToBytes(output)))}`;

export async function execute(
  request: ExecuteRequest,
  fetchImpl: typeof fetch = fetch,
  now: () => number = () => performance.now()
): Promise<Execution> {
  const started = now();
  const body: Record<string, unknown> = {
    model: request.model,
    messages: chatMessagesOf(request.prompt),
    max_tokens: request.maxOutputTokens,
    stream: true,
    stream_options: { include_usage: true }
  };
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (request.seed !== undefined) body.seed = Number(request.seed);
  let response: Response;
  try {
    response = await fetchImpl(new URL('/v1/chat/completions', request.baseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify(body),
      signal: request.signal
    });
  } catch (error) {
    if (request.signal?.aborted === true) throw new ExecutionError('Aborted', 'the task was aborted', false, { cause: error });
    throw new ExecutionError('Unreachable', `inference server unreachable: ${String(error)}`, true, { cause: error });
  }
  if (!response.ok || response.body === null) {
    const text = await response.text().catch(() => '');
    const parsed = ErrorBody.safeParse(safeJson(text));
    const message = parsed.success ? parsed.data.error.message : text.slice(0, 200);
    // 5xx (a loading or crashing server) may pass on retry; 4xx (context exceeded, bad request) will not.
    throw new ExecutionError('ServerError', `inference server answered ${response.status}: ${message}`, response.status >= 500);
  }
  let output = '';
  let firstTokenMs: number | undefined;
  let usage: { prompt_tokens: number; completion_tokens: number } | undefined;
  let finishReason: string | undefined;
  let done = false;
  let failure: ExecutionError | undefined;
  const parser = createParser({
    onEvent(event: EventSourceMessage) {
      if (done || failure !== undefined) return;
      if (event.data === '[DONE]') {
        done = true;
        return;
      }
      const json = safeJson(event.data);
      const error = ErrorBody.safeParse(json);
      if (error.success) {
        failure = new ExecutionError('ServerError', `inference failed mid-stream: ${error.data.error.message}`, true);
        return;
      }
      const chunk = Chunk.safeParse(json);
      if (!chunk.success) {
        failure = new ExecutionError('BadResponse', `malformed stream chunk: ${chunk.error.issues[0]?.message ?? 'invalid'}`, true);
        return;
      }
      for (const choice of chunk.data.choices) {
        const content = choice.delta.content;
        if (content !== undefined && content !== null && content.length > 0) {
          if (firstTokenMs === undefined) {
            firstTokenMs = now() - started;
            request.onFirstToken?.();
          }
          output += content;
          request.onDelta?.(content);
        }
        if (choice.finish_reason !== undefined && choice.finish_reason !== null) finishReason = choice.finish_reason;
      }
      if (chunk.data.usage !== undefined && chunk.data.usage !== null) usage = chunk.data.usage;
    }
  });
  const decoder = new TextDecoder();
  // A reader rather than `for await`: Safari's ReadableStream is not async-iterable.
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done: ended, value } = await reader.read();
      if (ended) break;
      parser.feed(decoder.decode(value, { stream: true }));
      if (failure !== undefined) {
        await reader.cancel().catch(() => undefined);
        break;
      }
    }
  } catch (error) {
    if (request.signal?.aborted === true) throw new ExecutionError('Aborted', 'the task was aborted', false, { cause: error });
    throw new ExecutionError('Unreachable', `the inference server closed the stream: ${String(error)}`, true, { cause: error });
  }
  if (failure !== undefined) throw failure;
  if (!done) throw new ExecutionError('BadResponse', 'the stream ended without [DONE]', true);
  const totalMs = now() - started;
  return {
    output,
    outputDigest: outputDigest(output),
    inputTokens: BigInt(usage?.prompt_tokens ?? 0),
    outputTokens: BigInt(usage?.completion_tokens ?? 0),
    firstTokenMs: firstTokenMs ?? totalMs,
    totalMs,
    finishReason
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
