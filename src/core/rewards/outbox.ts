import type { RegistryStore } from '../registry/store.js';
import type { PayoutVerdict } from './payout-policy.js';
import type { RewardStore } from './store.js';
import type { PayAccount, Payout, PayoutKind } from './types.js';

/** The longest `lastError` a payout keeps (the ledger's GenericError message is not bounded). */
export const MAX_PAYOUT_ERROR_LENGTH = 512;

type Outbox = Pick<RewardStore, 'payouts'>;

/** Who is paid for a runner's work: its operator (from its manifest), or the runner itself if it left. */
export function payAccountOf(store: Pick<RegistryStore, 'runners'>, runner: string): PayAccount {
  return { owner: store.runners.get(runner)?.manifest.operator ?? runner };
}

/**
 * Records a payout, unless it is empty or already recorded. Each payout of one settlement gets its own
 * `created_at_time` (now + its sequence number), so two equal payouts to one account (two runners of one operator)
 * are two ledger transactions, not a duplicate.
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
  taskId?: string
): void {
  if (amountE8s <= 0n || store.payouts.has(id)) return;
  const payout: Payout = { id, kind, to, amountE8s, memo, createdAtNs: now + BigInt(sequence), attempts: 0 };
  if (taskId !== undefined) payout.taskId = taskId;
  store.payouts.set(id, payout);
}

/** Payouts still owed, oldest first. */
export function duePayouts(store: Outbox, max: number): Payout[] {
  const due: Payout[] = [];
  for (const [, payout] of store.payouts.entries()) if (payout.stuck !== true) due.push(payout);
  due.sort((a, b) => (a.createdAtNs < b.createdAtNs ? -1 : a.createdAtNs > b.createdAtNs ? 1 : a.id < b.id ? -1 : 1));
  return due.slice(0, max);
}

/** The ledger confirmed the transfer (or reported it a duplicate of one it made): the payout is done. */
export function payoutDone(store: Outbox, id: string): void {
  store.payouts.delete(id);
}

/**
 * The ledger can no longer tell whether this transfer happened (`TooOld`: its dedup window passed): retrying could pay
 * twice, so the payout is kept for an operator to reconcile and never retried automatically.
 */
export function payoutStuck(store: Outbox, id: string, error: string): void {
  const payout = store.payouts.get(id);
  if (payout !== undefined)
    store.payouts.set(id, { ...payout, attempts: payout.attempts + 1, stuck: true, lastError: error.slice(0, MAX_PAYOUT_ERROR_LENGTH) });
}

/** The attempt failed in a way that may pass later (ledger stopped, slow, throttled): keep it for the next tick. */
export function payoutRetry(store: Outbox, id: string, error: string): void {
  const payout = store.payouts.get(id);
  if (payout !== undefined)
    store.payouts.set(id, { ...payout, attempts: payout.attempts + 1, lastError: error.slice(0, MAX_PAYOUT_ERROR_LENGTH) });
}

/**
 * Applies the payout policy's verdict on one attempt. A `BadFee` retry first learns the ledger's new fee, so the next
 * attempt pays the net amount under it.
 */
export function recordVerdict<C extends { ledgerFeeE8s: bigint }>(
  store: Outbox & { taskConfig(): C; setTaskConfig(config: C): void },
  id: string,
  verdict: PayoutVerdict
): void {
  if (verdict.kind === 'paid') payoutDone(store, id);
  else if (verdict.kind === 'stuck') payoutStuck(store, id, verdict.error);
  else {
    if (verdict.ledgerFeeE8s !== undefined) store.setTaskConfig({ ...store.taskConfig(), ledgerFeeE8s: verdict.ledgerFeeE8s });
    payoutRetry(store, id, verdict.error);
  }
}
