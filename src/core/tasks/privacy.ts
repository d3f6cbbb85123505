import { isAdmin } from '../registry/access.js';
import { reviewVoteOf } from './settlement.js';
import { TERMINAL_STATES } from './states.js';
import type { Stores } from './store.js';
import type { Task, TaskResult } from './types.js';

/** How much of a task's private content a caller reads. */
export type TaskAccess = 'admin' | 'requester' | 'runner' | 'summary';

/** What a result's `outputDigest` reads while the caller may not see it (the Candid field is a required text). */
export const HIDDEN_DIGEST = '';

/**
 * A task's prompt (inline input or its reference), conversation, affinity key and outputs are private, and a redundant
 * task's votes are sealed until it settles (a commitment revealed by privacy, README "Task privacy"):
 * - admins read everything;
 * - a runner reads the input (once it leased the task) and its own result; until the task settles it sees no other
 *   runner's digest or output, so it cannot copy a digest to "agree" without working;
 * - the requester reads its input and, of the results, only those it pays for: while in review, the results whose
 *   digest held the majority when the review began (what accept or reject pays; with redundancy 1, the one result); once settled,
 *   the paid (majority) results of an accepted or rejected task; a disputed, failed or expired task shows it no output,
 *   nor does a task escalated for more results (queued again: escalation.ts). So it cannot read an honest output and
 *   then force a dispute (a refund) with a disagreeing Sybil, and a tie it cannot read is escalated, never refunded;
 * - everyone else sees the summary (state, model, reward, timing; the digests once the task has settled).
 */
export function taskAccess(store: Stores, caller: string, task: Task): TaskAccess {
  if (isAdmin(store, caller)) return 'admin';
  if (caller === task.requester) return 'requester';
  if (task.leases.some((l) => l.runner === caller)) return 'runner';
  if (task.results.some((r) => r.runner === caller) || task.failures.some((f) => f.runner === caller)) return 'runner';
  return 'summary';
}

const withoutOutput = ({ output: _output, reference: _reference, ...result }: TaskResult): TaskResult => result;

/** The results whose output the requester pays for, hence reads (see taskAccess). */
function paidResults(store: Stores, task: Task): (r: TaskResult) => boolean {
  if (TERMINAL_STATES.has(task.state)) {
    const paid = new Set(task.paidRunners ?? []);
    return (r) => paid.has(r.runner);
  }
  if (task.state !== 'review') return () => false;
  const { digest } = reviewVoteOf(store, task);
  return (r) => digest !== undefined && r.outputDigest === digest;
}

/** The task without the content `access` may not read. */
export function redactTask(store: Stores, task: Task, access: TaskAccess, caller: string): Task {
  if (access === 'admin') return task;
  const sealed = !TERMINAL_STATES.has(task.state);
  const paid = access === 'requester' ? paidResults(store, task) : () => false;
  const readable = (r: TaskResult): boolean => r.runner === caller || paid(r);
  const results = task.results.map((r) => {
    if (readable(r)) return r;
    const hidden = withoutOutput(r);
    return sealed ? { ...hidden, outputDigest: HIDDEN_DIGEST } : hidden;
  });
  // The recorded vote names the winning digest and runners: sealed like the results.
  const { reviewVote: _reviewVote, ...rest } = task;
  if (access !== 'summary') return { ...rest, results };
  const { affinityKey: _affinityKey, ...request } = task.request;
  return { ...rest, request, input: task.input.digest === undefined ? {} : { digest: task.input.digest }, results };
}

/** The task as `caller` may see it. */
export const taskFor = (store: Stores, caller: string, task: Task): Task =>
  redactTask(store, task, taskAccess(store, caller, task), caller);
