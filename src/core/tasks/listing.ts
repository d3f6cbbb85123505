import { err, ok, type Result } from '../registry/errors.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../registry/limits.js';
import type { Page, PageRequest } from '../registry/pagination.js';
import { taskId, type TaskStore } from './store.js';
import type { Task, TaskState, TaskSummary } from './types.js';

/** Task ids probed per call: gaps (escrows that failed) and rare filters end a page early with a cursor. */
export const MAX_TASK_SCAN = 1_000;

const TASK_STATES: ReadonlySet<string> = new Set<TaskState>(['escrowing', 'queued', 'review', 'accepted', 'rejected', 'failed', 'expired']);
const TASK_ID = /^task-(\d{12})$/;

export interface TaskFilter {
  requester?: string;
  /** A runner that leased, completed or failed the task. */
  runner?: string;
  state?: string;
}

/** The listing's view of a task (see TaskSummary): written with every task, rebuilt from it when missing. */
export function summarizeTask(task: Task): TaskSummary {
  const summary: TaskSummary = {
    id: task.id,
    requester: task.requester,
    state: task.state,
    model: task.request.model,
    rewardE8s: task.rewardE8s,
    redundancy: task.redundancy,
    createdAtNs: task.createdAtNs,
    deadlineNs: task.deadlineNs,
    runners: [
      ...new Set([...task.leases.map((l) => l.runner), ...task.results.map((r) => r.runner), ...task.failures.map((f) => f.runner)])
    ],
    results: task.results.length,
    inputTokens: task.results.reduce((sum, r) => sum + r.inputTokens, 0n),
    outputTokens: task.results.reduce((sum, r) => sum + r.outputTokens, 0n)
  };
  if (task.reviewEndsAtNs !== undefined) summary.reviewEndsAtNs = task.reviewEndsAtNs;
  if (task.outcome !== undefined) summary.outcome = task.outcome;
  return summary;
}

function matches(summary: TaskSummary, filter: TaskFilter): boolean {
  if (filter.requester !== undefined && summary.requester !== filter.requester) return false;
  if (filter.state !== undefined && summary.state !== filter.state) return false;
  return filter.runner === undefined || summary.runners.includes(filter.runner);
}

/** A task's summary; for a task stored before summaries existed, made from the task itself (costly, hence the budget). */
function summaryOf(store: TaskStore, id: string): TaskSummary | undefined {
  const summary = store.summaries.get(id);
  if (summary !== undefined) return summary;
  const task = store.tasks.get(id);
  return task === undefined ? undefined : summarizeTask(task);
}

function checkArgs(filter: TaskFilter, page: PageRequest): Result<{ limit: number; below: bigint | undefined }> {
  const limit = page.limit ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    return err({ InvalidArgument: { field: 'limit', reason: `must be between 1 and ${MAX_PAGE_SIZE}` } });
  }
  if (filter.state !== undefined && !TASK_STATES.has(filter.state)) {
    return err({ InvalidArgument: { field: 'state', reason: `must be one of ${[...TASK_STATES].join(', ')}` } });
  }
  if (page.after === undefined) return ok({ limit, below: undefined });
  const cursor = TASK_ID.exec(page.after);
  if (cursor === null)
    return err({ InvalidArgument: { field: 'after', reason: 'must be a task id (task-NNNNNNNNNNNN), the `next` of a previous page' } });
  return ok({ limit, below: BigInt(cursor[1] ?? '0') });
}

/**
 * Task summaries newest first. Task ids are numbered in creation order, so the walk goes down from the newest number
 * without an index; `after` continues below a previous page's `next`. At most MAX_TASK_SCAN ids are probed per call,
 * and the walk also stops (with a cursor) once `outOfBudget` says so: a task without a stored summary (written before
 * summaries existed) is read whole, which can cost a lot of instructions, and a query must end with a page, never
 * with the instruction limit.
 */
export function listTasks(
  store: TaskStore,
  filter: TaskFilter,
  page: PageRequest,
  outOfBudget: () => boolean = () => false
): Result<Page<TaskSummary>> {
  const checked = checkArgs(filter, page);
  if ('Err' in checked) return checked;
  const { limit, below } = checked.Ok;
  const newest = store.lastTaskNumber();
  const start = below === undefined ? newest : below - 1n < newest ? below - 1n : newest;
  const items: TaskSummary[] = [];
  let scanned = 0;
  for (let n = start; n >= 1n; n--) {
    const id = taskId(n);
    const summary = summaryOf(store, id);
    scanned++;
    if (summary !== undefined && matches(summary, filter)) items.push(summary);
    if (n > 1n && (items.length === limit || scanned >= MAX_TASK_SCAN || outOfBudget())) return ok({ items, next: id });
  }
  return ok({ items });
}
