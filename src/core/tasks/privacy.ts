import { isAdmin } from '../registry/access.js';
import type { RegistryStore } from '../registry/store.js';
import type { Task, TaskResult } from './types.js';

/** How much of a task's private content a caller reads. */
export type TaskAccess = 'full' | 'runner' | 'summary';

/**
 * A task's prompt (inline input or its reference), conversation, affinity key and outputs are private: the requester
 * and admins read everything; a runner that leased the task reads the input and its own output (not other runners'
 * outputs, which a redundant task compares); everyone else sees the summary (state, model, reward, timing, digests).
 * The digests stay: they commit to the content without revealing it.
 */
export function taskAccess(store: RegistryStore, caller: string, task: Task): TaskAccess {
  if (caller === task.requester || isAdmin(store, caller)) return 'full';
  if (task.leases.some((l) => l.runner === caller)) return 'runner';
  if (task.results.some((r) => r.runner === caller) || task.failures.some((f) => f.runner === caller)) return 'runner';
  return 'summary';
}

const withoutOutput = ({ output: _output, reference: _reference, ...result }: TaskResult): TaskResult => result;

/** The task without the content `access` may not read. */
export function redactTask(task: Task, access: TaskAccess, caller: string): Task {
  if (access === 'full') return task;
  const results = task.results.map((r) => (access === 'runner' && r.runner === caller ? r : withoutOutput(r)));
  if (access === 'runner') return { ...task, results };
  const { affinityKey: _affinityKey, ...request } = task.request;
  return { ...task, request, input: task.input.digest === undefined ? {} : { digest: task.input.digest }, results };
}

/** The task as `caller` may see it. */
export const taskFor = (store: RegistryStore, caller: string, task: Task): Task =>
  redactTask(task, taskAccess(store, caller, task), caller);
