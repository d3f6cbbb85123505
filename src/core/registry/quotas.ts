import { requireAdmin } from './access.js';
import { err, ok, type Result } from './errors.js';
import type { RegistryStore } from './store.js';
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

/** Adds `delta` (±1) to a principal's counter; a counter never goes below 0 and 0 is not stored. */
export function bump(store: RegistryStore, kind: QuotaKind, principal: string, delta: number): void {
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
