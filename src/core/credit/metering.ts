import { meteredCostE8s, type Prices } from '../rewards/pricing.js';
import { CHAT_TEMPLATE_OVERHEAD_TOKENS } from '../tasks/usage.js';

/**
 * Metering on the paid direct path (README "Metered runner endpoint"), the same rules on both sides: the runner
 * prices the engine's usage with its posted prices and bounds what a request may cost before serving it; the payer
 * checks each charge against its OWN count, which it can make without a tokenizer: a byte-level BPE tokenizer never
 * makes more tokens than bytes, so input ≤ prompt bytes + the chat template overhead (src/core/tasks/usage.ts) and
 * output ≤ completion bytes + a small slack (tokens that decode to nothing: end of generation, partial characters).
 */

/** Output tokens the payer accepts beyond the completion's UTF-8 bytes. */
export const OUTPUT_SLACK_TOKENS = 16;
/** The runner serves a request without `max_tokens` as if it asked this many (and tells the engine so). */
export const DEFAULT_MAX_TOKENS = 1024;

const encoder = new TextEncoder();
export const utf8Length = (text: string): number => (text.length === 0 ? 0 : encoder.encode(text).length);

/** What both sides read from a request body to bound its cost. */
export interface RequestBound {
  /** UTF-8 bytes of the prompt: the chat messages as JSON, or the completion prompt, plus tools and response format. */
  promptBytes: number;
  maxTokens: number;
}

/**
 * The bound of an OpenAI request body (`/v1/chat/completions` or `/v1/completions`), or a reason it has none.
 * `max_completion_tokens` wins over `max_tokens`; neither means DEFAULT_MAX_TOKENS.
 */
export function requestBoundOf(path: string, body: Record<string, unknown>): RequestBound | string {
  let prompt: string;
  if (path === '/v1/chat/completions') {
    if (!Array.isArray(body.messages) || body.messages.length === 0) return '`messages` must be a non-empty array';
    prompt = JSON.stringify(body.messages);
  } else if (path === '/v1/completions') {
    if (typeof body.prompt === 'string') prompt = body.prompt;
    else if (Array.isArray(body.prompt)) prompt = JSON.stringify(body.prompt);
    else return '`prompt` must be a string or an array';
  } else return `no metered route ${path}`;
  // Rendered into the prompt by the engine's chat template, so counted in its bound.
  for (const key of ['tools', 'tool_choice', 'response_format'] as const)
    if (body[key] !== undefined && body[key] !== null) prompt += JSON.stringify(body[key]);
  const asked = body.max_completion_tokens ?? body.max_tokens;
  if (asked !== undefined && asked !== null && (typeof asked !== 'number' || !Number.isSafeInteger(asked) || asked < 1))
    return '`max_tokens` must be a positive integer';
  if (body.n !== undefined && body.n !== null && body.n !== 1) return 'only `n: 1` is served';
  return { promptBytes: utf8Length(prompt), maxTokens: typeof asked === 'number' ? asked : DEFAULT_MAX_TOKENS };
}

/** The most input tokens a prompt of `promptBytes` can be (capped by the served context when known). */
export function inputTokenBoundOf(promptBytes: number, servedContext?: number): bigint {
  const bound = promptBytes + CHAT_TEMPLATE_OVERHEAD_TOKENS;
  return BigInt(servedContext !== undefined && servedContext < bound ? servedContext : bound);
}

/** The most a request may cost: its input bound and its `max_tokens` at `prices`. */
export function worstCaseCostE8s(prices: Prices, bound: RequestBound, servedContext?: number): bigint {
  return meteredCostE8s(prices, inputTokenBoundOf(bound.promptBytes, servedContext), BigInt(bound.maxTokens));
}

//#region Charges (runner → payer)
/** What the runner charges for one request, returned with the answer. */
export interface Charge {
  lineId: bigint;
  /** Unique per line and increasing; the payer names it when its receipt covers this charge. */
  chargeSeq: bigint;
  inputTokens: bigint;
  outputTokens: bigint;
  costE8s: bigint;
  /** The runner's cumulative claim on the line: the payer's latest receipt plus every charge not covered yet. */
  owedE8s: bigint;
}

export type ChargeJson = {
  line_id: string;
  charge_seq: string;
  input_tokens: string;
  output_tokens: string;
  cost_e8s: string;
  owed_e8s: string;
};

export const chargeToJson = (c: Charge): ChargeJson => ({
  line_id: c.lineId.toString(),
  charge_seq: c.chargeSeq.toString(),
  input_tokens: c.inputTokens.toString(),
  output_tokens: c.outputTokens.toString(),
  cost_e8s: c.costE8s.toString(),
  owed_e8s: c.owedE8s.toString()
});

/** Parses the JSON form; undefined when a field is missing or malformed. */
export function chargeFromJson(value: unknown): Charge | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const keys = ['line_id', 'charge_seq', 'input_tokens', 'output_tokens', 'cost_e8s', 'owed_e8s'] as const;
  const n: bigint[] = [];
  for (const key of keys) {
    const text = v[key];
    if (typeof text !== 'string' || !/^\d{1,38}$/.test(text)) return undefined;
    n.push(BigInt(text));
  }
  const [lineId, chargeSeq, inputTokens, outputTokens, costE8s, owedE8s] = n as [bigint, bigint, bigint, bigint, bigint, bigint];
  return { lineId, chargeSeq, inputTokens, outputTokens, costE8s, owedE8s };
}
//#endregion

//#region The payer's check
export interface PayerCount {
  prices: Prices;
  promptBytes: number;
  maxTokens: number;
  /** UTF-8 bytes of what the payer received (content, reasoning, tool calls). */
  completionBytes: number;
  servedContext?: number;
}

export interface AcceptedCharge {
  inputTokens: bigint;
  outputTokens: bigint;
  /** The payer's price of the accepted tokens (never the runner's figure). */
  costE8s: bigint;
  /** What the runner claimed beyond the payer's own bounds; empty when it is honest. */
  overReported: Array<'input_tokens' | 'output_tokens' | 'cost_e8s'>;
}

/**
 * What the payer signs for a charge: each count capped by its own bound, priced at the runner's POSTED prices. A
 * runner that claims more (tokens beyond the bounds, or a cost above its posted prices) is over-reporting.
 */
export function acceptCharge(charge: Charge, count: PayerCount): AcceptedCharge {
  const inputBound = inputTokenBoundOf(count.promptBytes, count.servedContext);
  const bytesBound = BigInt(count.completionBytes + OUTPUT_SLACK_TOKENS);
  const maxTokens = BigInt(count.maxTokens);
  const outputBound = bytesBound < maxTokens ? bytesBound : maxTokens;
  const overReported: AcceptedCharge['overReported'] = [];
  const inputTokens = charge.inputTokens > inputBound ? (overReported.push('input_tokens'), inputBound) : charge.inputTokens;
  const outputTokens = charge.outputTokens > outputBound ? (overReported.push('output_tokens'), outputBound) : charge.outputTokens;
  const costE8s = meteredCostE8s(count.prices, inputTokens, outputTokens);
  if (charge.costE8s > meteredCostE8s(count.prices, charge.inputTokens, charge.outputTokens)) overReported.push('cost_e8s');
  return { inputTokens, outputTokens, costE8s, overReported };
}
//#endregion

//#region The runner's exposure
export interface LineExposure {
  reservedE8s: bigint;
  settledE8s: bigint;
  /** Owed by the payer's latest receipt the runner holds (0 without one). */
  receiptOwedE8s: bigint;
  /**
   * The registry's figure of what can still be paid to the runner beyond what is settled (the reserve less the
   * protocol fee on it); when known it bounds the credit instead of `reservedE8s`.
   */
  availableE8s?: bigint;
  /** Charges served and not covered by a receipt yet, plus requests in flight at their worst case. */
  unsignedE8s: bigint;
  unsignedRequests: number;
}

export interface ExposureLimits {
  /** Most credit a payer may use without a receipt covering it. */
  maxUnsignedE8s: bigint;
  /** Most requests (served without a receipt, or in flight) per line. */
  maxUnsignedRequests: number;
}

export type CreditRefusal =
  | { code: 'InsufficientCredit'; availableE8s: bigint; neededE8s: bigint }
  | { code: 'ExposureCap'; unsignedE8s: bigint; maxUnsignedE8s: bigint; unsignedRequests: number };

/**
 * Credit on a line the runner can still collect: reserved − max(settled, receipted) − unsigned, or, with the
 * registry's `availableE8s` (net of the protocol fee), available − (receipted − settled) − unsigned.
 */
export function availableCreditE8s(line: LineExposure): bigint {
  const covered = line.settledE8s > line.receiptOwedE8s ? line.settledE8s : line.receiptOwedE8s;
  const left =
    line.availableE8s === undefined
      ? line.reservedE8s - covered - line.unsignedE8s
      : line.availableE8s - (covered - line.settledE8s) - line.unsignedE8s;
  return left < 0n ? 0n : left;
}

/** Why a request of worst case `neededE8s` must be refused on `line`, or undefined to serve it. */
export function creditRefusal(line: LineExposure, neededE8s: bigint, limits: ExposureLimits): CreditRefusal | undefined {
  const availableE8s = availableCreditE8s(line);
  if (availableE8s < neededE8s) return { code: 'InsufficientCredit', availableE8s, neededE8s };
  if (line.unsignedE8s + neededE8s > limits.maxUnsignedE8s || line.unsignedRequests + 1 > limits.maxUnsignedRequests)
    return {
      code: 'ExposureCap',
      unsignedE8s: line.unsignedE8s,
      maxUnsignedE8s: limits.maxUnsignedE8s,
      unsignedRequests: line.unsignedRequests
    };
  return undefined;
}
//#endregion

/** The cost of metered usage at `prices` (rounded up to the next e8s, as tasks are priced). */
export const meteredCostE8sOf = (prices: Prices, usage: { inputTokens: bigint; outputTokens: bigint }): bigint =>
  meteredCostE8s(prices, usage.inputTokens, usage.outputTokens);

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

/**
 * The body an engine is sent for a metered request (the runner's proxy, the gateway): the allowed fields, its own model
 * id, and the priced bound as both `max_tokens` and `n_predict`; streams ask for the usage chunk.
 */
export function engineBody(body: Record<string, unknown>, engineModel: string, maxTokens: number): Record<string, unknown> {
  const upstream: Record<string, unknown> = {};
  for (const key of ENGINE_FIELDS) if (body[key] !== undefined) upstream[key] = body[key];
  Object.assign(upstream, { model: engineModel, max_tokens: maxTokens, n_predict: maxTokens });
  if (body.stream === true) upstream.stream_options = { include_usage: true };
  return upstream;
}
