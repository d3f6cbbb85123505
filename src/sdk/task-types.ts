import type { TaskState } from '../core/tasks/states.js';
import type { TaskResult } from '../core/tasks/types.js';
import type { RunnerRequest } from './types.js';

export { TASK_STATES, type TaskState } from '../core/tasks/states.js';

/** The options and results of the client's task methods (shared by `DeaiClient` and `chat({ via: 'task' })`). */

export interface SubmitTaskOptions {
  /** Model id the task needs (a published card). */
  model: string;
  /** Pins the weights: only runners serving one of these digests (`sha256:…`) may claim the task. */
  digests?: string[];
  prompt: string;
  /**
   * The task's budget, escrowed whole (the wire's `reward_e8s`). An accepted task pays each runner its metered tokens ×
   * its posted prices, plus the protocol fee, and refunds the rest; runners whose price for the task's most tokens the
   * budget cannot cover do not take it. `quoteTask` gives the budget the live runners need.
   */
  rewardE8s: bigint;
  /** How long runners have to answer, from now (default 1 hour, at most 7 days). */
  deadlineMs?: number;
  maxOutputTokens?: number;
  temperature?: number;
  seed?: bigint;
  /** Runners that must each give a result (default 1; above 1 needs temperature 0 and a seed). */
  redundancy?: number;
  /** Repeating a submit with the same key returns the first task instead of paying twice (default: random). */
  idempotencyKey?: string;
  /**
   * What the runner must offer beyond the model: region, price ceilings, confidential computing, quantizations,
   * minimum context, engine, capabilities, an affinity key (the session stays on the runner that served it), …
   * Only runners that meet it may claim the task.
   */
  request?: TaskRequest;
}

/** The routing constraints of a task: a runner request without the model (given apart) and the result limit. */
export type TaskRequest = Omit<RunnerRequest, 'model' | 'limit'>;

export interface WaitOptions {
  /** Default 5 minutes. */
  timeoutMs?: number;
  /** Default 1 second. */
  pollMs?: number;
  /**
   * Called with the task's state and outcome whenever either changes (first with those it has): an escalated task
   * comes back to `queued` with `outcome` `escalated: …`.
   */
  onProgress?: (state: TaskState, detail: { outcome?: string }) => void;
}

/** One runner's result for a task, camelCase (the registry's task result, defined once in core). */
export type { TaskResult };

/** What `waitForResult` gives: the first result of a task in review or accepted. */
export interface ReadyResult extends Omit<TaskResult, 'atNs' | 'firstTokenMs'> {
  taskId: string;
  state: TaskState;
}

/** A task as the registry holds it, camelCase: amounts and times in bigint, principals as text, options optional. */
export interface Task {
  id: string;
  requester: string;
  state: TaskState;
  model: string;
  input: { inline?: string; digest?: string; reference?: string };
  limits: { maxOutputTokens: number; temperature?: number; seed?: bigint };
  rewardE8s: bigint;
  deadlineNs: bigint;
  redundancy: number;
  createdAtNs: bigint;
  escrowBlock?: bigint;
  leases: Array<{ runner: string; claimedAtNs: bigint; expiresAtNs: bigint }>;
  results: TaskResult[];
  failures: Array<{ runner: string; reason: string; atNs: bigint }>;
  reviewEndsAtNs?: bigint;
  paidRunners: string[];
  /** Why the task ended, for terminal states. */
  outcome?: string;
}

/** Which tasks list_tasks returns; every field is optional. */
export interface TaskFilter {
  requester?: string;
  runner?: string;
  state?: TaskState;
}

/** One row of list_tasks: a task without its input and outputs (core's listing summary, as the SDK hands it out). */
export type { TaskSummary } from '../core/tasks/types.js';
