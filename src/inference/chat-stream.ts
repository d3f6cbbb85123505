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
  /**
   * Output beyond this many UTF-8 bytes is not read: the request is aborted and the output ends at the last whole
   * character that fits. Unbounded when absent.
   */
  maxOutputBytes?: number;
  /**
   * Characters the SSE parser may hold while waiting for a line or an event to end (default {@link MAX_SSE_BUFFER_CHARS});
   * beyond it the request is aborted as a protocol error, so one endless line cannot grow memory.
   */
  maxSseBufferChars?: number;
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
  /**
   * Why the output was cut short by this reader: the engine streamed more content chunks than `maxOutputTokens`
   * (it ignored `max_tokens`), or more than `maxOutputBytes`. The engine request was aborted at that point.
   */
  truncated?: 'tokens' | 'bytes';
}

/** `ProtocolError`: the stream broke the SSE framing bounds (a line or event beyond `maxSseBufferChars`). */
export type ExecutionErrorCode = 'ServerError' | 'BadResponse' | 'Unreachable' | 'Aborted' | 'ProtocolError';

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

/** Far above any real chunk (a few hundred characters, more with logprobs), far below a memory problem. */
export const MAX_SSE_BUFFER_CHARS = 1024 * 1024;

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
  // Our own controller, so that reaching a cap can end the engine's work, not only our reading of it.
  const controller = new AbortController();
  const external = request.signal;
  const abortFromCaller = (): void => controller.abort(external?.reason);
  if (external?.aborted === true) abortFromCaller();
  else external?.addEventListener('abort', abortFromCaller, { once: true });
  const aborted = (error: unknown): ExecutionError =>
    new ExecutionError('Aborted', `the task was aborted${reasonOf(external?.reason)}`, false, { cause: error });
  try {
    let response: Response;
    try {
      response = await fetchImpl(new URL('/v1/chat/completions', request.baseUrl), {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify(body),
        signal: controller.signal
      });
    } catch (error) {
      if (external?.aborted === true) throw aborted(error);
      throw new ExecutionError('Unreachable', `inference server unreachable: ${String(error)}`, true, { cause: error });
    }
    if (!response.ok || response.body === null) {
      const text = await readBounded(response, ERROR_BODY_MAX_BYTES);
      const parsed = ErrorBody.safeParse(safeJson(text));
      const message = parsed.success ? parsed.data.error.message : text.slice(0, 200);
      // 5xx (a loading or crashing server) may pass on retry; 4xx (context exceeded, bad request) will not.
      throw new ExecutionError('ServerError', `inference server answered ${response.status}: ${message}`, response.status >= 500);
    }
    const output = new BoundedOutput(request.maxOutputBytes ?? Infinity);
    let contentChunks = 0;
    let firstTokenMs: number | undefined;
    let usage: { prompt_tokens: number; completion_tokens: number } | undefined;
    let finishReason: string | undefined;
    let truncated: 'tokens' | 'bytes' | undefined;
    let done = false;
    let failure: ExecutionError | undefined;
    const maxBufferSize = request.maxSseBufferChars ?? MAX_SSE_BUFFER_CHARS;
    const parser = createParser({
      maxBufferSize,
      onError(error) {
        if (error.type === 'max-buffer-size-exceeded')
          failure ??= new ExecutionError('ProtocolError', `an SSE line or event longer than ${maxBufferSize} characters`, false, {
            cause: error
          });
      },
      onEvent(event: EventSourceMessage) {
        if (done || failure !== undefined || truncated !== undefined) return;
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
          if (content !== undefined && content !== null && content.length > 0 && truncated === undefined) {
            // Each content chunk carries at least one token, so more chunks than `max_tokens` is an engine that ignores it.
            if (++contentChunks > request.maxOutputTokens) {
              truncated = 'tokens';
              break;
            }
            if (firstTokenMs === undefined) {
              firstTokenMs = now() - started;
              request.onFirstToken?.();
            }
            const kept = output.append(content);
            if (kept.length > 0) request.onDelta?.(kept);
            if (output.full) truncated = 'bytes';
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
        if (failure !== undefined || truncated !== undefined) {
          controller.abort();
          await reader.cancel().catch(() => undefined);
          break;
        }
      }
    } catch (error) {
      if (external?.aborted === true) throw aborted(error);
      throw new ExecutionError('Unreachable', `the inference server closed the stream: ${String(error)}`, true, { cause: error });
    }
    if (failure !== undefined) throw failure;
    if (!done && truncated === undefined) throw new ExecutionError('BadResponse', 'the stream ended without [DONE]', true);
    const totalMs = now() - started;
    const reportedTokens = usage?.completion_tokens ?? Math.min(contentChunks, request.maxOutputTokens);
    const execution: Execution = {
      output: output.text,
      outputDigest: outputDigest(output.text),
      inputTokens: BigInt(usage?.prompt_tokens ?? 0),
      // The registry refuses more than the task's limit, and the requester asked for no more.
      outputTokens: BigInt(Math.min(reportedTokens, request.maxOutputTokens)),
      firstTokenMs: firstTokenMs ?? totalMs,
      totalMs,
      finishReason: truncated === undefined ? finishReason : 'length'
    };
    if (truncated !== undefined) execution.truncated = truncated;
    return execution;
  } finally {
    external?.removeEventListener('abort', abortFromCaller);
  }
}

/** An error body is read only this far: its message is all we show. */
const ERROR_BODY_MAX_BYTES = 64 * 1024;

/** The output so far, never more than `maxBytes` of UTF-8, cut at a character boundary. */
class BoundedOutput {
  private readonly parts: string[] = [];
  private bytes = 0;
  private joined: string | undefined;
  full = false;

  constructor(private readonly maxBytes: number) {}

  /** Appends what fits of `piece` and returns it. */
  append(piece: string): string {
    if (this.full) return '';
    const room = this.maxBytes - this.bytes;
    const size = utf8Length(piece);
    let kept = piece;
    if (size > room) {
      // encodeInto writes whole characters only, so `read` ends at a code-point boundary.
      kept = piece.slice(0, new TextEncoder().encodeInto(piece, new Uint8Array(room)).read);
      // A lone surrogate counts as 4 bytes here (as in the registry) but is encoded as 3: drop it if it overflows.
      while (utf8Length(kept) > room) kept = kept.slice(0, -1);
      this.full = true;
    }
    this.bytes += size > room ? utf8Length(kept) : size;
    if (this.bytes >= this.maxBytes) this.full = true;
    this.parts.push(kept);
    this.joined = undefined;
    return kept;
  }

  get text(): string {
    this.joined ??= this.parts.join('');
    return this.joined;
  }
}

function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c <= 0xdbff ? (i++, 4) : 3;
  }
  return n;
}

/** At most `maxBytes` of a response body, as text; the rest is not read. */
async function readBounded(response: Response, maxBytes: number): Promise<string> {
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let bytes = 0;
  try {
    while (bytes < maxBytes) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value.subarray(0, maxBytes - bytes), { stream: true });
      bytes += value.byteLength;
    }
  } catch {
    // what arrived is enough to describe the error
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return text;
}

const reasonOf = (reason: unknown): string =>
  reason instanceof Error && reason.name !== 'AbortError' ? `: ${reason.message}` : typeof reason === 'string' ? `: ${reason}` : '';

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
