import { requireAdmin } from './access.js';
import { err, ok, type Result } from './errors.js';
import { effectiveOperator } from './operator-of.js';
import type { QuotaBackfill, RegistryStore } from './store.js';
import { DEFAULT_QUOTAS, type Quotas } from './types.js';

export { DEFAULT_QUOTAS, type Quotas };

/** No quota may exceed its global cap's order of magnitude: a share is a share. */
export const MAX_QUOTA = 100_000;

export type QuotaKind = 'runners' | 'open-tasks' | 'cards';

const QUOTA_OF: Record<QuotaKind, keyof Quotas> = {
  runners: 'runnersPerOperator',
  'open-tasks': 'openTasksPerRequester',
  cards: 'cardsPerPublisher'
};
const WHAT: Record<QuotaKind, string> = {
  runners: 'runners per operator (quota)',
  'open-tasks': 'open tasks per requester (quota)',
  cards: 'model cards per publisher (quota)'
};

const counterKey = (kind: QuotaKind, principal: string): string => `${kind}|${principal}`;

export function countOf(store: RegistryStore, kind: QuotaKind, principal: string): number {
  return store.counts.get(counterKey(kind, principal)) ?? 0;
}

/**
 * Adds `delta` (±1) to a principal's counter; a counter never goes below 0 and 0 is not stored. `itemKey` (the
 * runner, card or task key whose change this counts) lets a rebuild in progress (backfillQuotaCounters) leave out a
 * change to an item its walk has not reached yet: the walk counts that item as it finds it.
 */
export function bump(store: RegistryStore, kind: QuotaKind, principal: string, delta: number, itemKey?: string): void {
  if (itemKey !== undefined && !rebuiltPast(store.quotaBackfill(), kind, itemKey)) return;
  const next = Math.max(0, countOf(store, kind, principal) + delta);
  if (next === 0) store.counts.delete(counterKey(kind, principal));
  else store.counts.set(counterKey(kind, principal), next);
}

/** LimitExceeded naming the quota when `principal` already holds its share of `kind`. */
export function checkQuota(store: RegistryStore, kind: QuotaKind, principal: string): Result<null> {
  const limit = store.quotas()[QUOTA_OF[kind]];
  if (countOf(store, kind, principal) >= limit) return err({ LimitExceeded: { what: WHAT[kind], limit: BigInt(limit) } });
  return ok(null);
}

/** Admins change the quotas; a field left out keeps its value. Lowering one never removes what exists. */
export function setQuotas(store: RegistryStore, caller: string, input: Partial<Quotas>): Result<Quotas> {
  const denied = requireAdmin(store, caller);
  if (denied !== undefined) return err(denied);
  const next: Quotas = { ...store.quotas() };
  for (const key of Object.keys(QUOTA_OF).map((k) => QUOTA_OF[k as QuotaKind])) {
    const value = input[key];
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value < 1 || value > MAX_QUOTA)
      return err({ InvalidArgument: { field: key, reason: `must be 1 to ${MAX_QUOTA}` } });
    next[key] = value;
  }
  store.setQuotas(next);
  return ok(next);
}

const PHASES: ReadonlyArray<QuotaBackfill['phase']> = ['clear', 'runners', 'cards', 'open-tasks'];

/** Whether the rebuild `progress` (undefined: none running) has counted `kind`'s item `itemKey` already. */
function rebuiltPast(progress: QuotaBackfill | undefined, kind: QuotaKind, itemKey: string): boolean {
  if (progress === undefined) return true;
  const at = PHASES.indexOf(progress.phase);
  const mine = PHASES.indexOf(kind);
  if (mine !== at) return mine < at;
  return progress.after !== undefined && itemKey <= progress.after;
}

/** What the rebuild counts besides the registry's own maps: the open tasks and each one's requester. */
export interface OpenTaskOwners {
  entries(afterKey?: string): Iterable<[string, unknown]>;
  requesterOf(id: string): string | undefined;
}

/** Starts rebuilding the counters from scratch (an upgrade from state that predates them, or may). */
export function startQuotaBackfill(store: RegistryStore): void {
  store.setQuotaBackfill({ phase: 'clear' });
}

/**
 * Rebuilds the per-principal counters from what exists, in steps: clears the old counters, then counts runners per
 * operator, cards per publisher and open tasks per requester, each walk in key order. It stops once `outOfBudget`
 * says so and persists its cursor, so the next call (the next timer run) resumes there; the counters are written as
 * it goes. Meanwhile bump() leaves out changes to items the walk has not reached (their final state is counted when
 * reached), so the counters come out exact. Returns true once every counter is rebuilt (and then does nothing).
 */
export function backfillQuotaCounters(store: RegistryStore, open: OpenTaskOwners, outOfBudget: () => boolean): boolean {
  let progress = store.quotaBackfill();
  while (progress !== undefined) {
    const walk = walkOf(store, open, progress.phase, progress.after);
    let next: QuotaBackfill | undefined = progress;
    let finished = true;
    for (const [key, principal] of walk) {
      if (outOfBudget()) {
        finished = false;
        break;
      }
      if (progress.phase === 'clear') store.counts.delete(key);
      else {
        if (principal !== undefined) store.counts.set(counterKey(progress.phase, principal), countOf(store, progress.phase, principal) + 1);
        next = { phase: progress.phase, after: key };
      }
    }
    if (!finished) {
      store.setQuotaBackfill(next);
      return false;
    }
    const phase = PHASES[PHASES.indexOf(progress.phase) + 1];
    progress = phase === undefined ? undefined : { phase };
    store.setQuotaBackfill(progress);
  }
  return true;
}

/**
 * The keys of one phase's walk, after `after`, with the principal each one counts for. Clearing takes the first
 * counters, a hundred at a time, again and again (the consumer deletes each one it is given).
 */
function* walkOf(
  store: RegistryStore,
  open: OpenTaskOwners,
  phase: QuotaBackfill['phase'],
  after?: string
): Iterable<[string, string | undefined]> {
  if (phase === 'clear') {
    for (;;) {
      const batch: string[] = [];
      for (const [key] of store.counts.entries()) if (batch.push(key) >= 100) break;
      if (batch.length === 0) return;
      for (const key of batch) yield [key, undefined];
    }
  } else if (phase === 'runners') for (const [key, runner] of store.runners.entries(after)) yield [key, effectiveOperator(runner)];
  else if (phase === 'cards') for (const [key, card] of store.cards.entries(after)) yield [key, card.publishedBy];
  else for (const [id] of open.entries(after)) yield [id, open.requesterOf(id)];
}
