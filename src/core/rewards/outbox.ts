import { operatorOf } from '../registry/operators.js';
import type { RegistryStore } from '../registry/store.js';
import type { PayoutVerdict } from './payout-policy.js';
import { MAX_PAYOUT_ATTEMPTS, normalizePayout, payoutBackoffNs, queueKey, queueKeyNs } from './payout-schedule.js';
import type { RewardStore } from './store.js';
import type { PayAccount, Payout, PayoutKind } from './types.js';

/** The longest `lastError` a payout keeps (the ledger's GenericError message is not bounded). */
export const MAX_PAYOUT_ERROR_LENGTH = 512;

type Outbox = Pick<RewardStore, 'payouts' | 'payoutQueue'>;

/**
 * Who is paid for a runner's work: its operator once that operator accepted being named (`accept_operator`), or the
 * runner itself (an operator that has not accepted, or a runner that left).
 */
export function payAccountOf(store: Pick<RegistryStore, 'runners'>, runner: string): PayAccount {
  return { owner: operatorOf(store, runner) };
}

/** The payout `id`, with defaults for fields a payout stored by an older version lacks. */
export function getPayout(store: Outbox, id: string): Payout | undefined {
  const payout = store.payouts.get(id);
  return payout === undefined ? undefined : normalizePayout(payout);
}

/** Stores `next` in place of `previous`, moving its due-index entry (none while stuck). */
function savePayout(store: Outbox, previous: Payout | undefined, next: Payout): void {
  if (previous !== undefined && previous.stuck !== true) store.payoutQueue.delete(queueKey(previous));
  store.payouts.set(next.id, next);
  if (next.stuck !== true) store.payoutQueue.set(queueKey(next), next.id);
}

/**
 * Records a payout, unless it is empty or already recorded. Each payout of one settlement gets its own
 * `created_at_time` (now + its sequence number), so two equal payouts to one account (two runners of one operator)
 * are two ledger transactions, not a duplicate. It is due at once.
 */
export function addPayout(
  store: Outbox,
  now: bigint,
  sequence: number,
  kind: PayoutKind,
  id: string,
  to: PayAccount,
  amountE8s: bigint,
  memo: string,
  taskId?: string,
  fromSubaccount?: string
): void {
  if (amountE8s <= 0n || store.payouts.has(id)) return;
  const createdAtNs = now + BigInt(sequence);
  const payout: Payout = { id, kind, to, amountE8s, memo, createdAtNs, attempts: 0 };
  if (taskId !== undefined) payout.taskId = taskId;
  if (fromSubaccount !== undefined) payout.fromSubaccount = fromSubaccount;
  savePayout(store, undefined, payout);
}

/**
 * Gives every payout that is not stuck its due-index entry, for payouts stored before the index existed (run once
 * when the store opens; cheap when nothing is missing). Returns how many it added.
 */
export function restorePayoutQueue(store: Outbox): number {
  let added = 0;
  for (const [, stored] of store.payouts.entries()) {
    const payout = normalizePayout(stored);
    if (payout.stuck === true || store.payoutQueue.has(queueKey(payout))) continue;
    store.payoutQueue.set(queueKey(payout), payout.id);
    added++;
  }
  return added;
}

/**
 * Due entries of one lane, earliest first, at most `max`. A payout never attempted (lane `a`) is always due, even one
 * whose `created_at_time` is a few ns ahead (its place in its settlement): it is paid in the pass that settles it.
 */
function dueIn(store: Outbox, lane: 'a' | 'b', nowNs: bigint, max: number): Payout[] {
  const due: Payout[] = [];
  if (max <= 0) return due;
  for (const [key, id] of store.payoutQueue.entries(`${lane}|`)) {
    if (!key.startsWith(`${lane}|`) || (lane === 'b' && queueKeyNs(key) > nowNs)) break;
    const payout = getPayout(store, id);
    // An entry whose payout is gone or moved is stale: drop it (it cannot be reached otherwise).
    if (payout === undefined || payout.stuck === true || queueKey(payout) !== key) store.payoutQueue.delete(key);
    else due.push(payout);
    if (due.length >= max) break;
  }
  return due;
}

/**
 * Payouts due at `nowNs`, at most `max`, read from the due index (never the whole outbox). New payouts come first;
 * retries get at most half of the pass while new payouts wait, and any room the new ones leave.
 */
export function duePayouts(store: Outbox, nowNs: bigint, max: number): Payout[] {
  const retries = dueIn(store, 'b', nowNs, Math.floor(max / 2));
  const fresh = dueIn(store, 'a', nowNs, max - retries.length);
  const more = dueIn(store, 'b', nowNs, max - fresh.length).slice(retries.length);
  return [...fresh, ...retries, ...more];
}

/**
 * Starts an attempt, before the ledger call: counts it and schedules the next one after the backoff, as if it will
 * fail. This is written before the call's await, so a reply callback that traps (its own state rolled back) still
 * leaves the payout counted and backed off. Returns false, marking it stuck, when it has had MAX_PAYOUT_ATTEMPTS.
 */
export function beginAttempt(store: Outbox, id: string, nowNs: bigint): boolean {
  const payout = getPayout(store, id);
  if (payout === undefined || payout.stuck === true) return false;
  if (payout.attempts >= MAX_PAYOUT_ATTEMPTS) {
    payoutStuck(store, id, `gave up after ${payout.attempts} attempts; last error: ${payout.lastError ?? 'no reply'}`);
    return false;
  }
  const attempts = payout.attempts + 1;
  savePayout(store, payout, { ...payout, attempts, nextAttemptNs: nowNs + payoutBackoffNs(attempts) });
  return true;
}

/** The ledger confirmed the transfer (or reported it a duplicate of one it made): the payout is done. */
export function payoutDone(store: Outbox, id: string): void {
  const payout = getPayout(store, id);
  if (payout === undefined) return;
  if (payout.stuck !== true) store.payoutQueue.delete(queueKey(payout));
  store.payouts.delete(id);
}

/**
 * The payout cannot be paid automatically: its account cannot be paid, the ledger can no longer tell whether the
 * transfer happened (`TooOld`: retrying could pay twice), or it failed too often. It is kept, listed as stuck, for an
 * admin to reconcile or retry (retryPayout).
 */
export function payoutStuck(store: Outbox, id: string, error: string): void {
  const payout = getPayout(store, id);
  if (payout !== undefined) savePayout(store, payout, { ...payout, stuck: true, lastError: error.slice(0, MAX_PAYOUT_ERROR_LENGTH) });
}

/**
 * The attempt failed in a way that may pass later (ledger stopped, slow, throttled): the attempt was counted and the
 * next one scheduled by beginAttempt; `dueNowNs` makes it due at once (after learning a new fee). After
 * MAX_PAYOUT_ATTEMPTS attempts the payout is stuck.
 */
export function payoutRetry(store: Outbox, id: string, error: string, dueNowNs?: bigint): void {
  const payout = getPayout(store, id);
  if (payout === undefined || payout.stuck === true) return;
  const lastError = error.slice(0, MAX_PAYOUT_ERROR_LENGTH);
  if (payout.attempts >= MAX_PAYOUT_ATTEMPTS) {
    payoutStuck(store, id, `gave up after ${payout.attempts} attempts; last error: ${lastError}`);
    return;
  }
  const next = { ...payout, lastError };
  if (dueNowNs !== undefined) next.nextAttemptNs = dueNowNs;
  savePayout(store, payout, next);
}

/**
 * Applies the payout policy's verdict on one attempt. A `BadFee` retry first learns the ledger's new fee, and is due
 * again at once (`nowNs`), so the next attempt pays the net amount under it.
 */
export function recordVerdict<C extends { ledgerFeeE8s: bigint }>(
  store: Outbox & { taskConfig(): C; setTaskConfig(config: C): void },
  id: string,
  verdict: PayoutVerdict,
  nowNs?: bigint
): void {
  if (verdict.kind === 'paid') payoutDone(store, id);
  else if (verdict.kind === 'stuck') payoutStuck(store, id, verdict.error);
  else if (verdict.ledgerFeeE8s !== undefined) {
    store.setTaskConfig({ ...store.taskConfig(), ledgerFeeE8s: verdict.ledgerFeeE8s });
    payoutRetry(store, id, verdict.error, nowNs);
  } else payoutRetry(store, id, verdict.error);
}
