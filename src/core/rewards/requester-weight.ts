import type { KeyValue } from '../kv.js';
import { minProtocolFeeOf } from './pricing.js';
import type { RewardConfig } from './types.js';

/**
 * What a requester's rejections weigh (README "Review"): by its RECENT paid volume, so that weight bought once fades,
 * and at most 1 + the tasks it accepted with a runner this epoch count against that runner, so that every counted
 * rejection past the first costs an acceptance of the same runner (which adds to its record what the rejection takes).
 * A rejection past the allowance only undoes the completion of its own task.
 */

/**
 * A requester's paid volume: the protocol fees of its accepted, independent work, halved for each epoch length that
 * has passed since `atNs`. By elapsed time, not by epoch index: an index stored under a shorter epoch would stay ahead
 * of the current one for ever once the admin lengthens the epoch, and the volume would never fade.
 */
export interface PaidVolume {
  feesE8s: bigint;
  /** The epoch index at the last update (what volumes stored before `atNs` decay by). */
  epoch: bigint;
  /** Until when the volume has been halved: `feesE8s` is its value at that time (absent on volumes stored before). */
  atNs?: bigint;
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
  /**
   * `<epoch, 20 digits>|<requester>|<runner>` → the pair in that epoch: keys sort by epoch, so ended epochs' pairs are
   * at the head, where sweepRejectionPairs deletes them (entries stored before, `<requester>|<runner>`, are read as a
   * fallback, moved when their pair is next written, and swept once their epoch has ended).
   */
  rejectionPairs: KeyValue<RejectionPair>;
  taskConfig(): RewardConfig;
}

/** Minimum-fee tasks' worth of recent paid volume after which a requester's rejection counts as a whole one. */
export const FULL_REJECTION_AFTER_PAID_TASKS = 9;

const epochOf = (store: RequesterWeightStore, now: bigint): bigint => now / store.taskConfig().epochNs;
const legacyPairKey = (requester: string, runner: string): string => `${requester}|${runner}`;
const pairKey = (epoch: bigint, requester: string, runner: string): string =>
  `${epoch.toString().padStart(20, '0')}|${requester}|${runner}`;
/** An epoch-keyed pair (legacy keys start with a principal's text, which never holds 20 digits in a row). */
const EPOCH_KEY = /^\d{20}\|/;
/** Legacy keys start with a principal's text (a-z, 2-7), after every epoch key (`0…`, 20 digits). */
const LEGACY_FROM = '1\uffff';

const halved = (feesE8s: bigint, times: bigint): bigint => (times <= 0n ? feesE8s : times >= 64n ? 0n : feesE8s >> times);

/**
 * The volume halved for each whole epoch length elapsed since `atNs`, and the time it is halved to (`atNs` moved by
 * whole epochs only, so that frequent payments do not restart the current epoch's clock). A volume stored before
 * `atNs` decays by epoch index.
 */
function decayed(store: RequesterWeightStore, volume: PaidVolume, now: bigint): { feesE8s: bigint; atNs: bigint } {
  const epochNs = store.taskConfig().epochNs;
  if (volume.atNs === undefined) {
    const current = epochOf(store, now);
    // An index ahead of the current one was stored under a shorter epoch: its age is unknown, so it counts as faded
    // (the requester's next paid task starts a volume with a time).
    if (volume.epoch > current) return { feesE8s: 0n, atNs: now };
    return { feesE8s: halved(volume.feesE8s, current - volume.epoch), atNs: current * epochNs };
  }
  const epochs = now > volume.atNs ? (now - volume.atNs) / epochNs : 0n;
  return { feesE8s: halved(volume.feesE8s, epochs), atNs: volume.atNs + epochs * epochNs };
}

/** The requester's paid volume now: each epoch length elapsed since it was last paid halves it. */
export function recentPaidE8s(store: RequesterWeightStore, requester: string, now: bigint): bigint {
  const volume = store.paidVolume.get(requester);
  return volume === undefined ? 0n : decayed(store, volume, now).feesE8s;
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
  const pair = store.rejectionPairs.get(pairKey(epoch, requester, runner)) ?? store.rejectionPairs.get(legacyPairKey(requester, runner));
  return pair !== undefined && pair.epoch === epoch ? { ...pair } : { epoch, accepted: 0, counted: 0 };
}

function savePair(store: RequesterWeightStore, requester: string, runner: string, pair: RejectionPair): void {
  store.rejectionPairs.set(pairKey(pair.epoch, requester, runner), pair);
  store.rejectionPairs.delete(legacyPairKey(requester, runner));
}

/** Pairs of ended epochs one sweep deletes at most. */
export const MAX_PAIRS_PER_SWEEP = 100;

/**
 * Deletes the pairs of ended epochs (they count as empty: pairOf reads only the current epoch's), from the head of the
 * map, where their keys sort: at most MAX_PAIRS_PER_SWEEP, within `outOfBudget`, and it stops at the first pair of the
 * current epoch, so it reads no more than it deletes plus one page. The maintenance timer runs it (tasks/tick.ts), so
 * the map holds the pairs of the current epoch and not every pair that ever dealt. Returns whether some may be left.
 */
export function sweepRejectionPairs(store: RequesterWeightStore, now: bigint, outOfBudget: () => boolean = () => false): boolean {
  const epoch = epochOf(store, now);
  const current = epoch.toString().padStart(20, '0');
  const stale: string[] = [];
  let more = false;
  for (const [key] of store.rejectionPairs.entries()) {
    if (!EPOCH_KEY.test(key) || key.slice(0, 20) >= current) break;
    if (stale.length >= MAX_PAIRS_PER_SWEEP || outOfBudget()) {
      more = true;
      break;
    }
    stale.push(key);
  }
  // Then pairs stored before epoch keys (`<requester>|<runner>`, after every epoch key): those of ended epochs go, the
  // current epoch's are passed over (they end too). Each counts as a visit, so the walk stays within the same bound.
  let visited = stale.length;
  if (!more) {
    for (const [key, pair] of store.rejectionPairs.entries(LEGACY_FROM)) {
      if (visited >= MAX_PAIRS_PER_SWEEP || outOfBudget()) {
        more = true;
        break;
      }
      visited++;
      if (pair.epoch < epoch) stale.push(key);
    }
  }
  for (const key of stale) store.rejectionPairs.delete(key);
  return more;
}

/** `requester` paid `feeE8s` for accepted work of `runners` (none of them itself): its volume and their pairs grow. */
export function notePaidWork(store: RequesterWeightStore, requester: string, feeE8s: bigint, runners: string[], now: bigint): void {
  const volume = store.paidVolume.get(requester);
  const recent = volume === undefined ? { feesE8s: 0n, atNs: now } : decayed(store, volume, now);
  store.paidVolume.set(requester, { feesE8s: recent.feesE8s + feeE8s, epoch: epochOf(store, now), atNs: recent.atNs });
  for (const runner of runners) {
    const pair = pairOf(store, requester, runner, now);
    pair.accepted += 1;
    savePair(store, requester, runner, pair);
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
 * its own result counted (as if the task never happened): paid work like any other, and no failure on the record.
 */
export function countRejection(store: RequesterWeightStore, requester: string, runner: string, now: bigint): boolean {
  if (!rejectionAllowed(store, requester, runner, now)) return false;
  const pair = pairOf(store, requester, runner, now);
  pair.counted += 1;
  savePair(store, requester, runner, pair);
  return true;
}
