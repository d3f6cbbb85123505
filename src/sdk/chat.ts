import { encodeChatInput, type ChatMessage } from '../core/tasks/chat-input.js';
import { DeaiError } from './errors.js';
import { paidChatOnce } from './paid/chat-paid.js';
import type { PayerClient } from './paid/payer.js';
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
   * it. `direct`: the best-ranked runners' metered endpoints, called in rank order until one answers, each request
   * signed and paid from the caller's credit line toward that runner (metered, receipts, settled in batches; needs
   * `paid` in `DeaiClient.connect`).
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
export const DEFAULT_MAX_OUTPUT_TOKENS = 512;

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
  /** Pays the runners (undefined: the client was connected without `paid`, so direct chat is refused). */
  payer: PayerClient | undefined;
  nowMs(): number;
}

/** Calls the ranked runners' endpoints in order; the first valid answer wins. */
export async function chatDirect(deps: DirectDeps, options: ChatOptions): Promise<ChatResult> {
  const messages = chatMessages(options);
  const payer = deps.payer;
  if (payer === undefined)
    throw new DeaiError(
      'NotConfigured',
      'direct chat is paid: connect with a signing identity (not `paid: false`), or use via: task',
      { what: 'paid' },
      { retryable: false }
    );
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const candidates = (await deps.findRunners({ ...options.request, model: options.model, endpointRequired: true, limit: maxAttempts }))
    .filter((c): c is RunnerCandidate & { endpoint: string } => c.endpoint !== undefined)
    // Runners caught over-reporting usage go last: tried only when no honest one answers.
    .sort((a, b) => Number(payer.isOverReporting(a.runner)) - Number(payer.isOverReporting(b.runner)));
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
      const answer = await paidChatOnce(payer, candidate, options, messages, timeoutMs, (text) => {
        streamed = true;
        onToken?.(text);
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

/** The chat document or prompt a task carries for `messages`. */
export const taskInputOf = (options: ChatOptions): string => encodeChatInput(chatMessages(options));
