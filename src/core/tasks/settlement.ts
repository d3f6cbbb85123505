import { ANONYMOUS_PRINCIPAL, err, ok, type Result } from '../registry/errors.js';
import { splitEmission, splitReward, workUnits } from './economics.js';
import { saveTask, type Stores } from './lifecycle.js';
import { MAX_FAILURES, MAX_REASON_LENGTH } from './limits.js';
import type { PayAccount, Payout, PayoutKind, Task } from './types.js';

/** Tasks a timer tick looks at, so that one tick stays far below the instruction limit. */
export const MAX_TASKS_PER_TICK = 500;

/** Who is paid for a task: the runner's operator (from its manifest), or the runner itself if it left. */
function payAccountOf(store: Stores, runner: string): PayAccount {
  return { owner: store.runners.get(runner)?.manifest.operator ?? runner };
}

/**
 * Records a payout. Each payout of one settlement gets its own `created_at_time` (now + its sequence number), so two
 * equal payouts to one account (two runners of one operator) are two ledger transactions, not a duplicate.
 */
function addPayout(
  store: Stores,
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

/** The digest most results agree on, when more than half of the required results do. */
export function majorityDigest(task: Task): string | undefined {
  const counts = new Map<string, number>();
  for (const r of task.results) counts.set(r.outputDigest, (counts.get(r.outputDigest) ?? 0) + 1);
  for (const [digest, count] of counts) if (count * 2 > task.redundancy) return digest;
  return undefined;
}

/**
 * Ends a task and records what the escrow owes: on `accepted` the majority runners and the treasury, otherwise the
 * requester. Payouts are recorded here, in the same message as the state change, and paid by `duePayouts`.
 */
export function settle(
  store: Stores,
  task: Task,
  now: bigint,
  state: 'accepted' | 'rejected' | 'failed' | 'expired',
  outcome: string
): void {
  const config = store.taskConfig();
  task.state = state;
  task.outcome = outcome;
  task.settledAtNs = now;
  task.leases = [];
  if (state === 'accepted') {
    const digest = majorityDigest(task);
    const winners = task.results.filter((r) => r.outputDigest === digest).map((r) => r.runner);
    task.paidRunners = winners;
    const split = splitReward(config, task.rewardE8s, winners);
    split.runners.forEach(([runner, amount], i) =>
      addPayout(store, now, i, 'runner', `${task.id}/runner/${runner}`, payAccountOf(store, runner), amount, task.id, task.id)
    );
    if (config.treasury !== undefined)
      addPayout(store, now, split.runners.length, 'treasury', `${task.id}/treasury`, config.treasury, split.treasury, task.id, task.id);
    // Accepted work counts toward the current epoch's emission (a finished epoch is closed first), sized by the
    // card of the deployment each runner served.
    closeEpoch(store, now);
    const work = store.epochWork();
    const units = new Map(work.units);
    for (const r of task.results) {
      if (r.outputDigest !== digest) continue;
      const served = store.runners.get(r.runner)?.manifest.deployments.find((d) => d.model.id === task.request.model);
      const card = served === undefined ? undefined : store.cards.get(`${served.model.id}@${served.model.digest}`)?.card;
      const parameters = card?.parameters.active ?? card?.parameters.total ?? 1e9;
      units.set(r.runner, (units.get(r.runner) ?? 0n) + workUnits(r.inputTokens, r.outputTokens, parameters));
    }
    store.setEpochWork({ epoch: work.epoch, units: [...units] });
  } else {
    addPayout(store, now, 0, 'refund', `${task.id}/refund`, task.refundTo, task.rewardE8s, task.id, task.id);
  }
  saveTask(store, task);
}

function requesterTask(store: Stores, caller: string, id: string): Result<Task> {
  if (caller === ANONYMOUS_PRINCIPAL) return err({ AnonymousCaller: null });
  const task = store.tasks.get(id);
  if (task === undefined) return err({ NotFound: { what: `task ${id}` } });
  if (task.requester !== caller) return err({ Unauthorized: { reason: 'only the requester may accept or reject a task' } });
  return ok(task);
}

/** The requester accepts during review; with redundancy, only the majority is paid, and no majority refunds. */
export function acceptTask(store: Stores, caller: string, now: bigint, id: string): Result<Task> {
  const found = requesterTask(store, caller, id);
  if ('Err' in found) return found;
  const task = found.Ok;
  if (task.state === 'accepted') return ok(task);
  if (task.state !== 'review') return err({ InvalidState: { state: task.state, expected: 'review' } });
  finishReview(store, task, now, 'accepted by the requester');
  return ok(task);
}

function finishReview(store: Stores, task: Task, now: bigint, outcome: string): void {
  const digest = majorityDigest(task);
  if (digest === undefined) {
    settle(store, task, now, 'failed', 'the runners did not agree: no majority output');
    return;
  }
  // A runner whose output disagrees with the majority is not paid and counts as rejected.
  for (const r of task.results) if (r.outputDigest !== digest) bumpRejected(store, r.runner);
  settle(store, task, now, 'accepted', outcome);
}

function bumpRejected(store: Stores, runner: string): void {
  const current = store.reputation.get(runner) ?? { completed: 0, failed: 0, rejected: 0, expiredLeases: 0, latencyMsEma: 0 };
  store.reputation.set(runner, { ...current, rejected: current.rejected + 1 });
}

/** The requester rejects during review: refunded, and every runner that answered counts a rejection. */
export function rejectTask(store: Stores, caller: string, now: bigint, id: string, reason: string): Result<Task> {
  const found = requesterTask(store, caller, id);
  if ('Err' in found) return found;
  const task = found.Ok;
  if (task.state === 'rejected') return ok(task);
  if (task.state !== 'review') return err({ InvalidState: { state: task.state, expected: 'review' } });
  // Once the window has ended the task is accepted, even if the timer has not run yet.
  if (task.reviewEndsAtNs !== undefined && task.reviewEndsAtNs <= now)
    return err({ InvalidState: { state: 'review ended', expected: 'review window open' } });
  if (reason.length === 0 || reason.length > MAX_REASON_LENGTH)
    return err({ InvalidArgument: { field: 'reason', reason: `must be 1 to ${MAX_REASON_LENGTH} characters` } });
  for (const r of task.results) bumpRejected(store, r.runner);
  settle(store, task, now, 'rejected', `rejected by the requester: ${reason}`);
  return ok(task);
}

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
      const current = store.reputation.get(lease.runner) ?? { completed: 0, failed: 0, rejected: 0, expiredLeases: 0, latencyMsEma: 0 };
      store.reputation.set(lease.runner, { ...current, expiredLeases: current.expiredLeases + 1 });
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

/** Mints the emission of every finished epoch, split by accepted work units. */
export function closeEpoch(store: Stores, now: bigint): void {
  const config = store.taskConfig();
  const epoch = now / config.epochNs;
  const work = store.epochWork();
  if (epoch <= work.epoch) return;
  splitEmission(config.emissionPerEpochE8s, work.units).forEach(([runner, amount], i) => {
    addPayout(store, now, i, 'emission', `epoch-${work.epoch}/${runner}`, payAccountOf(store, runner), amount, `epoch-${work.epoch}`);
  });
  store.setEpochWork({ epoch, units: [] });
}

/** Payouts still owed, oldest first. */
export function duePayouts(store: Stores, max: number): Payout[] {
  const due: Payout[] = [];
  for (const [, payout] of store.payouts.entries()) if (payout.stuck !== true) due.push(payout);
  due.sort((a, b) => (a.createdAtNs < b.createdAtNs ? -1 : a.createdAtNs > b.createdAtNs ? 1 : a.id < b.id ? -1 : 1));
  return due.slice(0, max);
}

/** The ledger confirmed the transfer (or reported it a duplicate of one it made): the payout is done. */
export function payoutDone(store: Stores, id: string): void {
  store.payouts.delete(id);
}

/**
 * The ledger can no longer tell whether this transfer happened (`TooOld`: its dedup window passed): retrying could pay
 * twice, so the payout is kept for an operator to reconcile and never retried automatically.
 */
export function payoutStuck(store: Stores, id: string, error: string): void {
  const payout = store.payouts.get(id);
  if (payout !== undefined)
    store.payouts.set(id, { ...payout, attempts: payout.attempts + 1, stuck: true, lastError: error.slice(0, MAX_REASON_LENGTH) });
}

/** The attempt failed in a way that may pass later (ledger stopped, slow, throttled): keep it for the next tick. */
export function payoutRetry(store: Stores, id: string, error: string): void {
  const payout = store.payouts.get(id);
  if (payout !== undefined)
    store.payouts.set(id, { ...payout, attempts: payout.attempts + 1, lastError: error.slice(0, MAX_REASON_LENGTH) });
}
