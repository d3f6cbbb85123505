import { findRunners, type FindRequest } from '../registry/discovery.js';
import { operatorOf } from '../registry/operators.js';
import { withinBudget } from './affordable.js';
import { DEFAULT_TASK_CONFIG, MAX_FAILURES, MAX_PREFERRED_RUNNERS } from './limits.js';
import type { Stores } from './store.js';
import type { OpenPricing, OpenTask, Task, TaskConfig } from './types.js';

/**
 * Paid routing: a queued task is offered first to the best-ranked eligible runners, the same ranking find_runners
 * gives (score, and the requester's affinity binding first), for `routingWindowNs`; then to every eligible runner.
 * The list is computed once, at submit, with the task's own request; a claim only checks membership in it (at most
 * MAX_PREFERRED_RUNNERS names on the task's heap entry), so claims stay as cheap as before.
 *
 * Submit ranks at most MAX_ROUTING_CANDIDATES of the model's runners (plus the requester's affinity binding): a window
 * of the per-model index that rotates with the task number, so that its cost does not grow with the runners (ranking
 * all 10,000 of a model cost ~99M instructions) and every runner is in some task's window. The model's proven top
 * (at most MAX_TOP_RUNNERS by record, kept by the discovery index) joins every window, so runners that only cost a
 * bond each dilute the window but never push the runners with the best paid history out of it.
 */

/** Most runners of the model one submit ranks for its preferred list (besides the affinity binding). */
export const MAX_ROUTING_CANDIDATES = 64;

/** The window of a config (configs stored before it existed get the default). */
export function routingWindowNs(config: Pick<TaskConfig, 'routingWindowNs'>): bigint {
  return config.routingWindowNs ?? DEFAULT_TASK_CONFIG.routingWindowNs;
}

/** How many runners a task with `redundancy` results is offered to first. */
export function preferredCount(redundancy: number): number {
  return Math.min(MAX_PREFERRED_RUNNERS, Math.max(3, 2 * redundancy));
}

/**
 * The runners to offer a new task to first, and until when; undefined (open to all at once) when the window is 0 or no
 * runner is eligible now. With `pricing` (a paid task's: affordable.ts `taskPricing`), only runners whose prices its
 * budget covers are eligible, the predicate a claim checks, so the window is never held by runners that cannot claim.
 */
export function preferredRunners(
  store: Stores,
  requester: string,
  now: bigint,
  request: FindRequest & { model: string },
  redundancy: number,
  taskNumber = 0n,
  pricing?: OpenPricing
): { preferred: string[]; openToAllAtNs: bigint } | undefined {
  const window = routingWindowNs(store.taskConfig());
  if (window <= 0n) return undefined;
  const start = Number(taskNumber % 1_000_000_007n) * MAX_ROUTING_CANDIDATES;
  const pool = store.index.windowFor(request.model, start, MAX_ROUTING_CANDIDATES);
  // The model's proven top runners are ranked whatever the window, so Sybils cannot crowd them out of most windows.
  for (const top of store.index.topFor(request.model)) if (!pool.includes(top)) pool.push(top);
  const bound = request.affinityKey === undefined ? undefined : store.affinity.runnerFor(requester, request.affinityKey);
  const boundRunner = bound === undefined ? undefined : store.index.get(bound);
  if (boundRunner !== undefined && !pool.includes(boundRunner)) pool.push(boundRunner);
  const found = findRunners(store, now, { ...request, limit: preferredCount(redundancy) }, requester, pool, withinBudget(pricing));
  if ('Err' in found || found.Ok.length === 0) return undefined;
  const preferred = [...new Set(found.Ok.map((c) => c.runnerId))];
  return { preferred, openToAllAtNs: now + window };
}

/** Whether `runner` may lease the task now: anyone once the window is over, before that only a preferred runner. */
export function offeredTo(open: OpenTask, runner: string, now: bigint): boolean {
  if (open.openToAllAtNs === undefined || now >= open.openToAllAtNs) return true;
  return open.preferred?.includes(runner) === true;
}

/**
 * A preferred runner failed the task (or let its lease expire) inside the routing window: the window closes now, so
 * preferred identities that fail in turn cannot keep the task from every other eligible runner.
 */
export function openOnPreferredFailure(task: Task, runner: string, now: bigint): void {
  if (task.openToAllAtNs !== undefined && now < task.openToAllAtNs && task.preferred?.includes(runner) === true) task.openToAllAtNs = now;
}

/**
 * Whether a queued task is given up: MAX_FAILURES distinct (effective) operators failed it, and nobody holds a lease on
 * it or returned a result. One operator's identities count once, so they cannot kill a task by failing it in turn: a
 * failure counts the operator its lease recorded (the runner's current one for failures stored before), and a runner
 * counts as the operator of its first failure, so naming another operator between failures makes it no new operator.
 */
export function givenUp(store: Stores, task: Task): boolean {
  if (task.state !== 'queued' || task.leases.length > 0 || task.results.length > 0 || task.failures.length < MAX_FAILURES) return false;
  const operatorByRunner = new Map<string, string>();
  for (const f of task.failures)
    if (!operatorByRunner.has(f.runner)) operatorByRunner.set(f.runner, f.operator ?? operatorOf(store, f.runner));
  return new Set(operatorByRunner.values()).size >= MAX_FAILURES;
}
