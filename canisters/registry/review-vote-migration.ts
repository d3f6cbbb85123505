import { performanceCounter, setTimer } from 'azle';

import { migrateReviewVotes, startReviewVoteMigration, type Stores } from '../../src/core/tasks/index.js';

/** Instructions one migration step may spend; the next step (a timer of its own, at once) resumes from the cursor. */
export const REVIEW_VOTE_MIGRATION_BUDGET = 2_000_000_000n;

/**
 * After an upgrade from state whose review-vote migration is not recorded (older than the vote recorded at review
 * entry), each task already in review gets its vote recorded, counted once, in budgeted steps, one message each, from a
 * persisted cursor (src/core/tasks/review-vote-migration.ts): postUpgrade itself reads no task. A fresh install has none.
 */
export function migrateReviewVotesIfNeeded(store: Stores & { reviewVoteMigrationKnown(): boolean }, fresh: boolean): void {
  if (fresh) {
    if (!store.reviewVoteMigrationKnown()) store.setReviewVoteMigration(undefined);
    return;
  }
  if (!store.reviewVoteMigrationKnown()) startReviewVoteMigration(store);
  if (store.reviewVoteMigration() !== undefined) setTimer(0, () => step(store));
}

function step(store: Stores): void {
  const { done } = migrateReviewVotes(store, () => performanceCounter(1) > REVIEW_VOTE_MIGRATION_BUDGET);
  if (!done) setTimer(0, () => step(store));
}
