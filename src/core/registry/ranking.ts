import type { Reputation } from './types.js';

/**
 * The documented ranking formula. Every component is in [0, 1]; the score is their weighted sum in basis
 * points (0–10,000). Deterministic: the same state and request always give the same order (ties by runner id).
 *
 *   load       = (slots − busy − queued) / slots, clamped          free capacity right now
 *   freshness  = 1 − heartbeat age / TTL                           how recently the runner proved it is alive
 *   price      = (cheapest + 1) / (price + 1)                      blended input+output price vs the cheapest candidate
 *   reputation = (completed + 1) / (completed + failures + 2)      Laplace-smoothed success rate (0.5 with no history)
 *   latency    = fastest / latency, 0.5 when unknown               end-to-end latency EMA from completed tasks
 *   efficiency = (TOPS/W) / best TOPS/W among candidates, 0 when unknown   energy-efficient accelerators win ties
 */
export const WEIGHTS = {
  load: 0.3,
  freshness: 0.15,
  price: 0.25,
  reputation: 0.15,
  latency: 0.1,
  efficiency: 0.05
} as const;

export type Breakdown = Record<keyof typeof WEIGHTS, number>;

/** Everything ranking needs, in plain numbers (BigInt arithmetic is slow in the canister's QuickJS). */
export interface RankInput {
  slots: number;
  busySlots: number;
  queueDepth: number;
  ageMs: number;
  ttlMs: number;
  blendedPrice: number;
  reputation: Reputation | undefined;
  topsPerWatt: number | undefined;
}

const clamp = (x: number): number => (Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0);

export function components(input: RankInput, cheapest: number, fastestMs: number, bestTopsPerWatt: number): Breakdown {
  const rep = input.reputation;
  const failures = rep === undefined ? 0 : rep.failed + rep.rejected + rep.expiredLeases;
  const completed = rep?.completed ?? 0;
  const latency = rep !== undefined && rep.latencyMsEma > 0 ? clamp(fastestMs / rep.latencyMsEma) : 0.5;
  return {
    load: clamp((input.slots - input.busySlots - input.queueDepth) / input.slots),
    freshness: clamp(1 - input.ageMs / input.ttlMs),
    price: clamp((cheapest + 1) / (input.blendedPrice + 1)),
    reputation: clamp((completed + 1) / (completed + failures + 2)),
    latency,
    efficiency: input.topsPerWatt === undefined || bestTopsPerWatt <= 0 ? 0 : clamp(input.topsPerWatt / bestTopsPerWatt)
  };
}

export function scoreOf(b: Breakdown): number {
  const w = WEIGHTS;
  const total =
    w.load * b.load +
    w.freshness * b.freshness +
    w.price * b.price +
    w.reputation * b.reputation +
    w.latency * b.latency +
    w.efficiency * b.efficiency;
  return Math.round(total * 10_000);
}

/** FNV-1a 32-bit: a stable hash for rendezvous (highest-random-weight) affinity. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/** Rendezvous weight of a runner for an affinity key: the same key keeps preferring the same runner. */
export function affinityWeight(affinityKey: string, runnerId: string): number {
  return fnv1a(`${affinityKey}\u0000${runnerId}`);
}
