import { STALE_ESCROW_NS } from './limits.js';
import type { Stores } from './store.js';
import type { Task } from './types.js';

/** Escrows one retry run sends at most. */
export const ESCROW_RETRIES_PER_RUN = 64;

/**
 * The escrows to retry at `now`: tasks still `escrowing` whose retry time has come (their reply was lost: the callback
 * trapped, or an upgrade came between). Walks only the escrow index of the open tasks (open-tasks.ts), earliest first,
 * reads only those tasks (without their input), and pushes each one's retry time back by STALE_ESCROW_NS before it is
 * returned, so a retry whose reply is lost again is retried later, not on every run. `skip` passes over escrows whose
 * call is still awaiting its reply.
 */
export function staleEscrows(
  store: Stores,
  now: bigint,
  max = ESCROW_RETRIES_PER_RUN,
  skip: (id: string) => boolean = () => false
): Task[] {
  const stale: Task[] = [];
  let after: string | undefined;
  for (let due = store.open.nextStaleEscrow(now); due !== undefined && stale.length < max; due = store.open.nextStaleEscrow(now, after)) {
    after = due.key;
    if (skip(due.id)) continue;
    const open = store.open.get(due.id);
    const task = store.taskWithoutInput(due.id);
    if (open === undefined) continue;
    store.open.set(due.id, { ...open, escrowRetryAtNs: now + STALE_ESCROW_NS });
    if (task !== undefined && task.state === 'escrowing') stale.push(task);
  }
  return stale;
}

/**
 * Whether a retried escrow's refusal proves the first attempt never went through, so that the task may be dropped.
 * The ledger checks its deduplication before balances and allowances, and a retry repeats the first attempt's memo and
 * created_at_time: had that attempt moved the money, the ledger would answer `Duplicate`. `TooOld` (the window has
 * passed), `CreatedInFuture`, `TemporarilyUnavailable` and `GenericError` prove nothing, and neither does a rejected
 * call: the task stays `escrowing` and is tried again later, so money that moved is never left without its task.
 */
export function retryRefusalIsFinal(error: { [kind: string]: unknown }): boolean {
  return 'InsufficientFunds' in error || 'InsufficientAllowance' in error || 'BadFee' in error || 'BadBurn' in error;
}
