import { err, ok, type Result } from '../registry/errors.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../registry/limits.js';
import type { Page, PageRequest } from '../registry/pagination.js';
import { taskId, type TaskStore } from './store.js';
import type { Task, TaskState } from './types.js';

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

/** Whether `runner` took part in `task` (a lease, a result or a failure). */
export const involves = (task: Task, runner: string): boolean =>
  task.leases.some((l) => l.runner === runner) || task.results.some((r) => r.runner === runner) || task.failures.some((f) => f.runner === runner);

function matches(task: Task, filter: TaskFilter): boolean {
  if (filter.requester !== undefined && task.requester !== filter.requester) return false;
  if (filter.state !== undefined && task.state !== filter.state) return false;
  return filter.runner === undefined || involves(task, filter.runner);
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
  if (cursor === null) return err({ InvalidArgument: { field: 'after', reason: 'must be a task id (task-NNNNNNNNNNNN), the `next` of a previous page' } });
  return ok({ limit, below: BigInt(cursor[1] ?? '0') });
}

/**
 * Tasks newest first. Task ids are numbered in creation order, so the walk goes down from the newest number without
 * an index; `after` continues below a previous page's `next`. At most MAX_TASK_SCAN ids are probed per call, and the
 * walk also stops (with a cursor) once `outOfBudget` says so: reading a task with a large input costs a lot of
 * instructions, and a query must end with a page, never with the instruction limit.
 */
export function listTasks(store: TaskStore, filter: TaskFilter, page: PageRequest, outOfBudget: () => boolean = () => false): Result<Page<Task>> {
  const checked = checkArgs(filter, page);
  if ('Err' in checked) return checked;
  const { limit, below } = checked.Ok;
  const newest = store.lastTaskNumber();
  const start = below === undefined ? newest : below - 1n < newest ? below - 1n : newest;
  const items: Task[] = [];
  let scanned = 0;
  for (let n = start; n >= 1n; n--) {
    const id = taskId(n);
    const task = store.tasks.get(id);
    scanned++;
    if (task !== undefined && matches(task, filter)) items.push(task);
    if (n > 1n && (items.length === limit || scanned >= MAX_TASK_SCAN || outOfBudget())) return ok({ items, next: id });
  }
  return ok({ items });
}
