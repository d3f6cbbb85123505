import type { Payout } from './types.js';

/**
 * When each payout is attempted. A failing payout never holds back another:
 * - each attempt pushes its next one back exponentially (5 s doubling to 1 h), so failures are not retried every pass;
 * - after MAX_PAYOUT_ATTEMPTS attempts it is `stuck` (terminal, listed with its last error, retried by an admin);
 * - a pass reads only due payouts from an index ordered by next-attempt time, in two lanes: payouts never attempted
 *   (`a`) and retries (`b`). Retries get at most half of a pass while new payouts wait, so any number of failing
 *   payouts, due or not, cannot fill a pass ahead of a new one.
 */

export const SECOND_NS = 1_000_000_000n;
/** The delay after the first failed attempt; each further attempt doubles it. */
export const PAYOUT_BACKOFF_BASE_NS = 5n * SECOND_NS;
/** The longest delay between two attempts. */
export const PAYOUT_BACKOFF_MAX_NS = 3600n * SECOND_NS;
/** Attempts after which a payout that never succeeded is stuck (about 11 hours of backoff). */
export const MAX_PAYOUT_ATTEMPTS = 20;

const NS_DIGITS = 20;

/** The delay before attempt `attempts + 1`, once `attempts` (≥ 1) attempts were made. */
export function payoutBackoffNs(attempts: number): bigint {
  if (attempts <= 0) return 0n;
  const exponent = Math.min(attempts - 1, 20);
  const delay = PAYOUT_BACKOFF_BASE_NS * 2n ** BigInt(exponent);
  return delay > PAYOUT_BACKOFF_MAX_NS ? PAYOUT_BACKOFF_MAX_NS : delay;
}

/** A payout stored before attempts were counted reads with 0 attempts. */
export function normalizePayout(payout: Payout): Payout {
  const attempts = typeof payout.attempts === 'number' && Number.isInteger(payout.attempts) ? payout.attempts : 0;
  return attempts === payout.attempts ? payout : { ...payout, attempts };
}

/** When the payout is next due: a payout never attempted (or stored before backoff existed) is due from its creation. */
export const nextAttemptOf = (payout: Payout): bigint => payout.nextAttemptNs ?? payout.createdAtNs;

/** Its state as listed: `stuck` or `pending`. */
export const payoutState = (payout: Payout): 'pending' | 'stuck' => (payout.stuck === true ? 'stuck' : 'pending');

const lane = (payout: Payout): 'a' | 'b' => ((payout.attempts ?? 0) === 0 ? 'a' : 'b');

/** The payout's key in the due index. */
export const queueKey = (payout: Payout): string =>
  `${lane(payout)}|${nextAttemptOf(payout).toString().padStart(NS_DIGITS, '0')}|${payout.id}`;

/** The due time a queue key names. */
export const queueKeyNs = (key: string): bigint => BigInt(key.slice(2, 2 + NS_DIGITS));
