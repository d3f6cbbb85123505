import { AnswerAssembler } from './answer.js';
import type { ServerResponse } from 'node:http';

import type { Catalog } from './catalog.js';
import { GatewayError } from './errors.js';
import type { ApiKeyView, KeyStore } from './keys.js';
import type { Measurements } from './measurements.js';
import type { ChatCompletionRequest, CompletionRequest } from './schemas.js';
import { UpstreamError, type UpstreamPath, type UpstreamSettlement, type UpstreamTarget, type UpstreamTransport } from './transport.js';

/**
 * One runner's attempt at a completion, the parts completions.ts shares between streamed and plain answers: where the
 * first token's wait ends, what a broken answer costs the key, what is measured and logged, and the plain answer put
 * together from the stream.
 */

export interface CompletionDeps {
  catalog: Catalog;
  transport: UpstreamTransport;
  keys: KeyStore;
  measurements: Measurements;
  /** One runner's time to its first token before the next is tried (plain answers are streamed from runners too). */
  attemptTimeoutMs: number;
  /**
   * One runner's time to its whole answer when the client wants it plain: past it the request fails without trying
   * another runner (that one has begun serving it).
   */
  answerTimeoutMs: number;
  log(event: string, fields: Record<string, unknown>): void;
}

export interface CompletionCall {
  path: UpstreamPath;
  request: ChatCompletionRequest | CompletionRequest;
  key: ApiKeyView;
  affinityKey?: string;
  response: ServerResponse;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
}

/** Choice-less chunks a runner may send before its first choice. */
const MAX_LEADING_CHUNKS = 16;

const hasChoice = (chunk: Record<string, unknown>): boolean => Array.isArray(chunk.choices) && chunk.choices.length > 0;

export const usageOf = (s: UpstreamSettlement): Record<string, unknown> => ({
  prompt_tokens: s.promptTokens,
  completion_tokens: s.completionTokens,
  total_tokens: s.promptTokens + s.completionTokens,
  cost_e8s: s.chargeE8s.toString()
});

/**
 * The chunks up to and including the first that carries a choice: the first token's wait ends there. A stream that ends,
 * or sends more than MAX_LEADING_CHUNKS chunks, without one is an UpstreamError BadResponse before the first token (a
 * failover): an answer of no choice is a runner serving nothing, however fast.
 */
export async function untilFirstChoice(
  chunks: AsyncIterator<Record<string, unknown>>,
  runner: string
): Promise<Array<Record<string, unknown>>> {
  const opening: Array<Record<string, unknown>> = [];
  for (;;) {
    const next = await chunks.next();
    if (next.done === true) throw new UpstreamError('BadResponse', `runner ${runner} ended its answer without a choice`);
    opening.push(next.value);
    if (hasChoice(next.value)) return opening;
    if (opening.length >= MAX_LEADING_CHUNKS)
      throw new UpstreamError('BadResponse', `runner ${runner} sent ${MAX_LEADING_CHUNKS} chunks without a choice`);
  }
}

/**
 * What a stream that did not end normally costs the key: the transport's settlement when it metered the request (its
 * prompt counted), else the worst case it was admitted at (a paid stream that broke has no accepted charge, yet the
 * runner may have charged the gateway for it).
 */
export function brokenStreamChargeE8s(settlement: UpstreamSettlement, worstE8s: bigint): bigint {
  return settlement.promptTokens > 0 ? settlement.chargeE8s : worstE8s > settlement.chargeE8s ? worstE8s : settlement.chargeE8s;
}

export function record(
  deps: CompletionDeps,
  call: CompletionCall,
  target: UpstreamTarget,
  settlement: UpstreamSettlement,
  firstTokenMs: number,
  totalMs: number
): void {
  deps.measurements.record(target.runner, { firstTokenMs, totalMs, completionTokens: settlement.completionTokens });
  deps.log('served', {
    key: call.key.prefix,
    runner: target.runner,
    promptTokens: settlement.promptTokens,
    completionTokens: settlement.completionTokens,
    chargeE8s: settlement.chargeE8s.toString(),
    firstTokenMs: Math.round(firstTokenMs),
    totalMs: Math.round(totalMs)
  });
}

export interface PlainAttempt {
  target: UpstreamTarget;
  card: string;
  startedMs: number;
  /** The chunks up to the first with a choice (untilFirstChoice). */
  opening: Array<Record<string, unknown>>;
  chunks: AsyncIterator<Record<string, unknown>>;
  /** The transport's settlement of the stream. */
  settlement: Promise<UpstreamSettlement>;
  /** The worst case the key was held for at this runner. */
  worstE8s: bigint;
  /** Aborted by the whole-answer limit set here, when the client goes away, or here when the answer fails. */
  attempt: AbortController;
  billed(settlement: UpstreamSettlement): UpstreamSettlement;
}

/**
 * A plain answer from a runner that has streamed its first token: the rest of its chunks, within the whole-answer limit
 * counted from the attempt's start, put together (AnswerAssembler) and written as one JSON answer with the billed usage.
 * Past the first token the runner has begun serving, so a failure here is not tried elsewhere: it is returned, with the
 * charge of a broken stream, for the caller to throw. A failed answer stops the runner's request (the attempt is
 * aborted) before its settlement is awaited, so a runner that keeps its connection open holds nothing. A client that
 * went away gets nothing written.
 */
export async function answerPlain(
  deps: CompletionDeps,
  call: CompletionCall,
  a: PlainAttempt
): Promise<{ chargeE8s: bigint; failure?: GatewayError }> {
  const limitMs = deps.answerTimeoutMs;
  const timer = setTimeout(
    () => a.attempt.abort(new Error(`no whole answer within ${limitMs} ms`)),
    Math.max(0, limitMs - (performance.now() - a.startedMs))
  );
  const firstTokenMs = performance.now() - a.startedMs;
  const answer = new AnswerAssembler(call.path);
  let text: string;
  try {
    for (const chunk of a.opening) answer.add(chunk);
    for (let next = await a.chunks.next(); next.done !== true; next = await a.chunks.next()) answer.add(next.value);
    clearTimeout(timer);
    // Serialized before anything is written: an answer that cannot be (nested past the stack) fails this runner only.
    text = JSON.stringify({ ...answer.answer(), model: a.card, provider: a.target.runner });
  } catch (error) {
    clearTimeout(timer);
    const reason = a.attempt.signal.aborted && a.attempt.signal.reason instanceof Error ? a.attempt.signal.reason.message : String(error);
    // Stop the runner's request (a bound broken, the time out) before waiting for what the transport metered.
    if (!a.attempt.signal.aborted) a.attempt.abort(error);
    await a.chunks.return?.();
    const settlement = a.billed(await a.settlement);
    const chargeE8s = brokenStreamChargeE8s(settlement, a.worstE8s);
    if (call.signal.aborted) return { chargeE8s };
    deps.log('answer-failed', { runner: a.target.runner, error: reason });
    record(deps, call, a.target, { ...settlement, chargeE8s }, firstTokenMs, performance.now() - a.startedMs);
    return {
      chargeE8s,
      failure: new GatewayError('UpstreamFailed', `runner ${a.target.runner} failed mid-answer: ${reason}`, { cause: error })
    };
  }
  const settlement = a.billed(await a.settlement);
  if (!call.response.destroyed && !call.response.headersSent)
    call.response
      .writeHead(200, {
        'content-type': 'application/json',
        'x-deai-runner': a.target.runner,
        'x-deai-cost-e8s': settlement.chargeE8s.toString()
      })
      // The answer's text with the billed usage last (a JSON object's own key, not the runner's).
      .end(`${text.slice(0, -1)},"usage":${JSON.stringify(usageOf(settlement))}}`);
  record(deps, call, a.target, settlement, firstTokenMs, performance.now() - a.startedMs);
  return { chargeE8s: settlement.chargeE8s };
}
