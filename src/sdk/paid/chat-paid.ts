import type { ChatMessage } from '../../core/tasks/chat-input.js';
import type { RunnerCandidate } from '../types.js';
import type { PayerClient } from './payer.js';

/** The chat options one paid direct attempt reads. */
export interface PaidChatOptions {
  model: string;
  maxOutputTokens?: number;
  temperature?: number;
  seed?: bigint;
  onToken?: (text: string) => void;
}

interface Answer {
  content: string;
  inputTokens?: bigint;
  outputTokens?: bigint;
}

const textOf = (value: unknown): string => (typeof value === 'string' ? value : '');

/**
 * One chat completion from one runner's metered endpoint, paid by `payer` (signed, charged, receipted), streamed
 * when `onToken` is set. Throws on any failure, so the caller fails over to the next runner.
 */
export async function paidChatOnce(
  payer: PayerClient,
  candidate: RunnerCandidate & { endpoint: string },
  options: PaidChatOptions,
  messages: ChatMessage[],
  timeoutMs: number,
  onDelta: (text: string) => void
): Promise<Answer> {
  const stream = options.onToken !== undefined;
  const body: Record<string, unknown> = {
    model: options.model,
    messages,
    max_tokens: options.maxOutputTokens ?? 512,
    stream,
    ...(stream ? { stream_options: { include_usage: true } } : {}),
    ...(options.temperature === undefined ? {} : { temperature: options.temperature }),
    ...(options.seed === undefined ? {} : { seed: Number(options.seed) })
  };
  const signal = AbortSignal.timeout(timeoutMs);
  let content = '';
  let usage: { prompt_tokens?: unknown; completion_tokens?: unknown } | undefined;
  const target = {
    runner: candidate.runner,
    endpoint: candidate.endpoint,
    prices: { inputPerMillion: candidate.inputPricePerMillion, outputPerMillion: candidate.outputPricePerMillion }
  };
  let result;
  try {
    result = await payer.send(target, {
      path: '/v1/chat/completions',
      body,
      signal,
      onChunk: (chunk) => {
        if (typeof chunk.usage === 'object' && chunk.usage !== null) usage = chunk.usage as typeof usage;
        const choices = Array.isArray(chunk.choices) ? (chunk.choices as Array<{ delta?: { content?: unknown } }>) : [];
        const piece = choices.map((c) => textOf(c.delta?.content)).join('');
        if (piece.length > 0) {
          content += piece;
          onDelta(piece);
        }
      }
    });
  } catch (error) {
    if (signal.aborted) throw new Error(`no answer within ${timeoutMs} ms`, { cause: error });
    throw new Error(`unreachable (${error instanceof Error ? error.message : String(error)})`, { cause: error });
  }
  if (!result.ok) throw new Error(`HTTP ${result.status}: ${result.error.message.slice(0, 200)}`);
  if (!stream) {
    const choices = result.body?.choices;
    const first = Array.isArray(choices) ? (choices[0] as { message?: { content?: unknown } } | undefined) : undefined;
    if (first?.message === undefined) throw new Error('not a chat completion: no choices');
    content = textOf(first.message.content);
    usage = result.body?.usage as typeof usage;
  }
  const tokens = (v: unknown): bigint | undefined => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? BigInt(v) : undefined);
  const inputTokens = tokens(usage?.prompt_tokens);
  const outputTokens = tokens(usage?.completion_tokens);
  return { content, ...(inputTokens === undefined ? {} : { inputTokens }), ...(outputTokens === undefined ? {} : { outputTokens }) };
}
