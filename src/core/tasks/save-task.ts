import { bump } from '../registry/quotas.js';
import { taskPricing } from './affordable.js';
import { neededResults } from './escalation.js';
import { STALE_ESCROW_NS } from './limits.js';
import type { RewardConfig } from '../rewards/types.js';
import { summarizeTask } from './listing.js';
import type { Stores } from './store.js';
import type { OpenTask, Task } from './types.js';

function openOf(task: Task, config: RewardConfig): OpenTask {
  const open: OpenTask = {
    model: task.request.model,
    state: task.state,
    deadlineNs: task.deadlineNs,
    redundancy: neededResults(task),
    leases: [...task.leases],
    done: [...task.results.map((r) => r.runner), ...task.failures.map((f) => f.runner)],
    results: task.results.length
  };
  const operators = [...task.results, ...task.failures].flatMap((r) => (r.operator === undefined ? [] : [r.operator]));
  if (operators.length > 0) open.doneOperators = operators;
  if (task.reviewEndsAtNs !== undefined) open.reviewEndsAtNs = task.reviewEndsAtNs;
  if (task.state === 'escrowing') open.escrowRetryAtNs = task.createdAtNs + STALE_ESCROW_NS;
  const { model: _model, ...filters } = task.request;
  if (task.state === 'queued') {
    open.filters = filters;
    if (task.preferred !== undefined && task.openToAllAtNs !== undefined) {
      open.preferred = task.preferred;
      open.openToAllAtNs = task.openToAllAtNs;
    }
    // The share of every result the task now waits for (escalations add places): settlement pays each of up to that
    // many winners at most this share, so a runner claims only what the budget can pay it (README "States").
    open.pricing = taskPricing(config, task, neededResults(task));
    // The operators of the results in are refused by the distinct-operator rule (claim.ts); the requester's here.
    if (task.extraResults !== undefined) open.excluded = [task.requester];
  }
  return open;
}

/** Writes a task with its listing summary, and keeps the heap queue (and so its indexes) in step with it. */
export function saveTask(store: Stores, task: Task): void {
  store.tasks.set(task.id, task);
  store.summaries.set(task.id, summarizeTask(task));
  if (task.state === 'accepted' || task.state === 'rejected' || task.state === 'failed' || task.state === 'expired') {
    // Settled: the task no longer counts against its requester's open-task quota.
    if (store.open.has(task.id)) bump(store, 'open-tasks', task.requester, -1, task.id);
    store.open.delete(task.id);
  } else store.open.set(task.id, openOf(task, store.taskConfig()));
}
