/**
 * A task's states, the one list the registry, the SDK, the CLI and the explorer derive their types, filters and
 * validation from.
 * - `escrowing`: created; the reward's `transfer_from` into escrow is in flight.
 * - `queued`: escrowed; runners may lease it (up to `redundancy` at once).
 * - `review`: every required result is in; the requester may accept or reject until `reviewEndsAtNs`. Results that
 *   agree on no majority send the task back to `queued` for more results when the review ends (the timer, not the
 *   requester: escalation.ts), within a bound.
 * - terminal: `accepted` (runners paid), `rejected`, `failed`, `expired` (requester refunded).
 */
export const TASK_STATES = ['escrowing', 'queued', 'review', 'accepted', 'rejected', 'failed', 'expired'] as const;
export type TaskState = (typeof TASK_STATES)[number];

export const TERMINAL_STATES: ReadonlySet<TaskState> = new Set(['accepted', 'rejected', 'failed', 'expired']);

export function isTaskState(value: string): value is TaskState {
  return (TASK_STATES as readonly string[]).includes(value);
}
