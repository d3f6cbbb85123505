import { CONTEXT_LENGTH_MAX } from '../manifest/limits.js';
import { err, ok, type Result } from '../registry/errors.js';
import { meteredCostE8s, type Prices } from '../rewards/pricing.js';
import type { Lease, Task } from './types.js';
import { MAX_OUTPUT_BYTES } from './limits.js';
import { byteLength } from './validate.js';

/**
 * Usage honesty: what a runner may report is bounded by what is possible. Byte-level BPE tokenizers (llama.cpp,
 * vLLM's HF tokenizers) never produce more tokens than input bytes, so a prompt of n bytes is at most n tokens plus
 * what the chat template adds (role headers, a default system prompt: a few dozen tokens in the common templates;
 * the bound leaves room for long ones). A chat document's JSON framing already counts more bytes than the template
 * adds per message.
 */
export const CHAT_TEMPLATE_OVERHEAD_TOKENS = 512;

/**
 * The most input tokens a task's input can be: inline, its bytes plus the template overhead (fixed at submit); by
 * reference, unknown (the served context bounds it).
 */
export function inputTokenBound(task: Pick<Task, 'input' | 'inputTokenBound'>): number | undefined {
  if (task.inputTokenBound !== undefined) return task.inputTokenBound;
  return task.input.inline === undefined ? undefined : byteLength(task.input.inline) + CHAT_TEMPLATE_OVERHEAD_TOKENS;
}

/** The most input tokens a deployment serving `servedContext` can have read for an input bounded by `bound`. */
export function maxInputTokens(bound: number | undefined, servedContext: number | undefined): number {
  const context = servedContext ?? CONTEXT_LENGTH_MAX;
  return bound === undefined || bound > context ? context : bound;
}

/** A runner's price for the most a task can meter on a deployment: its input bound and its output limit. */
export function maxCostE8s(prices: Prices, inputBound: number | undefined, servedContext: number, maxOutputTokens: number): bigint {
  return meteredCostE8s(prices, BigInt(maxInputTokens(inputBound, servedContext)), BigInt(maxOutputTokens));
}

/**
 * Output tokens a generation may make beyond its text: every token of generated text decodes to at least one byte
 * (byte-level BPE and byte-fallback vocabularies have no empty token), so only special tokens the engine strips from
 * the content (end of turn or sequence, thinking or tool-call delimiters) come on top: a handful; 32 leaves room.
 */
export const OUTPUT_SPECIAL_TOKENS = 32;

/**
 * The most output tokens a result can have metered: the task's limit and, when the output is inline, its UTF-8 bytes
 * plus OUTPUT_SPECIAL_TOKENS (so 1 byte of output cannot be billed as `max_output_tokens`).
 */
export function outputTokenBound(maxOutputTokens: number, output: string | undefined): bigint {
  const limit = BigInt(maxOutputTokens);
  if (output === undefined) return limit;
  const bound = BigInt(byteLength(output) + OUTPUT_SPECIAL_TOKENS);
  return bound < limit ? bound : limit;
}

/**
 * The most UTF-8 bytes one generated token decodes to in the vocabularies served (the longest tokens are runs of
 * whitespace or repeated punctuation, well under it): an output of n tokens is at most n × this many bytes.
 */
export const MAX_BYTES_PER_TOKEN = 64;

/**
 * The fewest output tokens a result given by reference (no inline output) may report: an output of fewer tokens is at
 * most MAX_OUTPUT_BYTES, so it fits inline, where its bytes bound what it bills (outputTokenBound). Without it, a
 * 1-byte answer behind a reference could bill `max_output_tokens` (review finding F4). An honest output too large to
 * be inline has at least this many tokens, so it stays payable.
 */
export const MIN_REFERENCE_OUTPUT_TOKENS = MAX_OUTPUT_BYTES / MAX_BYTES_PER_TOKEN;

/** Reported token counts within what the task, the leased deployment and the output make possible, else `ImplausibleUsage`. */
export function checkUsage(task: Task, lease: Lease, inputTokens: bigint, outputTokens: bigint, output?: string): Result<null> {
  // A UTF-16 unit is at least one UTF-8 byte: counts within the output's length plus the slack need no encoding.
  const withinLength = output === undefined || outputTokens <= BigInt(output.length + OUTPUT_SPECIAL_TOKENS);
  if (outputTokens < 0n || outputTokens > BigInt(task.limits.maxOutputTokens) || !withinLength) {
    const outputLimit = outputTokenBound(task.limits.maxOutputTokens, output);
    if (outputTokens < 0n || outputTokens > outputLimit) return err({ ImplausibleUsage: { field: 'output_tokens', limit: outputLimit } });
  }
  const inputLimit = BigInt(maxInputTokens(inputTokenBound(task), lease.servedContext));
  if (inputTokens < 0n || inputTokens > inputLimit) return err({ ImplausibleUsage: { field: 'input_tokens', limit: inputLimit } });
  return ok(null);
}

/** Lease to completion on the registry's own clock, in whole milliseconds: the latency money and ranking use. */
export const measuredMs = (lease: Lease, now: bigint): number => Number((now - lease.claimedAtNs) / 1_000_000n);
