import { closeEpoch } from '../rewards/epochs.js';
import { recordExpiredLease } from '../rewards/reputation.js';
import { MAX_FAILURES } from './limits.js';
import { saveTask } from './save-task.js';
import { finishReview, settle } from './settlement.js';
import type { Stores } from './store.js';

/** Tasks a timer tick looks at, so that one tick stays far below the instruction limit. */
export const MAX_TASKS_PER_TICK = 500;

/**
 * Time-driven transitions, run by the canister's timer: expired leases return to the queue (and count against
 * their runner), past-deadline tasks are refunded, finished reviews accept, too many failures refund, and a
 * finished epoch mints its emission.
 */
export function tick(store: Stores, now: bigint): { changed: number } {
  let changed = 0;
  let seen = 0;
  for (const [id, open] of [...store.open.entries()]) {
    if (open.state === 'escrowing') continue;
    const dueLease = open.leases.some((l) => l.expiresAtNs <= now);
    const due =
      dueLease ||
      open.deadlineNs <= now ||
      (open.reviewEndsAtNs !== undefined && open.reviewEndsAtNs <= now) ||
      open.done.length >= open.redundancy;
    if (!due) continue;
    // Only due tasks count against the bound, so a task behind many idle ones is still reached.
    if (seen++ >= MAX_TASKS_PER_TICK) break;
    const task = store.tasks.get(id);
    if (task === undefined) continue;
    const before = `${task.state}/${task.leases.length}`;
    for (const lease of task.leases) {
      if (lease.expiresAtNs > now) continue;
      recordExpiredLease(store, lease.runner);
      task.failures.push({ runner: lease.runner, reason: 'lease expired', atNs: now });
    }
    task.leases = task.leases.filter((l) => l.expiresAtNs > now);
    if (task.state === 'review' && task.reviewEndsAtNs !== undefined && task.reviewEndsAtNs <= now)
      finishReview(store, task, now, 'accepted: the review window ended without a decision');
    else if (task.state === 'queued' && task.failures.length >= MAX_FAILURES && task.leases.length === 0 && task.results.length === 0)
      settle(store, task, now, 'failed', `failed ${task.failures.length} times`);
    else if (task.state === 'queued' && task.deadlineNs <= now)
      settle(store, task, now, 'expired', 'the deadline passed before enough results came in');
    else saveTask(store, task);
    if (`${task.state}/${task.leases.length}` !== before) changed++;
  }
  closeEpoch(store, now);
  return { changed };
}
