import { ANONYMOUS_PRINCIPAL, err, ok, type Result } from '../registry/errors.js';
import { requiredBond, slashBond, voteWeight } from '../rewards/bonds.js';
import { addAcceptedWork, isSelfDealing } from '../rewards/epochs.js';
import { operatorOf } from '../registry/operators.js';
import { recordIndependentAccepted, recordRejected, recordRequesterRejection, requesterRejectionWeight } from '../rewards/reputation.js';
import { perRunnerCostCapE8s } from '../rewards/pricing.js';
import { payWinners, refundTask } from '../rewards/task-payouts.js';
import { MAX_REASON_LENGTH } from './limits.js';
import { saveTask } from './save-task.js';
import type { Stores } from './store.js';
import type { Task } from './types.js';

/** Who stands behind a result in a vote, and how much it weighs. */
export interface Voter {
  operator: string;
  weight: bigint;
}

/** Voters as the registry weighs them: each runner's effective operator, its track record and bond (voteWeight). */
export function votersOf(store: Stores): (runner: string) => Voter {
  const required = requiredBond(store, store.taskConfig().ledger);
  return (runner) => ({
    operator: operatorOf(store, runner),
    weight: voteWeight(store.reputation.get(runner), store.bonds.get(runner), required)
  });
}

/**
 * The winning digest, if any. Each distinct operator votes once (its first result), with its runner's weight. A digest
 * wins when more than half of the required results come from distinct operators behind it AND it carries more than
 * half of the total weight: identities of one operator count once, and new identities agreeing on garbage do not
 * outweigh a runner with a record and a full bond (no winner: the task fails and is refunded).
 */
export function majorityDigest(
  task: Task,
  voterOf: (runner: string) => Voter = (runner) => ({ operator: runner, weight: 1n })
): string | undefined {
  const voted = new Set<string>();
  const tally = new Map<string, { operators: number; weight: bigint }>();
  let total = 0n;
  for (const r of task.results) {
    const voter = voterOf(r.runner);
    if (voted.has(voter.operator)) continue;
    voted.add(voter.operator);
    const t = tally.get(r.outputDigest) ?? { operators: 0, weight: 0n };
    tally.set(r.outputDigest, { operators: t.operators + 1, weight: t.weight + voter.weight });
    total += voter.weight;
  }
  for (const [digest, t] of tally) if (t.operators * 2 > task.redundancy && t.weight * 2n > total) return digest;
  return undefined;
}

/**
 * Records what the escrow owes the majority (if any): each winner its metered cost, the treasury its fee, the requester
 * the unused budget. Returns the winners and the protocol fee; no majority: nothing recorded, undefined.
 */
function payMajority(store: Stores, task: Task, now: bigint): { winners: string[]; protocolFeeE8s: bigint } | undefined {
  const digest = majorityDigest(task, votersOf(store));
  if (digest === undefined) return undefined;
  const majority = task.results.filter((r) => r.outputDigest === digest);
  const winners = majority.map((r) => r.runner);
  task.paidRunners = winners;
  const protocolFeeE8s = payWinners(
    store,
    now,
    { id: task.id, budgetE8s: task.rewardE8s, redundancy: task.redundancy, refundTo: task.refundTo },
    // A result stored before metering has no cost: it is paid the per-runner cap, as the flat reward was.
    majority.map((r) => ({
      runner: r.runner,
      costE8s: r.costE8s ?? perRunnerCostCapE8s(store.taskConfig(), task.rewardE8s, task.redundancy)
    }))
  );
  return { winners, protocolFeeE8s };
}

/**
 * Ends a task and records what the escrow owes: on `accepted` the majority runners their metered cost, the treasury
 * its fee and the requester the unused budget; on `rejected` the same (the requester read the work it rejects: README
 * "Review"), but the work earns no emission, no vote weight and no affinity; otherwise, or without a majority, the
 * requester the whole budget. Payouts are recorded here, in the same message as the state change, and paid by
 * `duePayouts`.
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
  const paid = state === 'accepted' || state === 'rejected' ? payMajority(store, task, now) : undefined;
  if (paid === undefined) refundTask(store, now, task.id, task.refundTo, task.rewardE8s);
  else if (state === 'accepted') {
    const { winners, protocolFeeE8s } = paid;
    addAcceptedWork(store, now, task.requester, protocolFeeE8s, winners);
    // Vote weight grows only with work someone else paid a fee for (self-dealt completions would make it free).
    const independent = protocolFeeE8s > 0n ? winners.filter((runner) => !isSelfDealing(store, task.requester, runner)) : [];
    for (const runner of independent) recordIndependentAccepted(store, runner);
    // The requester's paid history, which its rejections weigh by.
    if (independent.length > 0) store.paidTasks.set(task.requester, (store.paidTasks.get(task.requester) ?? 0) + 1);
    // The session stays on the runner whose work was accepted (src/core/registry/affinity.ts), never on a mere report.
    const first = winners[0];
    if (task.request.affinityKey !== undefined && first !== undefined) store.affinity.bind(task.requester, task.request.affinityKey, first);
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
  const digest = majorityDigest(task, votersOf(store));
  if (digest === undefined) {
    settle(store, task, now, 'failed', 'the runners did not agree: no majority output');
    return;
  }
  punishOutvoted(store, task, now, digest);
  settle(store, task, now, 'accepted', outcome);
}

/** A runner whose output lost the vote against a majority of distinct operators counts as rejected, and its bond is slashed. */
function punishOutvoted(store: Stores, task: Task, now: bigint, digest: string): void {
  for (const r of task.results) {
    if (r.outputDigest === digest) continue;
    recordRejected(store, r.runner);
    slashBond(store, now, r.runner, store.taskConfig().treasury, 'lost vote');
  }
}

/**
 * The requester rejects during review. It read the output, so the work is paid as on acceptance (the majority its
 * metered cost, the treasury its fee, the rest refunded; no majority: all refunded) but earns no emission, vote weight
 * nor affinity. Each answering runner counts a rejection weighted by the requester's paid history (a fresh requester's
 * weighs a tenth); a result that lost the vote counts a whole one and is slashed, as on acceptance.
 */
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
  const digest = majorityDigest(task, votersOf(store));
  if (digest !== undefined) punishOutvoted(store, task, now, digest);
  const weight = requesterRejectionWeight(store.paidTasks.get(caller) ?? 0);
  for (const r of task.results) if (digest === undefined || r.outputDigest === digest) recordRequesterRejection(store, r.runner, weight);
  settle(store, task, now, 'rejected', `rejected by the requester: ${reason}`);
  return ok(task);
}
