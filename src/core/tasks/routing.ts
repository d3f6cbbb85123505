import { findRunners, type FindRequest } from '../registry/discovery.js';
import { DEFAULT_TASK_CONFIG, MAX_PREFERRED_RUNNERS } from './limits.js';
import type { Stores } from './store.js';
import type { OpenTask, TaskConfig } from './types.js';

/**
 * Paid routing: a queued task is offered first to the best-ranked eligible runners, the same ranking find_runners
 * gives (score, and the requester's affinity binding first), for `routingWindowNs`; then to every eligible runner.
 * The list is computed once, at submit, with the task's own request; a claim only checks membership in it (at most
 * MAX_PREFERRED_RUNNERS names on the task's heap entry), so claims stay as cheap as before.
 */

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
 * runner is eligible now.
 */
export function preferredRunners(
  store: Stores,
  requester: string,
  now: bigint,
  request: FindRequest & { model: string },
  redundancy: number
): { preferred: string[]; openToAllAtNs: bigint } | undefined {
  const window = routingWindowNs(store.taskConfig());
  if (window <= 0n) return undefined;
  const found = findRunners(store, now, { ...request, limit: preferredCount(redundancy) }, requester);
  if ('Err' in found || found.Ok.length === 0) return undefined;
  const preferred = [...new Set(found.Ok.map((c) => c.runnerId))];
  return { preferred, openToAllAtNs: now + window };
}

/** Whether `runner` may lease the task now: anyone once the window is over, before that only a preferred runner. */
export function offeredTo(open: OpenTask, runner: string, now: bigint): boolean {
  if (open.openToAllAtNs === undefined || now >= open.openToAllAtNs) return true;
  return open.preferred?.includes(runner) === true;
}
