import { effectiveOperator } from '../registry/operator-of.js';
import { DEFAULT_REQUESTER_CAP_BPS, MAX_EPOCH_CREDITS, MAX_OPERATOR_CREDITS, epochEmission } from './emission.js';
import { addPayout, payAccountOf } from './outbox.js';
import type { EpochCreditMaps, RewardStores } from './store.js';
import type { EpochBank, EpochClose, EpochCredit, EpochCreditEntry, EpochTerms, EpochWork } from './types.js';

/**
 * Whether `requester` deals with itself through `runner`: it is the runner, the runner's operator, or a runner of the
 * same operator. Such work is paid its reward but earns no emission.
 */
export function isSelfDealing(store: Pick<RewardStores, 'runners'>, requester: string, runner: string): boolean {
  const operator = store.runners.get(runner)?.manifest.operator ?? runner;
  const requesterOperator = store.runners.get(requester)?.manifest.operator;
  return requester === runner || requester === operator || requesterOperator === operator;
}

const sizeKey = (credit: EpochCreditEntry): string =>
  `${credit.fee.toString().padStart(30, '0')}|${credit.seq.toString().padStart(20, '0')}`;
const ownerKey = (owner: string, credit: EpochCreditEntry): string => `${owner}|${sizeKey(credit)}`;

/**
 * Who a pair counts against: its runner and the operator recorded with it (one when the runner stands for itself).
 * The runner counts too because a runner can name another accepting operator at will, a new runner costs a bond.
 * A pair stored before operators were recorded counts against no one.
 */
function ownersOf(key: string, credit: EpochCreditEntry): string[] {
  if (credit.operator === undefined) return [];
  const runner = key.slice(key.indexOf('|') + 1);
  return runner === credit.operator ? [runner] : [runner, credit.operator];
}

/** `owner`'s smallest credited pair (the oldest among equals): its key and entry. */
function smallestOf(store: EpochCreditMaps, owner: string): [string, EpochCreditEntry] | undefined {
  const found = first(store.epochCreditOperatorOrder.entries(`${owner}|`));
  if (found === undefined || !found[0].startsWith(`${owner}|`)) return undefined;
  const credit = store.epochCredits.get(found[1]);
  return credit === undefined ? undefined : [found[1], credit];
}

/** Stores a pair indexed by size and by owner. */
function put(store: EpochCreditMaps, key: string, credit: EpochCreditEntry): void {
  store.epochCredits.set(key, credit);
  store.epochCreditOrder.set(sizeKey(credit), key);
  for (const owner of ownersOf(key, credit)) store.epochCreditOperatorOrder.set(ownerKey(owner, credit), key);
}

/** Removes a pair's size and owner index entries (and the pair itself unless `keep`). */
function remove(store: EpochCreditMaps, key: string, credit: EpochCreditEntry, keep = false): void {
  store.epochCreditOrder.delete(sizeKey(credit));
  for (const owner of ownersOf(key, credit)) {
    store.epochCreditOperatorOrder.delete(ownerKey(owner, credit));
    if (!keep) count(store, owner, -1);
  }
  if (!keep) store.epochCredits.delete(key);
}

const countOf = (store: EpochCreditMaps, owner: string): number => store.epochCreditOperators.get(owner) ?? 0;

function count(store: EpochCreditMaps, owner: string, delta: number): void {
  const next = countOf(store, owner) + delta;
  if (next > 0) store.epochCreditOperators.set(owner, next);
  else store.epochCreditOperators.delete(owner);
}

/**
 * The pair a new pair of `owners` would replace: once one of them holds MAX_OPERATOR_CREDITS pairs, its own smallest
 * (refused, undefined, unless that pair also counts against every other owner at its cap); else, once the table holds
 * MAX_EPOCH_CREDITS pairs, the smallest of all (the oldest among equals); else none (`null`: a free place).
 */
function victimFor(store: EpochCreditMaps, owners: string[]): [string, EpochCreditEntry] | null | undefined {
  const full = owners.filter((owner) => countOf(store, owner) >= MAX_OPERATOR_CREDITS);
  if (full.length > 0) {
    const own = smallestOf(store, full[0] as string);
    if (own === undefined) return undefined;
    const its = ownersOf(...own);
    return full.every((owner) => its.includes(owner)) ? own : undefined;
  }
  if (store.epochCredits.size() < MAX_EPOCH_CREDITS) return null;
  const smallest = first(store.epochCreditOrder.entries());
  const credit = smallest === undefined ? undefined : store.epochCredits.get(smallest[1]);
  return smallest === undefined || credit === undefined ? undefined : [smallest[1], credit];
}

/**
 * Credits `fee` from `requester` to `runner` in the current epoch's keyed credits (README "Emission"): a known pair
 * accumulates. A new pair counts against its runner and the runner's effective operator; once either holds
 * MAX_OPERATOR_CREDITS pairs, the new pair may only replace that one's own smallest pair; otherwise it takes a free
 * place or, once MAX_EPOCH_CREDITS pairs are credited, the smallest pair's (the oldest among equals). Either way only
 * for a strictly larger fee. So one operator (or runner) holds at most a tenth of the table however early it floods,
 * and a flood of minimum-fee pairs, however late, pushes out no pair credited as much. A few keyed reads and writes,
 * whatever the table holds. Returns whether anything changed (`work`'s totals are updated).
 */
function creditPair(registry: RewardStores, work: EpochWork, requester: string, runner: string, fee: bigint): boolean {
  const store = bankOf(registry, work.bank);
  const key = `${requester}|${runner}`;
  const found = store.epochCredits.get(key);
  if (found !== undefined) {
    remove(store, key, found, true);
    put(store, key, { ...found, fee: found.fee + fee });
    work.creditedE8s = (work.creditedE8s ?? 0n) + fee;
    return true;
  }
  const stored = registry.runners.get(runner);
  const next: EpochCreditEntry = { fee, seq: work.creditSeq ?? 0n, operator: stored === undefined ? runner : effectiveOperator(stored) };
  const victim = victimFor(store, ownersOf(key, next));
  if (victim === undefined) return false;
  if (victim !== null) {
    const [victimKey, evicted] = victim;
    if (evicted.fee >= fee) return false;
    remove(store, victimKey, evicted);
    work.creditedE8s = (work.creditedE8s ?? 0n) - evicted.fee;
  }
  work.creditSeq = next.seq + 1n;
  put(store, key, next);
  for (const owner of ownersOf(key, next)) count(store, owner, 1);
  work.creditedE8s = (work.creditedE8s ?? 0n) + fee;
  return true;
}

function first<T>(entries: Iterable<T>): T | undefined {
  for (const entry of entries) return entry;
  return undefined;
}

/** The bank of credit maps `bank` names (absent: 0, the store's own maps). */
function bankOf(store: RewardStores, bank: EpochBank | undefined): EpochCreditMaps {
  return bank === 1 ? store.epochCreditsAlt : store;
}

/** The current epoch's credits: the keyed pairs, and those of a record stored before them (`credits`). */
export function epochCredits(store: RewardStores, work: EpochWork = store.epochWork()): EpochCredit[] {
  return creditsIn(bankOf(store, work.bank), work.credits);
}

function creditsIn(maps: EpochCreditMaps, legacy: EpochCredit[] | undefined): EpochCredit[] {
  const credits: EpochCredit[] = (legacy ?? []).map(([q, r, f]): EpochCredit => [q, r, f]);
  for (const [key, credit] of maps.epochCredits.entries()) {
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
  markEpochEnd(store, now);
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
 * Opens the next epoch once the current one has ended, in a few keyed reads and writes whatever the epoch credited: the
 * ended epoch is only marked as closing (`epochClose`), its settlement is the maintenance timer's (stepEpochClose). The
 * next epoch credits the other bank of maps, so the closing one's credits stay as they were until it is settled. While
 * an earlier close is still settling, the current epoch runs on (its later work is credited to it and minted by its
 * terms) until the timer finishes that close. An epoch that credited nothing in its bank keeps the bank and needs no
 * settling. Epoch numbers only grow (payout ids `epoch-<n>/<runner>` stay unique); an epoch stored without terms
 * (before they existed) mints nothing. Returns whether it opened an epoch.
 */
export function markEpochEnd(store: RewardStores, now: bigint): boolean {
  const work = store.epochWork();
  if (work.terms !== undefined && now < work.terms.endNs) return false;
  if (store.epochClose() !== undefined) return false;
  const maps = bankOf(store, work.bank);
  const empty = maps.epochCredits.size() === 0 && maps.epochCreditOperators.size() === 0 && (work.credits ?? []).length === 0;
  const bank: EpochBank = work.bank ?? 0;
  if (!empty) {
    const close: EpochClose = { epoch: work.epoch, bank, paid: 0 };
    if (work.terms !== undefined) close.terms = work.terms;
    if (work.credits !== undefined) close.credits = work.credits;
    store.setEpochClose(close);
  }
  const aligned = now / store.taskConfig().epochNs;
  const next: EpochWork = { epoch: aligned > work.epoch ? aligned : work.epoch + 1n, terms: openTerms(store, now) };
  const nextBank: EpochBank = empty ? bank : bank === 0 ? 1 : 0;
  if (nextBank !== 0) next.bank = nextBank;
  store.setEpochWork(next);
  return true;
}

/** Keys cleared per budget check while settling a close. */
const CLEAR_CHUNK = 50;

/**
 * One budgeted step of the maintenance timer's epoch settlement: marks an ended epoch (markEpochEnd), then settles the
 * closing one from its persisted cursor: computes its emission once (at most MAX_EPOCH_CREDITS pairs) and keeps it,
 * records its payouts in order up to the cursor, then clears its bank chunk by chunk, and drops the close once the bank
 * is empty. The minted amounts follow the terms the epoch opened with (epochEmission), never the config in force at
 * closing, so switching emission on does not pay work done while it was off. Each payout is recorded exactly once: the
 * cursor moves in the same message as the payouts it covers, so a step cut short by the budget or an upgrade resumes
 * after the last recorded one. Returns whether settlement is left for a later step.
 */
export function stepEpochClose(store: RewardStores, now: bigint, outOfBudget: () => boolean = () => false): boolean {
  markEpochEnd(store, now);
  const found = store.epochClose();
  if (found === undefined) return false;
  const close: EpochClose = { ...found };
  const maps = bankOf(store, close.bank);
  let settled = false;
  try {
    if (close.emission === undefined)
      close.emission = close.terms === undefined ? [] : epochEmission(close.terms, creditsIn(maps, close.credits));
    while (close.paid < close.emission.length) {
      if (outOfBudget()) return true;
      const [runner, amount] = close.emission[close.paid] as [string, bigint];
      addPayout(
        store,
        now,
        close.paid,
        'emission',
        `epoch-${close.epoch}/${runner}`,
        payAccountOf(store, runner),
        amount,
        `epoch-${close.epoch}`
      );
      close.paid++;
    }
    for (const map of [maps.epochCreditOrder, maps.epochCreditOperatorOrder, maps.epochCredits, maps.epochCreditOperators] as Array<
      EpochCreditMaps[keyof EpochCreditMaps]
    >) {
      for (;;) {
        const keys: string[] = [];
        for (const [key] of map.entries()) {
          keys.push(key);
          if (keys.length >= CLEAR_CHUNK) break;
        }
        if (keys.length === 0) break;
        if (outOfBudget()) return true;
        for (const key of keys) map.delete(key);
      }
    }
    store.setEpochClose(undefined);
    settled = true;
    // An epoch that ended while this one settled is marked now (its own close is settled by the next steps).
    markEpochEnd(store, now);
    return store.epochClose() !== undefined;
  } finally {
    if (!settled) store.setEpochClose(close);
  }
}

/**
 * Closes the current epoch at once if it has ended: marks it and settles it without a budget (for tests and callers
 * that own their message; the canister settles in timer steps, stepEpochClose).
 */
export function closeEpoch(store: RewardStores, now: bigint): void {
  stepEpochClose(store, now);
  markEpochEnd(store, now);
  stepEpochClose(store, now);
}

/**
 * Credits many runners' protocol fees paid by one requester at once (a settled credit batch), with one write of the
 * epoch's record: like addAcceptedWork per runner, self-dealing excluded.
 */
export function addPaidFees(store: RewardStores, now: bigint, requester: string, fees: ReadonlyMap<string, bigint>): void {
  markEpochEnd(store, now);
  const work = { ...store.epochWork() };
  if (fees.size === 0 || work.terms?.emissionE8s === 0n) return;
  let changed = false;
  for (const [runner, fee] of fees) {
    if (fee <= 0n || isSelfDealing(store, requester, runner)) continue;
    if (creditPair(store, work, requester, runner, fee)) changed = true;
  }
  if (changed) store.setEpochWork(work);
}
