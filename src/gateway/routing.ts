import { sha256 } from '@noble/hashes/sha2';
import { utf8ToBytes } from '@noble/hashes/utils';

import type { RunnerCandidate, RunnerRequest } from '../sdk/index.js';
import type { ProviderPreferences } from './schemas.js';

/**
 * Which runners a request goes to, in order (pure: candidates, preferences and measurements in, a list out). The
 * registry ranks live runners; OpenRouter's `provider` object narrows and reorders them; an affinity key keeps a
 * session on one runner among equally good ones, so its prompt cache is reused.
 */

/** How many runners the registry is asked for: enough to fail over and to honour `order`. */
export const CANDIDATES_ASKED = 20;
/** Runners tried at most for one request before the gateway gives up (502). */
export const DEFAULT_MAX_ATTEMPTS = 4;
/** Registry scores (0 to 10,000) this close to the best count as equal for affinity. */
export const AFFINITY_SCORE_BAND = 500;

/** What the gateway measured of a runner's recent answers (absent: never served through this gateway). */
export interface RunnerMeasurements {
  /** Moving average time to first token, ms. */
  firstTokenMs?: number;
  /** Moving average output tokens per second. */
  tokensPerSecond?: number;
}

/** The registry request for `model` under `provider`'s filters (only runners with an endpoint can be reached). */
export function runnerRequestOf(model: string, provider: ProviderPreferences | undefined): RunnerRequest {
  const request: RunnerRequest = { model, endpointRequired: true, limit: CANDIDATES_ASKED };
  if (provider === undefined) return request;
  if (provider.quantizations !== undefined) request.quantizations = provider.quantizations;
  if (provider.max_price?.prompt !== undefined) request.maxInputPricePerMillion = BigInt(Math.floor(provider.max_price.prompt));
  if (provider.max_price?.completion !== undefined) request.maxOutputPricePerMillion = BigInt(Math.floor(provider.max_price.completion));
  if (provider.region !== undefined) request.region = provider.region;
  if (provider.min_context !== undefined) request.minContext = BigInt(provider.min_context);
  if (provider.min_bits !== undefined) request.minBits = provider.min_bits;
  if (provider.engine !== undefined) request.engine = provider.engine;
  if (provider.accelerator !== undefined) request.acceleratorClass = provider.accelerator;
  if (provider.capabilities !== undefined) request.capabilities = provider.capabilities;
  if (provider.confidential === true) request.confidentialRequired = true;
  if (provider.digests !== undefined) request.digests = provider.digests;
  return request;
}

export interface RouteOptions {
  affinityKey?: string;
  measurements?: (runner: string) => RunnerMeasurements | undefined;
  /** Runners this gateway has demoted (a 4xx another runner then served): tried after all others. */
  demoted?: (runner: string) => boolean;
  /**
   * The `max_tokens` the engine is told: runners serving a shorter context go after the others (vLLM refuses a request
   * whose max_tokens exceeds its context; llama.cpp stops at it), before demoted ones.
   */
  maxTokens?: number;
  maxAttempts?: number;
}

type Reachable = RunnerCandidate & { endpoint: string };

/** The runners to try, in order; empty when none qualifies. */
export function planRoute(
  candidates: readonly RunnerCandidate[],
  provider: ProviderPreferences | undefined,
  options: RouteOptions = {}
): Reachable[] {
  const only = provider?.only === undefined ? undefined : new Set(provider.only);
  const ignore = new Set(provider?.ignore ?? []);
  let list = candidates.filter(
    (c): c is Reachable => c.endpoint !== undefined && !ignore.has(c.runner) && (only === undefined || only.has(c.runner))
  );
  const measured = options.measurements ?? (() => undefined);
  const key = sortKey(provider?.sort, measured);
  // Stable sort: the registry's rank breaks ties.
  list = list
    .map((c, rank) => ({ c, rank, k: key(c) }))
    .sort((a, b) => a.k - b.k || a.rank - b.rank)
    .map((x) => x.c);
  if (options.affinityKey !== undefined)
    list = withAffinity(list, options.affinityKey, key, provider?.sort === undefined ? AFFINITY_SCORE_BAND : 0);
  const maxTokens = options.maxTokens;
  if (maxTokens !== undefined) list = lastWhere(list, (c) => c.servedContext !== undefined && c.servedContext < BigInt(maxTokens));
  const demoted = options.demoted;
  if (demoted !== undefined) list = lastWhere(list, (c) => demoted(c.runner));
  // A runner named twice is still tried once (else `order: [r, r, r, r]` spends every attempt on one runner).
  const order = [...new Set(provider?.order ?? [])];
  const ordered = order.flatMap((runner) => list.filter((c) => c.runner === runner));
  const fallbacks = provider?.allow_fallbacks !== false;
  if (ordered.length > 0 || order.length > 0) {
    const rest = list.filter((c) => !order.includes(c.runner));
    list = fallbacks ? [...ordered, ...rest] : ordered;
  } else if (!fallbacks) list = list.slice(0, 1);
  return list.slice(0, options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS);
}

/** `list` with the candidates `late` says go last, each part in its order. */
const lastWhere = (list: Reachable[], late: (c: Reachable) => boolean): Reachable[] => [
  ...list.filter((c) => !late(c)),
  ...list.filter(late)
];

/** Smaller sorts first; for the registry's own order, minus the score (bands of equal scores for affinity). */
function sortKey(
  sort: ProviderPreferences['sort'],
  measured: (runner: string) => RunnerMeasurements | undefined
): (c: RunnerCandidate) => number {
  switch (sort) {
    case 'price':
      return (c) => Number(c.inputPricePerMillion + c.outputPricePerMillion);
    case 'latency':
      // Unmeasured runners after measured ones, ordered by the registry's latency component.
      return (c) => measured(c.runner)?.firstTokenMs ?? 1e9 + (1 - c.breakdown.latency) * 1e6;
    case 'throughput':
      return (c) => -(measured(c.runner)?.tokensPerSecond ?? 0);
    default:
      return (c) => -c.score;
  }
}

/**
 * Among the leading candidates that rank equally (the same sort key; for the registry's order, scores within
 * AFFINITY_SCORE_BAND of the best), the one that `key` hashes highest with comes first (rendezvous hashing: the
 * choice only moves when that runner leaves or falls behind).
 */
function withAffinity(list: Reachable[], affinityKey: string, key: (c: RunnerCandidate) => number, band: number): Reachable[] {
  const first = list[0];
  if (first === undefined) return list;
  const firstKey = key(first);
  const tied = list.filter((c) => key(c) - firstKey <= band);
  if (tied.length < 2) return list;
  const weight = (runner: string): number => {
    const digest = sha256(utf8ToBytes(`${affinityKey}\u0000${runner}`));
    return (digest[0] ?? 0) * 2 ** 24 + (digest[1] ?? 0) * 2 ** 16 + (digest[2] ?? 0) * 2 ** 8 + (digest[3] ?? 0);
  };
  const chosen = tied.reduce((best, c) => (weight(c.runner) > weight(best.runner) ? c : best));
  return [chosen, ...list.filter((c) => c !== chosen)];
}
