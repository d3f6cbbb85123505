import { safeValidateModelCard } from '../manifest/index.js';
import { requireAdmin, requireAuthenticated, checkReason } from './access.js';
import { err, ok, type Result } from './errors.js';
import { MAX_CARDS } from './limits.js';
import { bump, checkQuota } from './quotas.js';
import { pageOf, type Page, type PageRequest } from './pagination.js';
import { cardKey, type RegistryStore } from './store.js';
import type { StoredCard } from './types.js';

export interface ModelRef {
  id: string;
  digest: string;
}

/**
 * Publishes a model card. Cards are content-addressed: `id@digest` is immutable once published; a new digest under
 * an id is a new version (with a version label not used before), never a replacement.
 */
export function publishCard(store: RegistryStore, caller: string, nowNs: bigint, input: unknown): Result<ModelRef> {
  const denied = requireAuthenticated(caller);
  if (denied !== undefined) return err(denied);
  const parsed = safeValidateModelCard(input);
  if (!parsed.ok) return err({ InvalidManifest: { issues: parsed.issues } });
  const card = parsed.manifest;
  const key = cardKey(card.id, card.digest);
  const existing = store.cards.get(key);
  if (existing !== undefined) {
    if (JSON.stringify(existing.card) === JSON.stringify(card)) return ok({ id: card.id, digest: card.digest });
    return err({ AlreadyExists: { what: `model card ${key} with different content (cards are immutable)` } });
  }
  for (const [, other] of store.cards.entries(`${card.id}@`)) {
    if (other.card.id !== card.id) break;
    if (other.card.version === card.version) {
      return err({ AlreadyExists: { what: `version ${card.version} of ${card.id} (published with digest ${other.card.digest})` } });
    }
  }
  if (store.cards.size() >= MAX_CARDS) return err({ LimitExceeded: { what: 'model cards', limit: BigInt(MAX_CARDS) } });
  const quota = checkQuota(store, 'cards', caller);
  if ('Err' in quota) return quota;
  bump(store, 'cards', caller, 1, key);
  store.cards.set(key, { card, publishedBy: caller, publishedAtNs: nowNs });
  return ok({ id: card.id, digest: card.digest });
}

/** A card by id and digest, or the most recently published version of `id`. */
export function getCard(store: RegistryStore, id: string, digest?: string): StoredCard | undefined {
  if (digest !== undefined) return store.cards.get(cardKey(id, digest));
  let latest: StoredCard | undefined;
  for (const [, stored] of store.cards.entries(`${id}@`)) {
    if (stored.card.id !== id) break;
    if (latest === undefined || stored.publishedAtNs > latest.publishedAtNs) latest = stored;
  }
  return latest;
}

export interface CardFilter {
  id?: string;
  family?: string;
  format?: string;
  quantization?: string;
  includeDeprecated?: boolean;
}

export function listCards(store: RegistryStore, filter: CardFilter, page: PageRequest): Result<Page<StoredCard>> {
  const start = filter.id !== undefined && page.after === undefined ? `${filter.id}@` : page.after;
  return pageOf(store.cards.entries(start), page, (stored) => {
    if (filter.id !== undefined && stored.card.id !== filter.id) return stored.card.id > filter.id ? 'stop' : false;
    if (filter.family !== undefined && stored.card.family !== filter.family) return false;
    if (filter.format !== undefined && stored.card.format !== filter.format) return false;
    if (filter.quantization !== undefined && stored.card.quantization.method !== filter.quantization) return false;
    if (filter.includeDeprecated !== true && stored.deprecated !== undefined) return false;
    return true;
  });
}

/** Admins mark a card deprecated: it stays readable, but no runner may newly register it. */
export function deprecateCard(store: RegistryStore, caller: string, nowNs: bigint, ref: ModelRef, reason: string): Result<null> {
  const denied = requireAdmin(store, caller);
  if (denied !== undefined) return err(denied);
  const checked = checkReason(reason);
  if ('Err' in checked) return checked;
  const key = cardKey(ref.id, ref.digest);
  const stored = store.cards.get(key);
  if (stored === undefined) return err({ NotFound: { kind: { ModelCard: null }, id: key } });
  store.cards.set(key, { ...stored, deprecated: { reason, atNs: nowNs, by: caller } });
  return ok(null);
}
