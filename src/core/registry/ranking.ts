import { ACCELERATOR_TOPS_PER_WATT_MAX } from '../manifest/index.js';
import type { Reputation } from './types.js';

/**
 * The documented ranking formula. Every component is in [0, 1]; the score is their weighted sum in basis
 * points (0–10,000). Deterministic: the same state and request always give the same order (ties by runner id).
 *
 *   load       = (slots − busy − queued) / slots, clamped          free capacity right now
 *   freshness  = 1 − heartbeat age / TTL                           how recently the runner proved it is alive
 *   reputation = (completed + 1) / (completed + failures + 2)      Laplace-smoothed success rate (0.5 with no history);
 *                failures = failed + rejected (requester rejections weighted) + expired leases
 *   price      = relative((median + 1) / (price + 1))              blended input+output price vs the candidates' median
 *   latency    = relative(median / latency), 0.5 when unmeasured   registry-measured lease→result latency EMA
 *   efficiency = relative(TOPS/W / median), 0.5 when unknown       TOPS/W clamped to ACCELERATOR_TOPS_PER_WATT_MAX
 *
 * relative(r) = r' / (1 + r') with r' = r clamped to [1/RATIO_CLAMP, RATIO_CLAMP]: the median candidate gets 0.5, and
 * no claimed figure moves its component beyond [1/(1+RATIO_CLAMP), RATIO_CLAMP/(1+RATIO_CLAMP)] nor any other runner's
 * component (a price of 0 or a watt of 1e-300 used to zero everyone else's). Latency comes only from the registry's own
 * measurements, never from what a runner reports.
 */
export const WEIGHTS = {
  load: 0.3,
  freshness: 0.15,
  price: 0.25,
  reputation: 0.15,
  latency: 0.1,
  efficiency: 0.05
} as const;

/** Largest ratio to the median any relative component honours (8×: at most 0.89, at least 0.11). */
export const RATIO_CLAMP = 8;

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

/** The candidates' medians that the relative components compare with (0 when no candidate has the figure). */
export interface Medians {
  price: number;
  latencyMs: number;
  topsPerWatt: number;
}

const clamp = (x: number): number => (Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0);

/** r / (1 + r) of r clamped to [1/RATIO_CLAMP, RATIO_CLAMP]: 0.5 at the median, bounded both ways. */
export function relative(ratio: number): number {
  const r = Number.isNaN(ratio) ? 1 : Math.min(RATIO_CLAMP, Math.max(1 / RATIO_CLAMP, ratio));
  return r / (1 + r);
}

/** TOPS/W as ranking counts it: clamped to the physical ceiling the manifest also enforces. */
export function rankedTopsPerWatt(topsPerWatt: number | undefined): number | undefined {
  if (topsPerWatt === undefined || !(topsPerWatt > 0)) return undefined;
  return Math.min(topsPerWatt, ACCELERATOR_TOPS_PER_WATT_MAX);
}

/** Latency ranking uses: the registry-measured EMA, or undefined when none was measured. */
export function measuredLatencyMs(reputation: Reputation | undefined): number | undefined {
  const latency = reputation?.latencyMsEma;
  return latency !== undefined && latency > 0 && Number.isFinite(latency) ? latency : undefined;
}

/**
 * The median of `values` (the lower middle for an even count), 0 for none. Quickselect on a copy: O(n) expected, so a
 * query over thousands of candidates does not pay for a sort.
 */
export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const a = [...values];
  const k = Math.floor((a.length - 1) / 2);
  let lo = 0;
  let hi = a.length - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >> 1] as number;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while ((a[i] as number) < pivot) i++;
      while ((a[j] as number) > pivot) j--;
      if (i <= j) {
        const t = a[i] as number;
        a[i] = a[j] as number;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  return a[k] as number;
}

export function components(input: RankInput, medians: Medians): Breakdown {
  const rep = input.reputation;
  // A requester's rejection weighs by its paid history: the part not yet a whole rejection counts as a fraction.
  const failures = rep === undefined ? 0 : rep.failed + rep.rejected + rep.expiredLeases + (rep.rejectionMilli ?? 0) / 1_000;
  const completed = rep?.completed ?? 0;
  const latencyMs = measuredLatencyMs(rep);
  const topsPerWatt = rankedTopsPerWatt(input.topsPerWatt);
  return {
    load: clamp((input.slots - input.busySlots - input.queueDepth) / input.slots),
    freshness: clamp(1 - input.ageMs / input.ttlMs),
    price: relative((medians.price + 1) / (Math.max(0, input.blendedPrice) + 1)),
    reputation: clamp((completed + 1) / (completed + failures + 2)),
    latency: latencyMs === undefined || medians.latencyMs <= 0 ? 0.5 : relative(medians.latencyMs / latencyMs),
    efficiency: topsPerWatt === undefined || medians.topsPerWatt <= 0 ? 0.5 : relative(topsPerWatt / medians.topsPerWatt)
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
