import { performanceCounter, Principal } from 'azle';

import { claimableFor, listTasks, openPlaces, MAX_CLAIMABLE_PAGE, type Stores, type TaskSummary } from '../../src/core/tasks/index.js';
import { fromOpt as some, opt } from '../../src/interface/candid.js';
import type { PageRequest, Result, TaskFilter, TaskListItem, TaskPage, ClaimableTask } from '../../src/interface/registry/index.js';

/** The task read methods' bodies (list_claimable, list_tasks): Candid values in, Candid values out. */

/**
 * Instructions a list_tasks or list_claimable call may spend reading tasks before it returns what it has (the query
 * limit is 5B).
 */
export const LIST_TASKS_BUDGET = 2_000_000_000n;

/** Queued tasks `runner` could lease now, oldest first, from the claimable index of the models it serves. */
export function claimable(store: Stores, runner: string, nowNs: bigint): ClaimableTask[] {
  const out: ClaimableTask[] = [];
  const outOfBudget = (): boolean => performanceCounter(0) > LIST_TASKS_BUDGET;
  for (const [id, open] of claimableFor(store, runner, nowNs, MAX_CLAIMABLE_PAGE, outOfBudget)) {
    // The summary, not the task: reading a task back parses its input (up to 256 KiB).
    const rewardE8s = (store.summaries.get(id) ?? store.tasks.get(id))?.rewardE8s;
    if (rewardE8s === undefined) continue;
    out.push({
      id,
      model: open.model,
      reward_e8s: rewardE8s,
      deadline_ns: open.deadlineNs,
      redundancy: open.redundancy,
      open_places: openPlaces(open, nowNs)
    });
    // A task stored before summaries existed is read whole: stop before the query limit, as list_tasks does.
    if (outOfBudget()) break;
  }
  return out;
}

export function taskListItemView(summary: TaskSummary): TaskListItem {
  return {
    id: summary.id,
    requester: Principal.fromText(summary.requester),
    state: summary.state,
    model: summary.model,
    reward_e8s: summary.rewardE8s,
    redundancy: summary.redundancy,
    created_at_ns: summary.createdAtNs,
    deadline_ns: summary.deadlineNs,
    runners: summary.runners.map((r) => Principal.fromText(r)),
    results: summary.results,
    input_tokens: summary.inputTokens,
    output_tokens: summary.outputTokens,
    review_ends_at_ns: opt(summary.reviewEndsAtNs),
    outcome: opt(summary.outcome)
  };
}

/** Tasks newest first, filtered by requester, runner and state. */
export function taskPage(store: Stores, filter: TaskFilter, page: PageRequest): Result<TaskPage> {
  const result = listTasks(
    store,
    { requester: some(filter.requester)?.toText(), runner: some(filter.runner)?.toText(), state: some(filter.state) },
    { after: some(page.after), limit: some(page.limit) },
    () => performanceCounter(0) > LIST_TASKS_BUDGET
  );
  if ('Err' in result) return result;
  return { Ok: { items: result.Ok.items.map(taskListItemView), next: opt(result.Ok.next) } };
}
