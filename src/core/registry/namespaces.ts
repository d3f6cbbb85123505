import { requireAdmin, requireAuthenticated } from './access.js';
import { ANONYMOUS_PRINCIPAL, err, ok, type RegistryError, type Result } from './errors.js';
import { MAX_CURSOR_LENGTH, MAX_NAMESPACE_DELEGATES, MAX_PURGE_PER_CALL, MAX_SCAN_PER_CALL } from './limits.js';
import { bump } from './quotas.js';
import type { RegistryStore } from './store.js';
import type { Namespace, StoredCard } from './types.js';

/**
 * Who may publish model cards under an org: the part of a model id before `/` (`meta-llama` in
 * `meta-llama/Llama-3.1-8B-Instruct`). A namespace belongs to its first publisher, or to whom an admin assigns it;
 * its owner may name delegates, who publish under it too. Namespaces compare without case (`Meta-Llama` is
 * `meta-llama`), so a look-alike spelling cannot be claimed by someone else.
 */

/** An org as model ids spell it (src/core/manifest/fields.ts). */
const ORG = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The namespace of a model id: its org, lowercased (the key of the namespaces map). */
export function namespaceOf(modelId: string): string {
  const slash = modelId.indexOf('/');
  return (slash < 0 ? modelId : modelId.slice(0, slash)).toLowerCase();
}

/** The namespace record for `name` (any case), or undefined while nobody holds it. */
export function getNamespace(store: RegistryStore, name: string): Namespace | undefined {
  if (!ORG.test(name)) return undefined;
  return store.namespaces.get(name.toLowerCase());
}

/** Whether `caller` may publish under the namespace (unclaimed namespaces are free: publishing claims them). */
export function mayPublish(record: Namespace | undefined, caller: string): boolean {
  return record === undefined || record.owner === caller || record.delegates.includes(caller);
}

/** Why `caller` may not publish `modelId`, or undefined when it may. */
export function checkPublisher(store: RegistryStore, caller: string, modelId: string): RegistryError | undefined {
  const record = store.namespaces.get(namespaceOf(modelId));
  if (mayPublish(record, caller)) return undefined;
  return { NamespaceOwned: { namespace: record?.name ?? namespaceOf(modelId), owner: record?.owner ?? '' } };
}

/** The first publisher under an unclaimed namespace becomes its owner. */
export function claimOnPublish(store: RegistryStore, caller: string, nowNs: bigint, modelId: string): void {
  const key = namespaceOf(modelId);
  if (store.namespaces.has(key)) return;
  const slash = modelId.indexOf('/');
  store.namespaces.set(key, {
    name: modelId.slice(0, slash < 0 ? undefined : slash),
    owner: caller,
    delegates: [],
    sinceNs: nowNs,
    how: 'published'
  });
}

function checkName(name: string): Result<string> {
  if (!ORG.test(name)) {
    return err({
      InvalidArgument: { field: 'namespace', reason: 'expected an org: 1 to 64 of A-Z a-z 0-9 . _ -, starting with a letter or digit' }
    });
  }
  return ok(name.toLowerCase());
}

function checkPrincipal(field: string, principal: string): Result<null> {
  if (principal === ANONYMOUS_PRINCIPAL)
    return err({ InvalidArgument: { field, reason: 'the anonymous principal cannot hold a namespace' } });
  return ok(null);
}

/** Admins give a namespace to `owner` (claimed or not); the previous owner's delegates lose it too. */
export function assignNamespace(store: RegistryStore, caller: string, nowNs: bigint, name: string, owner: string): Result<Namespace> {
  const denied = requireAdmin(store, caller);
  if (denied !== undefined) return err(denied);
  const key = checkName(name);
  if ('Err' in key) return key;
  const principal = checkPrincipal('owner', owner);
  if ('Err' in principal) return principal;
  const record: Namespace = { name, owner, delegates: [], sinceNs: nowNs, how: 'assigned' };
  store.namespaces.set(key.Ok, record);
  return ok(record);
}

/** The owner's namespace record, or why `caller` may not change it. */
function owned(store: RegistryStore, caller: string, name: string): Result<[string, Namespace]> {
  const denied = requireAuthenticated(caller);
  if (denied !== undefined) return err(denied);
  const key = checkName(name);
  if ('Err' in key) return key;
  const record = store.namespaces.get(key.Ok);
  if (record === undefined) return err({ NotFound: { kind: { Namespace: null }, id: name } });
  if (record.owner !== caller) return err({ NamespaceOwned: { namespace: record.name, owner: record.owner } });
  return ok([key.Ok, record]);
}

/** The owner lets `delegate` publish under the namespace (idempotent). */
export function delegateNamespace(store: RegistryStore, caller: string, name: string, delegate: string): Result<Namespace> {
  const found = owned(store, caller, name);
  if ('Err' in found) return found;
  const [key, record] = found.Ok;
  const principal = checkPrincipal('delegate', delegate);
  if ('Err' in principal) return principal;
  if (delegate === record.owner) return err({ InvalidArgument: { field: 'delegate', reason: 'the owner publishes without delegation' } });
  if (record.delegates.includes(delegate)) return ok(record);
  if (record.delegates.length >= MAX_NAMESPACE_DELEGATES) {
    return err({ LimitExceeded: { what: 'namespace delegates', limit: BigInt(MAX_NAMESPACE_DELEGATES) } });
  }
  const next = { ...record, delegates: [...record.delegates, delegate] };
  store.namespaces.set(key, next);
  return ok(next);
}

/** The owner takes a delegate's right to publish back; cards it published stay (they are immutable). */
export function revokeNamespaceDelegate(store: RegistryStore, caller: string, name: string, delegate: string): Result<Namespace> {
  const found = owned(store, caller, name);
  if ('Err' in found) return found;
  const [key, record] = found.Ok;
  if (!record.delegates.includes(delegate))
    return err({ InvalidArgument: { field: 'delegate', reason: 'not a delegate of this namespace' } });
  const next = { ...record, delegates: record.delegates.filter((d) => d !== delegate) };
  store.namespaces.set(key, next);
  return ok(next);
}

/** What one purge_namespace_cards call did: cards removed, and where the next call resumes (absent: done). */
export interface PurgeReport {
  removed: number;
  next?: string;
}

/**
 * The smallest `<spelling>/` of the lowercase org `namespace` (each letter either case) that sorts after `key`, or
 * undefined when none does: where a walk over card keys (`<org>/<name>@<digest>`) resumes after a key outside the org,
 * skipping every key between, none of which starts with a spelling of it. O(length of the org), no enumeration of its
 * 2^letters spellings: the longest prefix of `key` that spells the org's start is kept, and the deepest position
 * where a greater character may stand takes it, followed by the smallest rest (upper case sorts first).
 */
export function nextSpelling(namespace: string, key: string): string | undefined {
  const choices: string[][] = [...namespace].map((c) => {
    const upper = c.toUpperCase();
    return upper === c ? [c] : [upper, c];
  });
  choices.push(['/']);
  const smallestFrom = (i: number): string =>
    choices
      .slice(i)
      .map((c) => c[0] as string)
      .join('');
  let matched = 0;
  while (matched < key.length && matched < choices.length && (choices[matched] as string[]).includes(key[matched] as string)) matched++;
  // `key` is a proper prefix of a spelling: that spelling, smallest rest, is the next.
  if (matched === key.length && matched < choices.length) return key + smallestFrom(matched);
  for (let i = Math.min(matched, choices.length - 1); i >= 0; i--) {
    const greater = (choices[i] as string[]).find((c) => c > (key[i] as string));
    if (greater !== undefined) return key.slice(0, i) + greater + smallestFrom(i + 1);
  }
  return undefined;
}

/**
 * Admins remove the cards `publisher` published under a namespace it no longer holds (a squatter's, from before the
 * org was assigned to its owner): they stop counting against anyone, hold no labels and serve no request. Bounded per
 * call: at most `limit` removals (1 to MAX_PURGE_PER_CALL) and MAX_SCAN_PER_CALL cards read, from the cursor `after`
 * (the report's `next`). The walk reads only the keys of the org's spellings (`ACME/…`, `AcMe/…`, …, `acme/…`): a
 * key of another org between them is read once, and the walk seeks past the keys up to the next spelling
 * (nextSpelling), so unrelated cards in that key range cost no reads. The current owner's and delegates' cards are
 * never purged: revoke or reassign first.
 */
export function purgeNamespaceCards(
  store: RegistryStore,
  caller: string,
  name: string,
  publisher: string,
  after: string | undefined,
  limit: number
): Result<PurgeReport> {
  const denied = requireAdmin(store, caller);
  if (denied !== undefined) return err(denied);
  const key = checkName(name);
  if ('Err' in key) return key;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PURGE_PER_CALL)
    return err({ InvalidArgument: { field: 'limit', reason: `must be 1 to ${MAX_PURGE_PER_CALL}` } });
  if (after !== undefined && (after.length === 0 || after.length > MAX_CURSOR_LENGTH))
    return err({ InvalidArgument: { field: 'after', reason: `must be 1 to ${MAX_CURSOR_LENGTH} characters` } });
  const record = store.namespaces.get(key.Ok);
  if (record === undefined) return err({ NotFound: { kind: { Namespace: null }, id: name } });
  if (mayPublish(record, publisher))
    return err({ InvalidArgument: { field: 'publisher', reason: "the namespace's owner or a delegate: revoke or reassign it first" } });
  // Every spelling of the org sorts between its all-uppercase and its all-lowercase form.
  const first = `${key.Ok.toUpperCase()}/`;
  const last = `${key.Ok}/\uffff`;
  const doomed: string[] = [];
  let scanned = 0;
  let previous: string | undefined;
  let next: string | undefined;
  // Exclusive: no card key is a bare `<org>/` (card keys are `<id>@<digest>`).
  let from: string | undefined = after !== undefined && after > first ? after : first;
  walk: while (from !== undefined) {
    const start: string = from;
    from = undefined;
    for (const [cardKey, stored] of store.cards.entries(start)) {
      if (cardKey > last) break walk;
      if (scanned >= MAX_SCAN_PER_CALL || doomed.length >= limit) {
        next = previous;
        break walk;
      }
      scanned++;
      previous = cardKey;
      if (namespaceOf(cardKey) !== key.Ok) {
        // Another org between two spellings: seek to the next spelling (none left: the walk is done).
        from = nextSpelling(key.Ok, cardKey);
        break;
      }
      if (stored.publishedBy === publisher && namespaceOf(stored.card.id) === key.Ok) doomed.push(cardKey);
    }
  }
  // Removed after the walk: the walk's order is the store's, which removal changes.
  for (const cardKey of doomed) {
    store.cards.delete(cardKey);
    bump(store, 'cards', publisher, -1, cardKey);
  }
  return ok(next === undefined ? { removed: doomed.length } : { removed: doomed.length, next });
}

/** Starts the migration over every card (an upgrade from state that may hold cards published before namespaces). */
export function startNamespaceMigration(store: RegistryStore, nowNs: bigint): void {
  store.setNamespaceMigration({ startedAtNs: nowNs });
}

/**
 * Cards published before namespaces existed: each org goes to the publisher of its earliest card. It walks the cards
 * in key order from the persisted cursor, one read each, and stops once `outOfBudget` says so, persisting the cursor:
 * the next step (a timer of its own) resumes there, so no message's work grows with the number of cards (up to
 * MAX_CARDS). Idempotent: only records this migration made, and namespaces claimed by publishing while it runs
 * (`sinceNs` at or after its start), give way to an earlier card; assignments are never touched. Returns the records
 * it claimed in this step and whether the migration is done (nothing in progress: done at once).
 */
export function migrateNamespaces(store: RegistryStore, outOfBudget: () => boolean = () => false): { claimed: number; done: boolean } {
  const progress = store.namespaceMigration();
  if (progress === undefined) return { claimed: 0, done: true };
  let claimed = 0;
  let after = progress.after;
  for (const [cardKey, stored] of store.cards.entries(after)) {
    if (outOfBudget()) {
      store.setNamespaceMigration(
        after === undefined ? { startedAtNs: progress.startedAtNs } : { startedAtNs: progress.startedAtNs, after }
      );
      return { claimed, done: false };
    }
    if (migrateCard(store, stored, progress.startedAtNs)) claimed++;
    after = cardKey;
  }
  store.setNamespaceMigration(undefined);
  return { claimed, done: true };
}

function migrateCard(store: RegistryStore, stored: StoredCard, startedAtNs: bigint): boolean {
  const key = namespaceOf(stored.card.id);
  const record = store.namespaces.get(key);
  const provisional = record !== undefined && (record.how === 'migrated' || (record.how === 'published' && record.sinceNs >= startedAtNs));
  if (record !== undefined && (!provisional || record.sinceNs <= stored.publishedAtNs)) return false;
  if (record?.owner === stored.publishedBy) return false;
  const slash = stored.card.id.indexOf('/');
  store.namespaces.set(key, {
    name: stored.card.id.slice(0, slash),
    owner: stored.publishedBy,
    delegates: [],
    sinceNs: stored.publishedAtNs,
    how: 'migrated'
  });
  return true;
}
