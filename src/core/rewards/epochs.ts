import { DEFAULT_REQUESTER_CAP_BPS, MAX_EPOCH_CREDITS, epochEmission } from './emission.js';
import { addPayout, payAccountOf } from './outbox.js';
import type { RewardStores } from './store.js';
import type { EpochCredit, EpochTerms, EpochWork } from './types.js';

/**
 * Whether `requester` deals with itself through `runner`: it is the runner, the runner's operator, or a runner of the
 * same operator. Such work is paid its reward but earns no emission.
 */
export function isSelfDealing(store: Pick<RewardStores, 'runners'>, requester: string, runner: string): boolean {
  const operator = store.runners.get(runner)?.manifest.operator ?? runner;
  const requesterOperator = store.runners.get(requester)?.manifest.operator;
  return requester === runner || requester === operator || requesterOperator === operator;
}

/**
 * Credits an accepted task's protocol fee (what its requester paid the treasury) to the current epoch (a finished
 * epoch is closed first), split over the paid runners like the reward (the first gets the remainder). Only fees count,
 * never self-reported tokens or card sizes; a winner the requester deals with itself through is not credited.
 */
export function addAcceptedWork(store: RewardStores, now: bigint, requester: string, protocolFeeE8s: bigint, winners: string[]): void {
  closeEpoch(store, now);
  const work = store.epochWork();
  // An epoch that opened with emission off mints nothing whatever it credits: skip the write.
  if (protocolFeeE8s <= 0n || winners.length === 0 || work.terms?.emissionE8s === 0n) return;
  const credits: EpochCredit[] = (work.credits ?? []).map(([q, r, f]): EpochCredit => [q, r, f]);
  const each = protocolFeeE8s / BigInt(winners.length);
  const remainder = protocolFeeE8s - each * BigInt(winners.length);
  let changed = false;
  winners.forEach((runner, i) => {
    const fee = i === 0 ? each + remainder : each;
    if (fee <= 0n || isSelfDealing(store, requester, runner)) return;
    const found = credits.find(([q, r]) => q === requester && r === runner);
    if (found !== undefined) found[2] += fee;
    else if (credits.length < MAX_EPOCH_CREDITS) credits.push([requester, runner, fee]);
    else return;
    changed = true;
  });
  if (changed) store.setEpochWork({ ...work, credits });
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
  if (work.terms !== undefined) {
    epochEmission(work.terms, work.credits ?? []).forEach(([runner, amount], i) => {
      addPayout(store, now, i, 'emission', `epoch-${work.epoch}/${runner}`, payAccountOf(store, runner), amount, `epoch-${work.epoch}`);
    });
  }
  const terms = openTerms(store, now);
  const aligned = now / store.taskConfig().epochNs;
  const next: EpochWork = { epoch: aligned > work.epoch ? aligned : work.epoch + 1n, terms, credits: [] };
  store.setEpochWork(next);
}

/**
 * Credits many runners' protocol fees paid by one requester at once (a settled credit batch), with one read and one
 * write of the epoch's work: like addAcceptedWork per runner, self-dealing excluded, at most MAX_EPOCH_CREDITS pairs.
 */
export function addPaidFees(store: RewardStores, now: bigint, requester: string, fees: ReadonlyMap<string, bigint>): void {
  closeEpoch(store, now);
  const work = store.epochWork();
  if (fees.size === 0 || work.terms?.emissionE8s === 0n) return;
  const credits: EpochCredit[] = (work.credits ?? []).map(([q, r, f]): EpochCredit => [q, r, f]);
  const at = new Map<string, EpochCredit>();
  for (const credit of credits) if (credit[0] === requester) at.set(credit[1], credit);
  let changed = false;
  for (const [runner, fee] of fees) {
    if (fee <= 0n || isSelfDealing(store, requester, runner)) continue;
    const found = at.get(runner);
    if (found !== undefined) found[2] += fee;
    else if (credits.length < MAX_EPOCH_CREDITS) {
      const credit: EpochCredit = [requester, runner, fee];
      credits.push(credit);
      at.set(runner, credit);
    } else continue;
    changed = true;
  }
  if (changed) store.setEpochWork({ ...work, credits });
}
