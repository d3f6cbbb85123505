import { DEFAULT_REQUESTER_CAP_BPS, MAX_EPOCH_CREDITS, epochEmission } from './emission.js';
import { addPayout, payAccountOf } from './outbox.js';
import type { RewardStores } from './store.js';
import type { EpochCredit, EpochCreditEntry, EpochTerms, EpochWork } from './types.js';

/**
 * Whether `requester` deals with itself through `runner`: it is the runner, the runner's operator, or a runner of the
 * same operator. Such work is paid its reward but earns no emission.
 */
export function isSelfDealing(store: Pick<RewardStores, 'runners'>, requester: string, runner: string): boolean {
  const operator = store.runners.get(runner)?.manifest.operator ?? runner;
  const requesterOperator = store.runners.get(requester)?.manifest.operator;
  return requester === runner || requester === operator || requesterOperator === operator;
}

const orderKey = (credit: EpochCreditEntry): string =>
  `${credit.fee.toString().padStart(30, '0')}|${credit.seq.toString().padStart(20, '0')}`;

/**
 * Credits `fee` from `requester` to `runner` in the current epoch's keyed credits: a known pair accumulates; a new pair
 * takes a free place, or, once MAX_EPOCH_CREDITS pairs are credited, the place of the smallest pair (the oldest among
 * equals) if its fee is at least as large. So flooding the table with minimum-fee pairs cannot keep an honest pair
 * out, and pushing a credited pair out again costs the flooder a new pair's fee for each older pair as small. A few
 * keyed reads and writes, whatever the table holds. Returns whether anything changed (`work`'s totals are updated).
 */
function creditPair(store: RewardStores, work: EpochWork, requester: string, runner: string, fee: bigint): boolean {
  const key = `${requester}|${runner}`;
  const found = store.epochCredits.get(key);
  if (found === undefined && store.epochCredits.size() >= MAX_EPOCH_CREDITS) {
    const smallest = first(store.epochCreditOrder.entries());
    const evicted = smallest === undefined ? undefined : store.epochCredits.get(smallest[1]);
    if (smallest === undefined || evicted === undefined || evicted.fee > fee) return false;
    store.epochCreditOrder.delete(smallest[0]);
    store.epochCredits.delete(smallest[1]);
    work.creditedE8s = (work.creditedE8s ?? 0n) - evicted.fee;
  }
  let next: EpochCreditEntry;
  if (found === undefined) {
    next = { fee, seq: work.creditSeq ?? 0n };
    work.creditSeq = next.seq + 1n;
  } else {
    store.epochCreditOrder.delete(orderKey(found));
    next = { fee: found.fee + fee, seq: found.seq };
  }
  store.epochCredits.set(key, next);
  store.epochCreditOrder.set(orderKey(next), key);
  work.creditedE8s = (work.creditedE8s ?? 0n) + fee;
  return true;
}

function first<T>(entries: Iterable<T>): T | undefined {
  for (const entry of entries) return entry;
  return undefined;
}

/** The current epoch's credits: the keyed pairs, and those of a record stored before them (`credits`). */
export function epochCredits(store: RewardStores, work: EpochWork = store.epochWork()): EpochCredit[] {
  const credits: EpochCredit[] = (work.credits ?? []).map(([q, r, f]): EpochCredit => [q, r, f]);
  for (const [key, credit] of store.epochCredits.entries()) {
    const at = key.indexOf('|');
    credits.push([key.slice(0, at), key.slice(at + 1), credit.fee]);
  }
  return credits;
}

/** The fees the current epoch has credited so far. */
export function epochCreditedFees(work: EpochWork): bigint {
  return (work.credits ?? []).reduce((sum, [, , fee]) => sum + fee, work.creditedE8s ?? 0n);
}

/**
 * Credits an accepted task's protocol fee (what its requester paid the treasury) to the current epoch (a finished
 * epoch is closed first), split over the paid runners like the reward (the first gets the remainder). Only fees count,
 * never self-reported tokens or card sizes; a winner the requester deals with itself through is not credited.
 */
export function addAcceptedWork(store: RewardStores, now: bigint, requester: string, protocolFeeE8s: bigint, winners: string[]): void {
  closeEpoch(store, now);
  const work = { ...store.epochWork() };
  // An epoch that opened with emission off mints nothing whatever it credits: skip the write.
  if (protocolFeeE8s <= 0n || winners.length === 0 || work.terms?.emissionE8s === 0n) return;
  const each = protocolFeeE8s / BigInt(winners.length);
  const remainder = protocolFeeE8s - each * BigInt(winners.length);
  let changed = false;
  winners.forEach((runner, i) => {
    const fee = i === 0 ? each + remainder : each;
    if (fee <= 0n || isSelfDealing(store, requester, runner)) return;
    if (creditPair(store, work, requester, runner, fee)) changed = true;
  });
  if (changed) store.setEpochWork(work);
}

/** The terms of an epoch opening at `now`: aligned on the epoch length, with the emission settings in force now. */
function openTerms(store: RewardStores, now: bigint): EpochTerms {
  const config = store.taskConfig();
  const startNs = now - (now % config.epochNs);
  return {
    startNs,
    endNs: startNs + config.epochNs,
    emissionE8s: config.emissionPerEpochE8s,
    requesterCapBps: config.emissionRequesterCapBps ?? DEFAULT_REQUESTER_CAP_BPS
  };
}

/**
 * Closes the current epoch once it has ended and opens the next: the closed epoch mints by the terms it opened with
 * (epochEmission), never by the config in force at closing, so switching emission on does not pay work done while it
 * was off. Epoch numbers only grow (payout ids `epoch-<n>/<runner>` stay unique); an epoch stored without terms
 * (before they existed) closes at once and mints nothing.
 */
export function closeEpoch(store: RewardStores, now: bigint): void {
  const work = store.epochWork();
  if (work.terms !== undefined && now < work.terms.endNs) return;
  const credits = epochCredits(store, work);
  if (work.terms !== undefined) {
    epochEmission(work.terms, credits).forEach(([runner, amount], i) => {
      addPayout(store, now, i, 'emission', `epoch-${work.epoch}/${runner}`, payAccountOf(store, runner), amount, `epoch-${work.epoch}`);
    });
  }
  // At most MAX_EPOCH_CREDITS pairs: the next epoch starts with empty maps.
  for (const [key] of [...store.epochCreditOrder.entries()]) store.epochCreditOrder.delete(key);
  for (const [key] of [...store.epochCredits.entries()]) store.epochCredits.delete(key);
  const terms = openTerms(store, now);
  const aligned = now / store.taskConfig().epochNs;
  const next: EpochWork = { epoch: aligned > work.epoch ? aligned : work.epoch + 1n, terms };
  store.setEpochWork(next);
}

/**
 * Credits many runners' protocol fees paid by one requester at once (a settled credit batch), with one write of the
 * epoch's record: like addAcceptedWork per runner, self-dealing excluded.
 */
export function addPaidFees(store: RewardStores, now: bigint, requester: string, fees: ReadonlyMap<string, bigint>): void {
  closeEpoch(store, now);
  const work = { ...store.epochWork() };
  if (fees.size === 0 || work.terms?.emissionE8s === 0n) return;
  let changed = false;
  for (const [runner, fee] of fees) {
    if (fee <= 0n || isSelfDealing(store, requester, runner)) continue;
    if (creditPair(store, work, requester, runner, fee)) changed = true;
  }
  if (changed) store.setEpochWork(work);
}
