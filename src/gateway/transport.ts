import { CodedError } from '../core/errors/coded-error.js';

/**
 * How the gateway reaches a runner. The gateway picks runners, checks keys and shapes OpenAI answers; a transport
 * only sends one OpenAI request to one runner and reports what it cost. `directTransport` (direct-transport.ts) posts
 * to the runner's advertised endpoint unauthenticated and prices the usage at the runner's posted prices; the paid
 * transport signs each request toward the runner and returns the runner's charge (README "Gateway").
 */

/** The runner a request goes to, as discovery ranked it. */
export interface UpstreamTarget {
  /** The runner's principal. */
  runner: string;
  /** Its advertised OpenAI-compatible base URL (`http://host:port`, no `/v1`). */
  endpoint: string;
  /** The published card id (what the body's `model` names). */
  model: string;
  inputPricePerMillion: bigint;
  outputPricePerMillion: bigint;
}

export type UpstreamPath = '/v1/chat/completions' | '/v1/completions';

export interface UpstreamRequest {
  path: UpstreamPath;
  /**
   * The OpenAI body to send as is: `model` is the card id, the gateway's own fields are removed, and it always asks for
   * a stream with `stream_options: { include_usage: true }` (the usage is what is paid for). Runners always stream, even
   * when the gateway's client wants a plain answer (answer.ts puts it together): a runner that never starts is then
   * told from a slow one at its first token.
   */
  body: Record<string, unknown>;
}

/** Tokens the runner metered (OpenAI's names) and what the request cost, e8s. */
export interface UpstreamSettlement {
  promptTokens: number;
  completionTokens: number;
  chargeE8s: bigint;
  /**
   * What the transport may yet pay the runner for this request beyond `chargeE8s`: a paid answer that broke is noted by
   * the payer, who takes up a charge the runner then lists for it, up to this.
   */
  unbilledE8s?: bigint;
}

export interface UpstreamResponse {
  /**
   * The engine's SSE `data:` payloads, parsed, in order, without the final `[DONE]` (with their text where they are
   * unchanged: sseDataOf). It ends at the runner's `[DONE]`, possibly before `settlement` resolves.
   */
  chunks: AsyncIterable<Record<string, unknown>>;
  /**
   * Resolves once `chunks` has ended, normally, by an error or because the gateway stopped reading (a client that went
   * away): what was metered and charged up to there. Never rejects.
   */
  settlement: Promise<UpstreamSettlement>;
}

/** The SSE `data` each streamed chunk was parsed from, where a transport passes the chunk on unchanged. */
const sseData = new WeakMap<object, string>();

/** Marks `chunk` as parsed from `data` and passed on unchanged, so the gateway may forward `data` itself. */
export function withSseData<T extends object>(chunk: T, data: string): T {
  sseData.set(chunk, data);
  return chunk;
}

/** The SSE `data` `chunk` was parsed from, when its transport passed it on unchanged (withSseData). */
export const sseDataOf = (chunk: object): string | undefined => sseData.get(chunk);

/** The length of the SSE `data` a changed chunk was parsed from (withSseWeight). */
const sseWeight = new WeakMap<object, number>();

/** Marks `chunk` as parsed from `chars` characters of SSE data it no longer matches (a field taken out). */
export function withSseWeight<T extends object>(chunk: T, chars: number): T {
  sseWeight.set(chunk, chars);
  return chunk;
}

/** How many characters of SSE data `chunk` was parsed from, where its transport says (withSseData, withSseWeight). */
export const sseWeightOf = (chunk: object): number | undefined => sseData.get(chunk)?.length ?? sseWeight.get(chunk);

/**
 * `send` resolves once the runner has accepted the request (the HTTP status is in) and rejects with an
 * UpstreamError otherwise; `signal` aborts the request (the client went away, or the gateway's time ran out).
 */
export interface UpstreamTransport {
  send(target: UpstreamTarget, request: UpstreamRequest, signal: AbortSignal): Promise<UpstreamResponse>;
}

/**
 * `Unreachable`, `ServerError` (5xx), `BadResponse` (not OpenAI), `Refused` (the runner would not serve this payer: 401,
 * 402, 403, 429) are retryable on another runner; `Rejected` (another 4xx: the request itself, e.g. too long for
 * the context, or a runner refusing everything) is tried once more on another runner, then passed on to the client.
 */
export type UpstreamErrorCode = 'Unreachable' | 'ServerError' | 'BadResponse' | 'Refused' | 'Rejected';

/**
 * `status`: the runner's HTTP status. `billable`: the runner accepted the request and may yet be paid for it although it
 * broke before its first chunk (the paid transport's payer takes up a charge the runner lists for such a request, up to
 * its worst case), so the key pays that worst case.
 */
export interface UpstreamErrorDetails {
  status?: number;
  billable?: boolean;
}

export class UpstreamError extends CodedError<UpstreamErrorCode, UpstreamErrorDetails> {
  constructor(code: UpstreamErrorCode, message: string, options?: { cause?: unknown } & UpstreamErrorDetails) {
    super(code, message, {
      ...(options?.cause === undefined ? {} : { cause: options.cause }),
      retryable: code !== 'Rejected',
      details: {
        ...(options?.status === undefined ? {} : { status: options.status }),
        ...(options?.billable === undefined ? {} : { billable: options.billable })
      }
    });
    this.name = 'UpstreamError';
  }
}

/** The classification of an engine's HTTP status that is not 2xx. */
export function upstreamErrorCodeOf(status: number): UpstreamErrorCode {
  if (status >= 500) return 'ServerError';
  if (status === 401 || status === 402 || status === 403 || status === 408 || status === 429) return 'Refused';
  return 'Rejected';
}
