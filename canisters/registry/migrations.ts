import { performanceCounter, setTimer, time } from 'azle';

import { backfillQuotaCounters, migrateNamespaces, startNamespaceMigration, startQuotaBackfill } from '../../src/core/registry/index.js';
import { migrateReviewVotes, startReviewVoteMigration } from '../../src/core/tasks/index.js';
import type { openStore } from './stable-store.js';

type Store = ReturnType<typeof openStore>;

/** Instructions one migration step may spend; the next step (a timer of its own, at once) resumes from the cursor. */
export const MIGRATION_STEP_BUDGET = 2_000_000_000n;

/**
 * A migration of state written by an older version, run after an upgrade in budgeted steps, one message each, from a
 * cursor persisted in the store: postUpgrade itself reads nothing it migrates, and an upgrade mid-way resumes.
 */
interface Migration {
  /** Whether the state records this migration, pending or done (state older than it does not). */
  known(store: Store): boolean;
  /** Records it done: a fresh install has nothing to migrate. */
  done(store: Store): void;
  /** Records it pending, its cursor at the start. */
  start(store: Store): void;
  pending(store: Store): boolean;
  /** One step from the cursor, until `outOfBudget`; true once nothing is left. */
  step(store: Store, outOfBudget: () => boolean): boolean;
}

const MIGRATIONS: Migration[] = [
  // Quota counters (older than the counters, or than their rebuild): rebuilt from the runners, cards and open tasks
  // (src/core/registry/quotas.ts).
  {
    known: (s) => s.quotaCountersKnown(),
    done: (s) => s.setQuotaBackfill(undefined),
    start: (s) => startQuotaBackfill(s),
    pending: (s) => s.quotaBackfill() !== undefined,
    step: (s, outOfBudget) =>
      backfillQuotaCounters(
        s,
        { entries: (after?: string) => s.open.entries(after), requesterOf: (id: string) => s.taskWithoutInput(id)?.requester },
        outOfBudget
      )
  },
  // Cards published before namespaces (up to MAX_CARDS): each org goes to the publisher of its earliest card
  // (src/core/registry/namespaces.ts).
  {
    known: (s) => s.namespaceMigrationKnown(),
    done: (s) => s.setNamespaceMigration(undefined),
    start: (s) => startNamespaceMigration(s, time()),
    pending: (s) => s.namespaceMigration() !== undefined,
    step: (s, outOfBudget) => migrateNamespaces(s, outOfBudget).done
  },
  // Tasks in review before the vote was recorded at review entry: each gets it now, counted once
  // (src/core/tasks/review-vote-migration.ts).
  {
    known: (s) => s.reviewVoteMigrationKnown(),
    done: (s) => s.setReviewVoteMigration(undefined),
    start: (s) => startReviewVoteMigration(s),
    pending: (s) => s.reviewVoteMigration() !== undefined,
    step: (s, outOfBudget) => migrateReviewVotes(s, outOfBudget).done
  }
];

/** From init (`fresh`: every migration recorded done) and postUpgrade (each one the state lacks starts, each pending one runs). */
export function runMigrations(store: Store, fresh: boolean): void {
  for (const migration of MIGRATIONS) {
    if (fresh) {
      if (!migration.known(store)) migration.done(store);
      continue;
    }
    if (!migration.known(store)) migration.start(store);
    if (migration.pending(store)) setTimer(0, () => step(migration, store));
  }
}

function step(migration: Migration, store: Store): void {
  const done = migration.step(store, () => performanceCounter(1) > MIGRATION_STEP_BUDGET);
  if (!done) setTimer(0, () => step(migration, store));
}
