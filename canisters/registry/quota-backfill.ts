import { performanceCounter, setTimer } from 'azle';

import { backfillQuotaCounters, startQuotaBackfill } from '../../src/core/registry/index.js';
import type { Stores } from '../../src/core/tasks/index.js';

/** Instructions one backfill step may spend; the next step (a timer of its own, at once) resumes from the cursor. */
export const QUOTA_BACKFILL_BUDGET = 2_000_000_000n;

/**
 * After an upgrade from state whose quota counters are unknown (older than the counters, or than their rebuild), the
 * counters are rebuilt from the runners, cards and open tasks in budgeted steps, one message each, from a persisted
 * cursor (src/core/registry/quotas.ts). A fresh install has nothing to count.
 */
export function rebuildQuotaCountersIfNeeded(store: Stores & { quotaCountersKnown(): boolean }, fresh: boolean): void {
  if (fresh) {
    if (!store.quotaCountersKnown()) store.setQuotaBackfill(undefined);
    return;
  }
  if (!store.quotaCountersKnown()) startQuotaBackfill(store);
  if (store.quotaBackfill() !== undefined) setTimer(0, () => step(store));
}

function step(store: Stores): void {
  const open = {
    entries: (after?: string) => store.open.entries(after),
    requesterOf: (id: string) => store.taskWithoutInput(id)?.requester
  };
  const done = backfillQuotaCounters(store, open, () => performanceCounter(1) > QUOTA_BACKFILL_BUDGET);
  if (!done) setTimer(0, () => step(store));
}
