import { performanceCounter, Principal } from 'azle';

import { listTasks, openPlaces, MAX_CLAIMABLE_PAGE, type Stores, type Task } from '../../src/core/tasks/index.js';

/** The task read methods' bodies (list_claimable, list_tasks): Candid values in, Candid values out. */
type Opt<T> = [] | [T];
const opt = <T>(value: T | undefined): Opt<T> => (value === undefined ? [] : [value]);
const some = <T>(value: Opt<T>): T | undefined => value[0];

export interface TaskFilterArgs {
  requester: Opt<Principal>;
  runner: Opt<Principal>;
  state: Opt<string>;
}

export interface PageArgs {
  after: Opt<string>;
  limit: Opt<number>;
}

/** Queued tasks `runner` could lease now, oldest first. */
export function claimable(store: Stores, runner: string, nowNs: bigint) {
  const out = [];
  for (const [id, open] of store.open.entries()) {
    if (open.state !== 'queued' || open.done.includes(runner) || open.leases.some((l) => l.runner === runner)) continue;
    const places = openPlaces(open, nowNs);
    if (places <= 0 || open.deadlineNs <= nowNs) continue;
    const task = store.tasks.get(id);
    if (task === undefined) continue;
    out.push({ id, model: open.model, reward_e8s: task.rewardE8s, deadline_ns: open.deadlineNs, redundancy: open.redundancy, open_places: places });
    if (out.length >= MAX_CLAIMABLE_PAGE) break;
  }
  return out;
}

export function taskListItemView(task: Task) {
  const runners = new Set([...task.leases.map((l) => l.runner), ...task.results.map((r) => r.runner), ...task.failures.map((f) => f.runner)]);
  return {
    id: task.id,
    requester: Principal.fromText(task.requester),
    state: task.state,
    model: task.request.model,
    reward_e8s: task.rewardE8s,
    redundancy: task.redundancy,
    created_at_ns: task.createdAtNs,
    deadline_ns: task.deadlineNs,
    runners: [...runners].map((r) => Principal.fromText(r)),
    results: task.results.length,
    input_tokens: task.results.reduce((sum, r) => sum + r.inputTokens, 0n),
    output_tokens: task.results.reduce((sum, r) => sum + r.outputTokens, 0n),
    review_ends_at_ns: opt(task.reviewEndsAtNs),
    outcome: opt(task.outcome)
  };
}

/** Instructions a list_tasks call may spend reading tasks before it returns what it has (the query limit is 5B). */
export const LIST_TASKS_BUDGET = 2_000_000_000n;

/** Tasks newest first, filtered by requester, runner and state. */
export function taskPage(store: Stores, filter: TaskFilterArgs, page: PageArgs) {
  const result = listTasks(
    store,
    { requester: some(filter.requester)?.toText(), runner: some(filter.runner)?.toText(), state: some(filter.state) },
    { after: some(page.after), limit: some(page.limit) },
    () => performanceCounter(0) > LIST_TASKS_BUDGET
  );
  if ('Err' in result) return result;
  return { Ok: { items: result.Ok.items.map(taskListItemView), next: opt(result.Ok.next) } };
}
