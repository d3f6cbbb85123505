import { safeValidateModelCard } from '../manifest/index.js';
import { requireAdmin, requireAuthenticated, checkReason } from './access.js';
import { err, ok, type Result } from './errors.js';
import { MAX_CARDS, MAX_ID_CARDS_SCANNED, MAX_VERSIONS_SCANNED } from './limits.js';
import { checkPublisher, claimOnPublish, mayPublish, namespaceOf } from './namespaces.js';
import { bump, checkQuota } from './quotas.js';
import { pageOf, type Page, type PageRequest } from './pagination.js';
import { cardKey, type RegistryStore } from './store.js';
import type { StoredCard } from './types.js';
import { compareVersions, isPrerelease } from './versions.js';

export interface ModelRef {
  id: string;
  digest: string;
}

/**
 * Publishes a model card. Only the owner of the id's namespace (the org before `/`) and its delegates may publish
 * under it; the first publisher under an unclaimed org becomes its owner. Cards are immutable: `id@digest` keeps its
 * content and `id@version` its digest; a new digest under an id is a new version, never a replacement.
 */
export function publishCard(store: RegistryStore, caller: string, nowNs: bigint, input: unknown): Result<ModelRef> {
  const denied = requireAuthenticated(caller);
  if (denied !== undefined) return err(denied);
  const parsed = safeValidateModelCard(input);
  if (!parsed.ok) return err({ InvalidManifest: { issues: parsed.issues } });
  const card = parsed.manifest;
  const key = cardKey(card.id, card.digest);
  const existing = store.cards.get(key);
  // The same card again changes nothing, whoever sends it.
  if (existing !== undefined && JSON.stringify(existing.card) === JSON.stringify(card)) return ok({ id: card.id, digest: card.digest });
  const foreign = checkPublisher(store, caller, card.id);
  if (foreign !== undefined) return err(foreign);
  if (existing !== undefined)
    return err({ CardImmutable: { model: card.id, version: existing.card.version, digest: existing.card.digest } });
  // Versions count, and labels are taken, only among the cards of the namespace's current owner and delegates: a
  // squatter's versions from before an admin assigned the org neither lock the owner out nor hold its labels.
  const holders = store.namespaces.get(namespaceOf(card.id));
  let versions = 0;
  let scanned = 0;
  for (const [, other] of store.cards.entries(`${card.id}@`)) {
    if (other.card.id !== card.id) break;
    if (++scanned > MAX_ID_CARDS_SCANNED)
      return err({
        LimitExceeded: {
          what: `cards of ${card.id} (an admin purges others' with purge_namespace_cards)`,
          limit: BigInt(MAX_ID_CARDS_SCANNED)
        }
      });
    if (!mayPublish(holders, other.publishedBy)) continue;
    if (other.card.version === card.version) {
      return err({ CardImmutable: { model: card.id, version: other.card.version, digest: other.card.digest } });
    }
    if (++versions >= MAX_VERSIONS_SCANNED)
      return err({ LimitExceeded: { what: `versions of ${card.id}`, limit: BigInt(MAX_VERSIONS_SCANNED) } });
  }
  if (store.cards.size() >= MAX_CARDS) return err({ LimitExceeded: { what: 'model cards', limit: BigInt(MAX_CARDS) } });
  const quota = checkQuota(store, 'cards', caller);
  if ('Err' in quota) return quota;
  bump(store, 'cards', caller, 1, key);
  claimOnPublish(store, caller, nowNs, card.id);
  store.cards.set(key, { card, publishedBy: caller, publishedAtNs: nowNs });
  return ok({ id: card.id, digest: card.digest });
}

/**
 * A card by id and digest, or the latest version of `id`: the highest in version order (src/core/registry/versions.ts)
 * among the cards its namespace's owner and delegates published; deprecated versions only when no other is left, and
 * pre-releases (`2.0.0-rc.1`) only when no release is.
 * Cards others published under the org before it was assigned are reachable by digest, never as latest.
 */
export function getCard(store: RegistryStore, id: string, digest?: string): StoredCard | undefined {
  if (digest !== undefined) return store.cards.get(cardKey(id, digest));
  const namespace = store.namespaces.get(namespaceOf(id));
  let latest: StoredCard | undefined;
  let scanned = 0;
  for (const [, stored] of store.cards.entries(`${id}@`)) {
    if (stored.card.id !== id || ++scanned > MAX_ID_CARDS_SCANNED) break;
    if (namespace !== undefined && !mayPublish(namespace, stored.publishedBy)) continue;
    if (latest === undefined || newer(stored, latest)) latest = stored;
  }
  return latest;
}

/** Live versions before deprecated ones, releases before pre-releases, then version order. */
function newer(a: StoredCard, b: StoredCard): boolean {
  const aLive = a.deprecated === undefined;
  const bLive = b.deprecated === undefined;
  if (aLive !== bLive) return aLive;
  const aRelease = !isPrerelease(a.card.version);
  const bRelease = !isPrerelease(b.card.version);
  if (aRelease !== bRelease) return aRelease;
  return compareVersions(a.card.version, b.card.version) > 0;
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
