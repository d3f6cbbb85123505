import type { KeyValue } from '../kv.js';
import { minProtocolFeeOf } from './pricing.js';
import type { RewardConfig } from './types.js';

/**
 * What a requester's rejections weigh (README "Review"): by its RECENT paid volume, so that weight bought once fades,
 * and at most 1 + the tasks it accepted with a runner this epoch count against that runner, so that every counted
 * rejection past the first costs an acceptance of the same runner (which adds to its record what the rejection takes).
 * A rejection past the allowance only undoes the completion of its own task.
 */

/** A requester's paid volume: the protocol fees of its accepted, independent work, halved at each epoch since `epoch`. */
export interface PaidVolume {
  feesE8s: bigint;
  epoch: bigint;
}

/** One requester and one runner in `epoch`: the tasks the requester accepted with it, and its rejections that counted. */
export interface RejectionPair {
  epoch: bigint;
  accepted: number;
  counted: number;
}

export interface RequesterWeightStore {
  /** Requester → its paid volume. */
  paidVolume: KeyValue<PaidVolume>;
  /** `<requester>|<runner>` → the pair's current epoch (an entry of an older epoch counts as empty). */
  rejectionPairs: KeyValue<RejectionPair>;
  taskConfig(): RewardConfig;
}

/** Minimum-fee tasks' worth of recent paid volume after which a requester's rejection counts as a whole one. */
export const FULL_REJECTION_AFTER_PAID_TASKS = 9;

const epochOf = (store: RequesterWeightStore, now: bigint): bigint => now / store.taskConfig().epochNs;
const pairKey = (requester: string, runner: string): string => `${requester}|${runner}`;

/** The requester's paid volume now: each epoch since it was last paid halves it. */
export function recentPaidE8s(store: RequesterWeightStore, requester: string, now: bigint): bigint {
  const volume = store.paidVolume.get(requester);
  if (volume === undefined) return 0n;
  const age = epochOf(store, now) - volume.epoch;
  if (age <= 0n) return volume.feesE8s;
  return age >= 64n ? 0n : volume.feesE8s >> age;
}

/** The paid volume at which a rejection weighs whole: FULL_REJECTION_AFTER_PAID_TASKS fees at the fee floor. */
export const fullRejectionVolumeE8s = (config: RewardConfig): bigint => BigInt(FULL_REJECTION_AFTER_PAID_TASKS) * minProtocolFeeOf(config);

/**
 * A rejection's weight in thousandths: a tenth with no recent paid volume, growing linearly with it to whole at
 * `fullAtE8s` (one minimum-fee task: a fifth, as nine of them make it whole).
 */
export function requesterRejectionWeight(recentE8s: bigint, fullAtE8s: bigint): number {
  if (fullAtE8s <= 0n || recentE8s >= fullAtE8s) return 1_000;
  return 100 + Number((900n * (recentE8s < 0n ? 0n : recentE8s)) / fullAtE8s);
}

/** What `requester`'s rejection weighs now. */
export function rejectionWeightOf(store: RequesterWeightStore, requester: string, now: bigint): number {
  return requesterRejectionWeight(recentPaidE8s(store, requester, now), fullRejectionVolumeE8s(store.taskConfig()));
}

function pairOf(store: RequesterWeightStore, requester: string, runner: string, now: bigint): RejectionPair {
  const epoch = epochOf(store, now);
  const pair = store.rejectionPairs.get(pairKey(requester, runner));
  return pair !== undefined && pair.epoch === epoch ? { ...pair } : { epoch, accepted: 0, counted: 0 };
}

/** `requester` paid `feeE8s` for accepted work of `runners` (none of them itself): its volume and their pairs grow. */
export function notePaidWork(store: RequesterWeightStore, requester: string, feeE8s: bigint, runners: string[], now: bigint): void {
  store.paidVolume.set(requester, { feesE8s: recentPaidE8s(store, requester, now) + feeE8s, epoch: epochOf(store, now) });
  for (const runner of runners) {
    const pair = pairOf(store, requester, runner, now);
    pair.accepted += 1;
    store.rejectionPairs.set(pairKey(requester, runner), pair);
  }
}

/** Whether a rejection of `runner` by `requester` would count now: the pair has an allowance left this epoch. */
export function rejectionAllowed(store: RequesterWeightStore, requester: string, runner: string, now: bigint): boolean {
  const pair = pairOf(store, requester, runner, now);
  return pair.counted < 1 + pair.accepted;
}

/**
 * Whether `requester`'s rejection of `runner` counts on the runner's record, taking one of the pair's allowances:
 * 1 + the tasks the requester accepted with the runner this epoch. Past it the rejection only undoes the completion
 * its own result counted (as if the task never happened): paid work as any other, and no failure on the record.
 */
export function countRejection(store: RequesterWeightStore, requester: string, runner: string, now: bigint): boolean {
  if (!rejectionAllowed(store, requester, runner, now)) return false;
  const pair = pairOf(store, requester, runner, now);
  pair.counted += 1;
  store.rejectionPairs.set(pairKey(requester, runner), pair);
  return true;
}
