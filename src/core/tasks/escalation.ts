import { matchingDeployment } from '../registry/discovery.js';
import { operatorOf } from '../registry/operators.js';
import { taskPricing, withinBudget } from './affordable.js';
import { SECOND_NS } from './limits.js';
import type { Stores } from './store.js';
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
 * How long an escalation's places are offered only to its `preferred` runners (escalationOffer) before every runner of
 * an operator not excluded may claim them: long enough for a proven runner's poll to see the task, well within
 * ESCALATION_WINDOW_NS.
 */
export const ESCALATION_OFFER_NS = 300n * SECOND_NS;

/**
 * The operators that may not fill an escalation's places: the requester (the owner of its refund account too) and
 * those behind each result already in (the runner's operator now and when it leased). Claims refuse them (claim.ts),
 * and the offer skips them, so the requester cannot fill the places it benefits from with its own runners.
 */
export function excludedOperators(store: Pick<Stores, 'runners'>, task: Task): string[] {
  const out = new Set<string>([task.requester]);
  for (const r of task.results) {
    out.add(r.runner);
    out.add(operatorOf(store, r.runner));
    if (r.operator !== undefined) out.add(r.operator);
  }
  return [...out];
}

/**
 * The runners an escalation's places are offered to first: the model's proven top (discovery index, best record first,
 * at most MAX_TOP_RUNNERS) that can serve the task now at prices its budget covers for every place it waits for (the
 * predicate a claim checks: affordable.ts), minus the runners already in the task and those of excluded operators
 * (excludedOperators). A proven runner priced above the task's share could not claim, so it is not offered the places
 * and cannot hold them for ESCALATION_OFFER_NS. Bounded: it looks at most at MAX_TOP_RUNNERS runners, never at every
 * runner. Call it with the escalated task (its `extraResults` set), whose places the share is divided by.
 */
export function escalationOffer(store: Stores, task: Task, now: bigint): string[] {
  const excluded = new Set(excludedOperators(store, task));
  const inTask = new Set([...task.results.map((r) => r.runner), ...task.failures.map((f) => f.runner)]);
  const affordable = withinBudget(taskPricing(store.taskConfig(), task, neededResults(task)));
  return store.index
    .topFor(task.request.model)
    .map((r) => r.id)
    .filter(
      (runner) =>
        !inTask.has(runner) &&
        !excluded.has(runner) &&
        !excluded.has(operatorOf(store, runner)) &&
        matchingDeployment(store, now, runner, task.request, affordable) !== undefined
    );
}

/**
 * Reopens a task in review whose results agree on no majority for escalationStep more results, within the bound; only
 * the timer does, when the review window ends (settlement.ts), never the requester's accept or reject, so the requester
 * does not choose the moment the places open. Back to `queued`, its deadline ESCALATION_WINDOW_NS away, its `outcome`
 * saying why (`votes`). The places are not first come: for ESCALATION_OFFER_NS only the proven runners escalationOffer
 * names may claim them (none: no exclusive window), and no runner of an excluded operator ever may (claim.ts). The
 * results in stay sealed, and the requester reads none of them until a majority forms. The caller saves the task.
 * Returns false, changing nothing, once the bound is reached.
 */
export function escalate(store: Stores, task: Task, now: bigint, votes: string): boolean {
  const step = escalationStep(task.results.length);
  const extra = task.results.length + step - task.redundancy;
  if (extra > maxExtraResults(task.redundancy)) return false;
  task.extraResults = extra;
  task.state = 'queued';
  delete task.reviewEndsAtNs;
  delete task.reviewVote;
  task.leases = [];
  task.deadlineNs = now + ESCALATION_WINDOW_NS;
  const preferred = escalationOffer(store, task, now);
  if (preferred.length > 0) {
    task.preferred = preferred;
    task.openToAllAtNs = now + ESCALATION_OFFER_NS;
  } else {
    delete task.preferred;
    delete task.openToAllAtNs;
  }
  task.outcome = `escalated: ${votes}; waiting for ${step} more result(s) from operators not yet in the task nor the requester's`;
  return true;
}
