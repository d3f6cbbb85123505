import { requireAdmin } from '../registry/access.js';
import { err, ok, type Result } from '../registry/errors.js';
import { pageOf, type Page, type PageRequest } from '../registry/pagination.js';
import type { RegistryStore } from '../registry/store.js';
import { getPayout } from './outbox.js';
import { normalizePayout, payoutState, queueKey } from './payout-schedule.js';
import type { RewardStore } from './store.js';
import type { Payout } from './types.js';

/** What list_payouts shows: every payout owed, only those still retried (`pending`), or only `stuck` ones. */
export interface PayoutFilter {
  state?: string;
}

const PAYOUT_STATES = ['pending', 'stuck'];

/**
 * One page of payouts in id order (task id, then kind and account), read from the outbox and never more than one
 * bounded scan (pagination.ts): a listing never traps, however many payouts wait.
 */
export function listPayouts(store: Pick<RewardStore, 'payouts'>, filter: PayoutFilter, page: PageRequest): Result<Page<Payout>> {
  const state = filter.state;
  if (state !== undefined && !PAYOUT_STATES.includes(state))
    return err({ InvalidArgument: { field: 'state', reason: `must be one of ${PAYOUT_STATES.join(' | ')}` } });
  const result = pageOf(store.payouts.entries(page.after), page, (p) => state === undefined || payoutState(p) === state);
  if ('Err' in result) return result;
  return ok({ ...result.Ok, items: result.Ok.items.map(normalizePayout) });
}

/**
 * An admin sends a payout again now: a stuck one returns to the queue with a fresh attempt budget (after the account
 * was fixed, or to reconcile by hand); a pending one skips its backoff. Its `created_at_time` and memo are unchanged,
 * so a transfer that already happened comes back `Duplicate`, never a second payment.
 */
export function retryPayout(
  store: Pick<RewardStore, 'payouts' | 'payoutQueue'> & RegistryStore,
  caller: string,
  id: string,
  nowNs: bigint
): Result<Payout> {
  const denied = requireAdmin(store, caller);
  if (denied !== undefined) return err(denied);
  const payout = getPayout(store, id);
  if (payout === undefined) return err({ NotFound: { kind: { Payout: null }, id } });
  if (payout.stuck !== true) store.payoutQueue.delete(queueKey(payout));
  const next: Payout = { ...payout, attempts: 0, nextAttemptNs: nowNs };
  delete next.stuck;
  store.payouts.set(id, next);
  store.payoutQueue.set(queueKey(next), id);
  return ok(next);
}
