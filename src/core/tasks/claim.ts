import { ANONYMOUS_PRINCIPAL, err, ok, type Result } from '../registry/errors.js';
import { matchingDeployment, type FindRequest } from '../registry/discovery.js';
import { operatorOf } from '../registry/operators.js';
import { priceFor, withinBudget } from './affordable.js';
import { neededResults } from './escalation.js';
import { offeredTo } from './routing.js';
import type { IndexedDeployment } from '../registry/discovery-index.js';
import { saveTask } from './save-task.js';
import type { Stores } from './store.js';
import type { Lease, OpenTask, Task } from './types.js';

/**
 * Candidates a claim or list_claimable may pass over (tasks this runner already worked on, or whose other requirements
 * its deployment does not meet) before it stops: with the per-model index a skip costs a heap lookup, never a task read.
 */
export const MAX_CLAIM_SKIPS = 200;

/** Places a runner could still lease: results still missing, minus leases running now. */
export function openPlaces(open: OpenTask, now: bigint): number {
  return open.redundancy - open.results - open.leases.filter((l) => l.expiresAtNs > now).length;
}

/**
 * Whether `runner` is the requester's own for an escalation's places: the requester itself, or a runner it operates
 * (README "States": escalation places go to runners unrelated to the requester).
 */
function isRequestersOwn(open: OpenTask, runner: string, operatorOf?: (runner: string) => string): boolean {
  if (open.excluded === undefined) return false;
  return open.excluded.includes(runner) || (operatorOf !== undefined && open.excluded.includes(operatorOf(runner)));
}

function claimable(open: OpenTask, runner: string, now: bigint, operatorOf?: (runner: string) => string): boolean {
  return (
    open.state === 'queued' &&
    !isRequestersOwn(open, runner, operatorOf) &&
    open.deadlineNs > now &&
    offeredTo(open, runner, now) &&
    !open.done.includes(runner) &&
    !open.leases.some((l) => l.runner === runner) &&
    openPlaces(open, now) > 0 &&
    !operatorTaken(open, runner, operatorOf)
  );
}

/**
 * A redundant task is leased at most once per (effective) operator, so one operator's identities cannot vote twice:
 * an operator counts if it stands behind a runner that worked on the task now, or stood behind it when it leased (a
 * runner that left, and so became its own operator, or that named another operator since, still counts for it).
 */
function operatorTaken(open: OpenTask, runner: string, operatorOf?: (runner: string) => string): boolean {
  if (open.redundancy <= 1 || operatorOf === undefined) return false;
  const mine = operatorOf(runner);
  return (
    open.done.some((r) => operatorOf(r) === mine) ||
    (open.doneOperators?.includes(mine) ?? false) ||
    open.leases.some((l) => l.operator === mine || operatorOf(l.runner) === mine)
  );
}

/** The models a runner's deployments serve, each once. */
function servedModels(store: Stores, runner: string): string[] {
  return [...new Set(store.index.get(runner)?.deployments.map((d) => d.modelId) ?? [])];
}

/** The ids of the claimable index's tasks for `models`, merged oldest first (task ids sort in creation order). */
function* mergedIds(store: Stores, models: string[]): Iterable<string> {
  const heads = models.map((model) => {
    const ids = store.open.claimableIds(model)[Symbol.iterator]();
    return { ids, next: ids.next() };
  });
  for (;;) {
    let best: (typeof heads)[number] | undefined;
    for (const head of heads) if (!head.next.done && (best === undefined || head.next.value < (best.next.value as string))) best = head;
    if (best === undefined || best.next.done) return;
    const id = best.next.value;
    best.next = best.ids.next();
    yield id;
  }
}

/**
 * Open tasks `runner` could lease now, oldest first, from the claimable index of the models it serves, whose budget
 * covers one of its deployments' prices: other models' tasks are never looked at, and no task is read. Stops after `limit` tasks, MAX_CLAIM_SKIPS passed-over ones, or
 * when `outOfBudget` says so.
 */
export function claimableFor(
  store: Stores,
  runner: string,
  now: bigint,
  limit: number,
  outOfBudget: () => boolean = () => false
): Array<[string, OpenTask]> {
  const out: Array<[string, OpenTask]> = [];
  const deployments = store.index.get(runner)?.deployments ?? [];
  // A task whose budget covers none of the runner's prices for that model is not offered (claim_task would refuse it).
  const affordable = (open: OpenTask): boolean => deployments.some((d) => d.modelId === open.model && withinBudget(open.pricing)(d));
  let skips = 0;
  for (const id of mergedIds(store, servedModels(store, runner))) {
    const open = store.open.get(id);
    if (open !== undefined && claimable(open, runner, now, (r) => operatorOf(store, r)) && affordable(open)) out.push([id, open]);
    else skips++;
    if (out.length >= limit || skips >= MAX_CLAIM_SKIPS || outOfBudget()) break;
  }
  return out;
}

/** What the task asks of a deployment; an open task stored before `filters` existed is read to learn it. */
function requestOf(store: Stores, id: string, open: OpenTask): (FindRequest & { model: string }) | undefined {
  if (open.filters !== undefined) return { ...open.filters, model: open.model };
  return store.taskWithoutInput(id)?.request;
}

function lease(store: Stores, task: Task, runner: string, now: bigint, deployment: IndexedDeployment): Task {
  const leaseNs = store.taskConfig().leaseNs;
  const next: Lease = {
    runner,
    claimedAtNs: now,
    expiresAtNs: now + leaseNs < task.deadlineNs ? now + leaseNs : task.deadlineNs,
    prices: { inputPerMillion: deployment.inputPrice, outputPerMillion: deployment.outputPrice },
    servedContext: deployment.servedContext,
    operator: operatorOf(store, runner)
  };
  task.leases.push(next);
  saveTask(store, task);
  return task;
}

const full = (task: Task, now: bigint): boolean =>
  task.leases.filter((l) => l.expiresAtNs > now).length + task.results.length >= neededResults(task);

/**
 * A live runner leases a queued task it can serve (the given one, or the oldest it matches) and whose budget covers
 * the deployment's prices for the task's most tokens, within the slots of the matching deployment; the lease keeps
 * those prices, which the runner is paid by. The lease ends at `leaseNs` or the task's deadline, whichever comes first.
 *
 * Without an id the claim walks the claimable index of the models the runner serves, checks each candidate on its heap
 * entry (at most MAX_CLAIM_SKIPS passed over, within `outOfBudget`) and reads only the task it leases: its cost does not
 * depend on how many tasks other models have queued, nor how large their inputs are.
 */
export function claimTask(
  store: Stores,
  runner: string,
  now: bigint,
  wanted?: string,
  outOfBudget: () => boolean = () => false
): Result<Task> {
  if (runner === ANONYMOUS_PRINCIPAL) return err({ AnonymousCaller: null });
  if (!store.runners.has(runner)) return err({ NotFound: { kind: { Runner: null }, id: runner } });
  if (wanted !== undefined) {
    const open = store.open.get(wanted);
    if (open === undefined) return err({ NotFound: { kind: { Task: null }, id: wanted } });
    if (open.state === 'queued' && isRequestersOwn(open, runner, (r) => operatorOf(store, r)))
      return err({ Unauthorized: { reason: "an escalation's places are not open to the requester's own runners or operators" } });
    const task = store.tasks.get(wanted);
    if (!claimable(open, runner, now, (r) => operatorOf(store, r)) || task === undefined || full(task, now))
      return err({ TaskNotClaimable: { task: wanted, state: open.state } });
    const serving = matchingDeployment(store, now, runner, task.request);
    if (serving === undefined) return err({ NotServing: { model: open.model } });
    const deployment = matchingDeployment(store, now, runner, task.request, withinBudget(open.pricing));
    if (deployment === undefined && open.pricing !== undefined)
      return err({ PriceAboveBudget: { task: wanted, max_cost_e8s: priceFor(open.pricing, serving), cap_e8s: open.pricing.costCapE8s } });
    if (deployment === undefined) return err({ NotServing: { model: open.model } });
    if (store.open.leaseCount(runner, open.model) >= deployment.slots) return err({ NoCapacity: { slots: deployment.slots } });
    return ok(lease(store, task, runner, now, deployment));
  }
  let capacityHit: number | undefined;
  let skips = 0;
  for (const id of mergedIds(store, servedModels(store, runner))) {
    if (skips >= MAX_CLAIM_SKIPS || outOfBudget()) break;
    const open = store.open.get(id);
    const request =
      open !== undefined && claimable(open, runner, now, (r) => operatorOf(store, r)) ? requestOf(store, id, open) : undefined;
    const deployment =
      open === undefined || request === undefined ? undefined : matchingDeployment(store, now, runner, request, withinBudget(open.pricing));
    if (open === undefined || deployment === undefined) {
      skips++;
      continue;
    }
    if (store.open.leaseCount(runner, open.model) >= deployment.slots) {
      capacityHit = deployment.slots;
      skips++;
      continue;
    }
    const task = store.tasks.get(id);
    if (task === undefined || full(task, now)) {
      skips++;
      continue;
    }
    return ok(lease(store, task, runner, now, deployment));
  }
  if (capacityHit !== undefined) return err({ NoCapacity: { slots: capacityHit } });
  return err({ NotFound: { kind: { ClaimableTask: null }, id: wanted ?? '' } });
}
