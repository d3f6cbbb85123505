import { SECOND_NS } from './limits.js';
import type { Task } from './types.js';

/**
 * Escalation (README "Operators and redundancy"): results that agree on no majority are not a refund, which would let
 * a requester's Sybil undo an honest completion with one disagreeing result (a 1–1 tie on a redundancy-2 task). The
 * task is reopened for more results from operators not yet in it, and only a tie that outlasts the bound is a dispute.
 */

/**
 * Results one escalation asks for beyond those in: 2, or 1 when that makes their count odd (an odd count of equal
 * votes cannot tie), so a 1–1 tie on a redundancy-2 task is settled by one more result that agrees with either side.
 */
export const escalationStep = (results: number): number => (results % 2 === 0 ? 1 : 2);

/**
 * How long an escalation waits for its results: its deadline is set this far from the escalation, sooner or later than
 * the task's own, so an escalated vote settles soon (the runners' pay is not held until a 7-day deadline, and a lost
 * vote's runner is still slashable: bonds.ts holds the bond of a runner with an unsettled result).
 */
export const ESCALATION_WINDOW_NS = 1800n * SECOND_NS;

/** The most results escalations may add to a task of `redundancy`, in total: redundancy + 2 (2 → 3 → 5 results). */
export const maxExtraResults = (redundancy: number): number => redundancy + 2;

/** The results a task waits for before its review: its redundancy, plus those its escalations asked for. */
export const neededResults = (task: Pick<Task, 'redundancy' | 'extraResults'>): number => task.redundancy + (task.extraResults ?? 0);

/**
 * Reopens a task in review whose results agree on no majority for escalationStep more results, within the bound:
 * back to `queued`, claimable by runners of operators not yet in it (claims refuse the others), its deadline
 * ESCALATION_WINDOW_NS away, and its `outcome` says why (`votes`). The results in stay sealed, and the requester reads
 * none of them until a majority forms. The caller saves the task. Returns false, changing nothing, once the bound is
 * reached.
 */
export function escalate(task: Task, now: bigint, votes: string): boolean {
  const step = escalationStep(task.results.length);
  const extra = task.results.length + step - task.redundancy;
  if (extra > maxExtraResults(task.redundancy)) return false;
  task.extraResults = extra;
  task.state = 'queued';
  delete task.reviewEndsAtNs;
  delete task.reviewVote;
  task.leases = [];
  task.deadlineNs = now + ESCALATION_WINDOW_NS;
  task.outcome = `escalated: ${votes}; waiting for ${step} more result(s) from operators not yet in the task`;
  return true;
}
