import { z } from 'zod';

import { encodeChatInput, type ChatMessage } from '../core/tasks/chat-input.js';
import { execute } from '../inference/chat-stream.js';
import { DeaiError } from './errors.js';
import type { RunnerCandidate, RunnerRequest } from './types.js';

export type { ChatMessage };

export interface ChatOptions {
  /** Model id (a published card). */
  model: string;
  /** The conversation; give `prompt` instead for a single user message. */
  messages?: ChatMessage[];
  prompt?: string;
  /**
   * `task` (default): an on-chain task, escrowed and paid through the ledger, executed by whichever runner claims
   * it. `direct`: the best-ranked runners' OpenAI-compatible endpoints, called in rank order until one answers
   * (off-chain: nothing is escrowed or paid, the runner's own terms apply).
   */
  via?: 'task' | 'direct';
  maxOutputTokens?: number;
  temperature?: number;
  seed?: bigint;
  /** More routing constraints (region, price ceilings, …) on top of the model. */
  request?: Omit<RunnerRequest, 'model' | 'endpointRequired' | 'limit'>;
  /** `task`: the reward escrowed for the task (required). */
  rewardE8s?: bigint;
  /** `task`: accept the result at once (pays the runner now) instead of leaving the review window open. */
  accept?: boolean;
  /** Whole call (default 5 minutes). */
  timeoutMs?: number;
  /** `direct`: one runner's time to answer before the next is tried (default 60 s). */
  attemptTimeoutMs?: number;
  /** `direct`: how many ranked runners to try at most (default 5). */
  maxAttempts?: number;
  /** Progress: the task's states (`task`), or each runner tried (`direct`). */
  onProgress?: (event: ChatProgress) => void;
  /**
   * `direct`: stream the answer, calling this with each piece of text as it arrives. If a runner fails after it
   * began streaming, the next one starts the answer again: a `failover` event with `streamed: true` says so.
   */
  onToken?: (text: string) => void;
}

export type ChatProgress =
  | { kind: 'task'; taskId: string; state: string }
  | { kind: 'attempt'; runner: string; endpoint: string; rank: number }
  | { kind: 'failover'; runner: string; error: string; streamed: boolean };

/** One runner tried in `direct` mode that did not answer, and why. */
export interface ChatAttempt {
  runner: string;
  endpoint: string;
  error: string;
}

export interface ChatResult {
  content: string;
  via: 'task' | 'direct';
  /** The runner that answered. */
  runner: string;
  model: string;
  inputTokens?: bigint;
  outputTokens?: bigint;
  /** `task`: the on-chain task. */
  taskId?: string;
  /** `task`: the task's state when chat returned (`review`, or `accepted` with `accept: true`). */
  state?: string;
  /** `direct`: the endpoint that answered. */
  endpoint?: string;
  /** `direct`: runners tried before the one that answered. */
  failedAttempts: ChatAttempt[];
}

const DEFAULT_TIMEOUT_MS = 300_000;
const DEFAULT_ATTEMPT_TIMEOUT_MS = 60_000;
const DEFAULT_MAX_ATTEMPTS = 5;
const DEFAULT_MAX_OUTPUT_TOKENS = 512;

/** The part of an OpenAI-compatible chat completion this SDK reads (llama.cpp and vLLM both answer it). */
const CompletionSchema = z.object({
  choices: z.array(z.object({ message: z.object({ content: z.string().nullable() }) })).min(1),
  usage: z.object({ prompt_tokens: z.number().int().nonnegative(), completion_tokens: z.number().int().nonnegative() }).nullish()
});

/** The messages of a chat call, checked: exactly one of `messages` and `prompt`, at least one message. */
export function chatMessages(options: ChatOptions): ChatMessage[] {
  if ((options.messages === undefined) === (options.prompt === undefined)) {
    throw new DeaiError(
      'InvalidArgument',
      'chat needs exactly one of `messages` and `prompt`',
      { field: 'messages', reason: 'give exactly one of messages and prompt' },
      { retryable: false }
    );
  }
  const messages = options.messages ?? [{ role: 'user', content: options.prompt ?? '' }];
  if (messages.length === 0)
    throw new DeaiError(
      'InvalidArgument',
      'chat needs at least one message',
      { field: 'messages', reason: 'must not be empty' },
      { retryable: false }
    );
  return messages;
}

/** What `direct` mode needs from the client. */
export interface DirectDeps {
  findRunners(request: RunnerRequest): Promise<RunnerCandidate[]>;
  fetch: typeof fetch;
  nowMs(): number;
}

/** Calls the ranked runners' endpoints in order; the first valid answer wins. */
export async function chatDirect(deps: DirectDeps, options: ChatOptions): Promise<ChatResult> {
  const messages = chatMessages(options);
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const candidates = (
    await deps.findRunners({ ...options.request, model: options.model, endpointRequired: true, limit: maxAttempts })
  ).filter((c): c is RunnerCandidate & { endpoint: string } => c.endpoint !== undefined);
  if (candidates.length === 0) {
    throw new DeaiError('NoRunners', `No live runner with a public endpoint serves ${options.model} (try via: 'task')`, {
      model: options.model
    });
  }
  const endsAtMs = deps.nowMs() + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const failed: ChatAttempt[] = [];
  for (const [rank, candidate] of candidates.entries()) {
    const leftMs = endsAtMs - deps.nowMs();
    if (leftMs <= 0) break;
    options.onProgress?.({ kind: 'attempt', runner: candidate.runner, endpoint: candidate.endpoint, rank });
    let streamed = false;
    try {
      const timeoutMs = Math.min(leftMs, options.attemptTimeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS);
      const onToken = options.onToken;
      const answer =
        onToken === undefined
          ? await completeOnce(deps.fetch, candidate.endpoint, options, messages, timeoutMs)
          : await streamOnce(deps.fetch, candidate.endpoint, options, messages, timeoutMs, (text) => {
              streamed = true;
              onToken(text);
            });
      return {
        ...answer,
        via: 'direct',
        runner: candidate.runner,
        model: options.model,
        endpoint: candidate.endpoint,
        failedAttempts: failed
      };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      failed.push({ runner: candidate.runner, endpoint: candidate.endpoint, error: message });
      options.onProgress?.({ kind: 'failover', runner: candidate.runner, error: message, streamed });
    }
  }
  throw new DeaiError(
    'AllRunnersFailed',
    `No runner answered for ${options.model}: ${failed.map((a) => `${a.runner} (${a.endpoint}): ${a.error}`).join('; ') || 'time ran out'}`,
    { attempts: failed },
    { retryable: true }
  );
}

async function completeOnce(
  fetchImpl: typeof fetch,
  endpoint: string,
  options: ChatOptions,
  messages: ChatMessage[],
  timeoutMs: number
): Promise<{ content: string; inputTokens?: bigint; outputTokens?: bigint }> {
  const body: Record<string, unknown> = {
    model: options.model,
    messages,
    max_tokens: options.maxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS,
    stream: false
  };
  if (options.temperature !== undefined) body.temperature = options.temperature;
  if (options.seed !== undefined) body.seed = Number(options.seed);
  let response: Response;
  try {
    response = await fetchImpl(new URL('/v1/chat/completions', endpoint), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs)
    });
  } catch (error) {
    const cause =
      error instanceof Error && error.name === 'TimeoutError'
        ? `no answer within ${timeoutMs} ms`
        : `unreachable (${error instanceof Error ? error.message : String(error)})`;
    throw new Error(cause, { cause: error });
  }
  const text = await response.text().catch(() => '');
  if (!response.ok) throw new Error(`HTTP ${response.status}: ${text.slice(0, 200)}`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`not JSON: ${text.slice(0, 80)}`);
  }
  const parsed = CompletionSchema.safeParse(json);
  if (!parsed.success) throw new Error(`not a chat completion: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  const usage = parsed.data.usage ?? undefined;
  return {
    content: parsed.data.choices[0]?.message.content ?? '',
    ...(usage === undefined ? {} : { inputTokens: BigInt(usage.prompt_tokens), outputTokens: BigInt(usage.completion_tokens) })
  };
}

/** The streamed form: the runner's own OpenAI-compatible stream reader (SSE, usage in the last chunk). */
async function streamOnce(
  fetchImpl: typeof fetch,
  endpoint: string,
  options: ChatOptions,
  messages: ChatMessage[],
  timeoutMs: number,
  onDelta: (text: string) => void
): Promise<{ content: string; inputTokens?: bigint; outputTokens?: bigint }> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const run = await execute(
      {
        baseUrl: endpoint,
        model: options.model,
        prompt: encodeChatInput(messages),
        maxOutputTokens: options.maxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS,
        ...(options.temperature === undefined ? {} : { temperature: options.temperature }),
        ...(options.seed === undefined ? {} : { seed: options.seed }),
        signal,
        onDelta
      },
      fetchImpl
    );
    return { content: run.output, inputTokens: run.inputTokens, outputTokens: run.outputTokens };
  } catch (error) {
    if (signal.aborted) throw new Error(`no answer within ${timeoutMs} ms`, { cause: error });
    throw error;
  }
}

/** The chat document or prompt a task carries for `messages`. */
export const taskInputOf = (options: ChatOptions): string => encodeChatInput(chatMessages(options));
