import { ANONYMOUS_PRINCIPAL, err, ok, type Result } from '../registry/errors.js';
import { addAcceptedWork } from '../rewards/epochs.js';
import { recordRejected } from '../rewards/reputation.js';
import { perRunnerCostCapE8s } from '../rewards/pricing.js';
import { payWinners, refundTask } from '../rewards/task-payouts.js';
import { MAX_REASON_LENGTH } from './limits.js';
import { saveTask } from './save-task.js';
import type { Stores } from './store.js';
import type { Task } from './types.js';

/** The digest most results agree on, when more than half of the required results do. */
export function majorityDigest(task: Task): string | undefined {
  const counts = new Map<string, number>();
  for (const r of task.results) counts.set(r.outputDigest, (counts.get(r.outputDigest) ?? 0) + 1);
  for (const [digest, count] of counts) if (count * 2 > task.redundancy) return digest;
  return undefined;
}

/**
 * Ends a task and records what the escrow owes: on `accepted` the majority runners their metered cost, the treasury
 * its fee and the requester the unused budget; otherwise the requester the whole budget. Payouts are recorded here, in the same message as the state change, and paid by `duePayouts`.
 */
export function settle(
  store: Stores,
  task: Task,
  now: bigint,
  state: 'accepted' | 'rejected' | 'failed' | 'expired',
  outcome: string
): void {
  task.state = state;
  task.outcome = outcome;
  task.settledAtNs = now;
  task.leases = [];
  if (state === 'accepted') {
    const digest = majorityDigest(task);
    const majority = task.results.filter((r) => r.outputDigest === digest);
    const winners = majority.map((r) => r.runner);
    task.paidRunners = winners;
    payWinners(
      store,
      now,
      { id: task.id, budgetE8s: task.rewardE8s, redundancy: task.redundancy, refundTo: task.refundTo },
      // A result stored before metering has no cost: it is paid the per-runner cap, as the flat reward was.
      majority.map((r) => ({
        runner: r.runner,
        costE8s: r.costE8s ?? perRunnerCostCapE8s(store.taskConfig(), task.rewardE8s, task.redundancy)
      }))
    );
    addAcceptedWork(store, now, task.request.model, majority);
  } else {
    refundTask(store, now, task.id, task.refundTo, task.rewardE8s);
  }
  saveTask(store, task);
}

function requesterTask(store: Stores, caller: string, id: string): Result<Task> {
  if (caller === ANONYMOUS_PRINCIPAL) return err({ AnonymousCaller: null });
  const task = store.tasks.get(id);
  if (task === undefined) return err({ NotFound: { kind: { Task: null }, id } });
  if (task.requester !== caller) return err({ Unauthorized: { reason: 'only the requester may accept or reject a task' } });
  return ok(task);
}

/** The requester accepts during review; with redundancy, only the majority is paid, and no majority refunds. */
export function acceptTask(store: Stores, caller: string, now: bigint, id: string): Result<Task> {
  const found = requesterTask(store, caller, id);
  if ('Err' in found) return found;
  const task = found.Ok;
  if (task.state === 'accepted') return ok(task);
  if (task.state !== 'review') return err({ NotInReview: { task: id, state: task.state } });
  finishReview(store, task, now, 'accepted by the requester');
  return ok(task);
}

/** Ends a review as accepted: the majority is paid; no majority fails (and refunds) the task. */
export function finishReview(store: Stores, task: Task, now: bigint, outcome: string): void {
  const digest = majorityDigest(task);
  if (digest === undefined) {
    settle(store, task, now, 'failed', 'the runners did not agree: no majority output');
    return;
  }
  // A runner whose output disagrees with the majority is not paid and counts as rejected.
  for (const r of task.results) if (r.outputDigest !== digest) recordRejected(store, r.runner);
  settle(store, task, now, 'accepted', outcome);
}

/** The requester rejects during review: refunded, and every runner that answered counts a rejection. */
export function rejectTask(store: Stores, caller: string, now: bigint, id: string, reason: string): Result<Task> {
  const found = requesterTask(store, caller, id);
  if ('Err' in found) return found;
  const task = found.Ok;
  if (task.state === 'rejected') return ok(task);
  if (task.state !== 'review') return err({ NotInReview: { task: id, state: task.state } });
  // Once the window has ended the task is accepted, even if the timer has not run yet.
  if (task.reviewEndsAtNs !== undefined && task.reviewEndsAtNs <= now)
    return err({ ReviewEnded: { task: id, ended_at_ns: task.reviewEndsAtNs } });
  if (reason.length === 0 || reason.length > MAX_REASON_LENGTH)
    return err({ InvalidArgument: { field: 'reason', reason: `must be 1 to ${MAX_REASON_LENGTH} characters` } });
  for (const r of task.results) recordRejected(store, r.runner);
  settle(store, task, now, 'rejected', `rejected by the requester: ${reason}`);
  return ok(task);
}
