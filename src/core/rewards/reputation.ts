import type { RegistryStore } from '../registry/store.js';
import type { Reputation } from '../registry/types.js';

type ReputationStore = Pick<RegistryStore, 'reputation' | 'index'>;

function bump(store: ReputationStore, runner: string, change: (r: Reputation) => void): void {
  const current = store.reputation.get(runner) ?? { completed: 0, failed: 0, rejected: 0, expiredLeases: 0, latencyMsEma: 0 };
  const next = { ...current };
  change(next);
  store.reputation.set(runner, next);
  store.index.noteRecord(runner, next);
}

/**
 * A result came in: one more completed task, and the latency the registry measured (lease to result, at least 1 ms)
 * joins the latency EMA (weight 0.2).
 */
export function recordCompleted(store: ReputationStore, runner: string, measuredMs: number): void {
  const latencyMs = Math.max(1, measuredMs);
  bump(store, runner, (r) => {
    r.completed += 1;
    r.latencyMsEma = r.latencyMsEma === 0 ? latencyMs : Math.round(0.8 * r.latencyMsEma + 0.2 * latencyMs);
  });
}

/** The runner gave up its lease (`fail_task`): it counts as a failure, so killing tasks costs reputation. */
export function recordFailed(store: ReputationStore, runner: string): void {
  bump(store, runner, (r) => {
    r.failed += 1;
  });
}

/**
 * The requester rejected the runner's output, or it disagreed with the majority: the result, counted as completed
 * when it came in, now counts as rejected instead, so a caught runner's success rate falls (below 0.5 from no
 * history) rather than keeping one success for every failure.
 */
export function recordRejected(store: ReputationStore, runner: string): void {
  bump(store, runner, (r) => {
    if (r.completed > 0) r.completed -= 1;
    r.rejected += 1;
  });
}

/**
 * The runner's result is in a dispute (the task's results agreed on no majority): the completion it counted when it
 * came in is taken back, so a griefer that disagrees on purpose gains nothing.
 */
export function recordDisputed(store: ReputationStore, runner: string): void {
  bump(store, runner, (r) => {
    if (r.completed > 0) r.completed -= 1;
  });
}

/**
 * The requester rejected the runner's (paid) result: it no longer counts as completed, whoever rejected it, and it
 * counts `weightMilli` thousandths of a rejection; every full thousand moves into `rejected`, the remainder waits on
 * the record (ranking counts it as a fraction of a failure).
 */
export function recordRequesterRejection(store: ReputationStore, runner: string, weightMilli: number): void {
  bump(store, runner, (r) => {
    if (r.completed > 0) r.completed -= 1;
    const pending = (r.rejectionMilli ?? 0) + weightMilli;
    r.rejected += Math.floor(pending / 1_000);
    r.rejectionMilli = pending % 1_000;
  });
}

/** The runner's lease ended without a result. */
export function recordExpiredLease(store: ReputationStore, runner: string): void {
  bump(store, runner, (r) => {
    r.expiredLeases += 1;
  });
}

/** A result was accepted and paid for an independent, fee-paying requester: it weighs in redundancy votes. */
export function recordIndependentAccepted(store: ReputationStore, runner: string): void {
  bump(store, runner, (r) => {
    r.independentAccepted = (r.independentAccepted ?? 0) + 1;
  });
}
