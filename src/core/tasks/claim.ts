import { ANONYMOUS_PRINCIPAL, err, ok, type Result } from '../registry/errors.js';
import { matchingDeployment } from '../registry/discovery.js';
import { saveTask } from './save-task.js';
import type { Stores } from './store.js';
import type { Lease, OpenTask, Task } from './types.js';

function activeLeases(store: Stores, runner: string, model: string): number {
  let n = 0;
  for (const [, open] of store.open.entries()) if (open.model === model) for (const lease of open.leases) if (lease.runner === runner) n++;
  return n;
}

/** Places a runner could still lease: results still missing, minus leases running now. */
export function openPlaces(open: OpenTask, now: bigint): number {
  return open.redundancy - open.results - open.leases.filter((l) => l.expiresAtNs > now).length;
}

function claimable(open: OpenTask, runner: string, now: bigint): boolean {
  return (
    open.state === 'queued' &&
    open.deadlineNs > now &&
    !open.done.includes(runner) &&
    !open.leases.some((l) => l.runner === runner) &&
    openPlaces(open, now) > 0
  );
}

/**
 * A live runner leases a queued task it can serve (the given one, or the oldest it matches), within the slots of
 * the matching deployment. The lease ends at `leaseNs` or the task's deadline, whichever comes first.
 */
export function claimTask(store: Stores, runner: string, now: bigint, wanted?: string): Result<Task> {
  if (runner === ANONYMOUS_PRINCIPAL) return err({ AnonymousCaller: null });
  if (!store.runners.has(runner)) return err({ NotFound: { kind: { Runner: null }, id: runner } });
  const config = store.taskConfig();
  let capacityHit: number | undefined;
  const candidates: Array<[string, OpenTask]> = [];
  if (wanted !== undefined) {
    const open = store.open.get(wanted);
    if (open === undefined) return err({ NotFound: { kind: { Task: null }, id: wanted } });
    const task = store.tasks.get(wanted);
    const full = task !== undefined && task.leases.filter((l) => l.expiresAtNs > now).length + task.results.length >= task.redundancy;
    if (!claimable(open, runner, now) || full) return err({ TaskNotClaimable: { task: wanted, state: open.state } });
    candidates.push([wanted, open]);
  } else {
    for (const entry of store.open.entries()) if (claimable(entry[1], runner, now)) candidates.push(entry);
  }
  for (const [id, open] of candidates) {
    const task = store.tasks.get(id);
    if (task === undefined) continue;
    const deployment = matchingDeployment(store, now, runner, task.request);
    if (deployment === undefined) {
      if (wanted !== undefined) return err({ NotServing: { model: open.model } });
      continue;
    }
    if (activeLeases(store, runner, open.model) >= deployment.slots) {
      capacityHit = deployment.slots;
      continue;
    }
    if (task.leases.filter((l) => l.expiresAtNs > now).length + task.results.length >= task.redundancy) continue;
    const lease: Lease = {
      runner,
      claimedAtNs: now,
      expiresAtNs: now + config.leaseNs < task.deadlineNs ? now + config.leaseNs : task.deadlineNs
    };
    task.leases.push(lease);
    saveTask(store, task);
    return ok(task);
  }
  if (capacityHit !== undefined) return err({ NoCapacity: { slots: capacityHit } });
  return err({ NotFound: { kind: { ClaimableTask: null }, id: wanted ?? '' } });
}
