import { saveTask } from './save-task.js';
import { recordMissingReviewVote } from './settlement.js';
import type { Stores } from './store.js';

/**
 * After an upgrade from state older than the recorded review vote (settlement.ts `enterReview`), the tasks already in
 * review get theirs, counted once with the weights of the upgrade, so that no later decision (accept, reject, the
 * review's end, a query's redaction) counts it again with weights a requester could have moved since. In budgeted
 * steps from a persisted cursor (the last open task looked at), over the open tasks only (at most MAX_OPEN_TASKS), and
 * idempotent: a task that has its vote is left as it is, so a step repeated after a trap changes nothing more.
 */
export function startReviewVoteMigration(store: Pick<Stores, 'setReviewVoteMigration'>): void {
  store.setReviewVoteMigration({});
}

/**
 * One step: walks the open tasks after the cursor, records the vote of each in review without one, and stops when
 * `outOfBudget` says so (the cursor saved) or at the end (the migration recorded as done). Returns whether it is done
 * and how many votes this step recorded.
 */
export function migrateReviewVotes(store: Stores, outOfBudget: () => boolean): { done: boolean; recorded: number } {
  const progress = store.reviewVoteMigration();
  if (progress === undefined) return { done: true, recorded: 0 };
  let recorded = 0;
  let after = progress.after;
  for (const [id, open] of store.open.entries(after)) {
    if (open.state === 'review') {
      // Without its input: saving what taskWithoutInput returns keeps the stored input.
      const task = store.taskWithoutInput(id);
      if (task !== undefined && recordMissingReviewVote(store, task)) {
        saveTask(store, task);
        recorded++;
      }
    }
    after = id;
    if (outOfBudget()) {
      store.setReviewVoteMigration({ after });
      return { done: false, recorded };
    }
  }
  store.setReviewVoteMigration(undefined);
  return { done: true, recorded };
}
