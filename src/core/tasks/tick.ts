import { stepEpochClose } from '../rewards/epochs.js';
import { sweepRejectionPairs } from '../rewards/requester-weight.js';
import { bondLeaseExpired } from '../rewards/bonds.js';
import { recordExpiredLease } from '../rewards/reputation.js';
import { givenUp, openOnPreferredFailure } from './routing.js';
import { saveTask } from './save-task.js';
import { escalationTimedOut, finishReview, settle } from './settlement.js';
import type { Stores } from './store.js';

/** Tasks one timer tick visits at most; the instruction budget usually stops it first. */
export const MAX_TASKS_PER_TICK = 500;

export interface TickReport {
  /** Tasks whose state or leases changed. */
  changed: number;
  /** Due tasks visited. */
  visited: number;
  /** Whether due tasks were left for the next tick (the bound or the budget stopped this one). */
  more: boolean;
}

/**
 * Time-driven transitions, run by the canister's timer: expired leases return to the queue (and count against
 * their runner), past-deadline tasks are refunded, finished reviews accept, too many failures refund, and a
 * finished epoch mints its emission.
 *
 * An ended epoch is settled first, in budgeted steps from its persisted cursor (epochs.ts stepEpochClose), so that
 * neither a user's call nor a busy queue ever carries a whole epoch's close; then up to MAX_PAIRS_PER_SWEEP requester–
 * runner pairs of ended epochs are deleted (requester-weight.ts sweepRejectionPairs).
 *
 * The tick walks the wake-up index (open-tasks.ts) from its head, earliest first, and visits only tasks due at `now`;
 * every visit moves the task's entry past `now` or removes it, so the index's head is the persisted cursor: the next
 * tick resumes where this one stopped, and a task with nothing to do is not visited again before its next time. It
 * reads a task without its input, stops at MAX_TASKS_PER_TICK or once `outOfBudget` says so, and leaves the rest for
 * the next tick.
 */
export function tick(store: Stores, now: bigint, outOfBudget: () => boolean = () => false): TickReport {
  let changed = 0;
  let visited = 0;
  let more = stepEpochClose(store, now, outOfBudget);
  // Requester–runner pairs of ended epochs count as empty: deleted from the head of their map, bounded per tick.
  if (sweepRejectionPairs(store, now, outOfBudget)) more = true;
  let after: string | undefined;
  for (let due = store.open.nextDue(now); due !== undefined; due = store.open.nextDue(now, after)) {
    if (visited >= MAX_TASKS_PER_TICK || outOfBudget()) {
      more = true;
      break;
    }
    visited++;
    after = due.key;
    const task = store.taskWithoutInput(due.id);
    if (task === undefined) {
      // An open entry without its task (never written by this code): drop it rather than visit it on every tick.
      store.open.delete(due.id);
      continue;
    }
    const before = `${task.state}/${task.leases.length}`;
    for (const lease of task.leases) {
      if (lease.expiresAtNs > now) continue;
      recordExpiredLease(store, lease.runner);
      bondLeaseExpired(store, now, lease.runner, store.taskConfig().treasury);
      task.failures.push({
        runner: lease.runner,
        reason: 'lease expired',
        atNs: now,
        ...(lease.operator === undefined ? {} : { operator: lease.operator })
      });
      openOnPreferredFailure(task, lease.runner, now);
    }
    task.leases = task.leases.filter((l) => l.expiresAtNs > now);
    if (task.state === 'review' && task.reviewEndsAtNs !== undefined && task.reviewEndsAtNs <= now)
      finishReview(store, task, now, 'accepted: the review window ended without a decision');
    else if (givenUp(store, task)) settle(store, task, now, 'failed', `failed ${task.failures.length} times`);
    else if (task.state === 'queued' && task.deadlineNs <= now && task.extraResults !== undefined) escalationTimedOut(store, task, now);
    else if (task.state === 'queued' && task.deadlineNs <= now)
      settle(store, task, now, 'expired', 'the deadline passed before enough results came in');
    else saveTask(store, task);
    if (`${task.state}/${task.leases.length}` !== before) changed++;
  }
  return { changed, visited, more };
}
