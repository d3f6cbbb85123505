import { describe, expect, it } from 'vitest';

import {
  assignNamespace,
  compareVersions,
  delegateNamespace,
  getCard,
  getNamespace,
  makeConfig,
  MAX_VERSIONS_SCANNED,
  memoryStore,
  migrateNamespaces,
  namespaceOf,
  publishCard,
  purgeNamespaceCards,
  revokeNamespaceDelegate,
  startNamespaceMigration,
  type RegistryStore
} from '../../../src/core/registry/index.ts';
import { MAX_PURGE_PER_CALL } from '../../../src/core/registry/limits.ts';
import { countOf } from '../../../src/core/registry/quotas.ts';
import { safeValidateModelCard } from '../../../src/core/manifest/index.ts';
import { digestOf, modelCard } from '../../support/manifests.ts';

const NOW = 1_000_000_000_000n;

function newStore(): RegistryStore {
  const config = makeConfig({ admins: ['admin'] });
  if ('Err' in config) throw new Error('config');
  return memoryStore(config.Ok);
}

describe('version order (what "latest" means)', () => {
  const ascending = [
    '0.9',
    '1',
    '1.0.0-alpha',
    '1.0.0-alpha.1',
    '1.0.0-alpha.beta',
    '1.0.0-beta.2',
    '1.0.0-beta.11',
    '1.0.0-rc.1',
    '1.0.0',
    'v1.0.1',
    '1.2',
    '1.9.0',
    '1.10.0',
    '2',
    '2.0.0.1',
    '10.0.0',
    '99999999999999999999999.0',
    'latest',
    'zeta'
  ];

  it('orders semver-like labels: numbers numerically (any length), pre-releases first, shorter release first', () => {
    for (let i = 0; i + 1 < ascending.length; i++) {
      const [a, b] = [ascending[i] as string, ascending[i + 1] as string];
      expect(compareVersions(a, b), `${a} < ${b}`).toBeLessThan(0);
      expect(compareVersions(b, a), `${b} > ${a}`).toBeGreaterThan(0);
    }
    const shuffled = [...ascending].reverse().sort(compareVersions);
    expect(shuffled).toEqual(ascending);
  });

  it('is a total order: labels equal as versions compare by their text', () => {
    expect(compareVersions('1.0.0', '1.0.0')).toBe(0);
    expect(compareVersions('1.0', '1.00')).not.toBe(0);
    expect(Math.sign(compareVersions('1.0', '1.00'))).toBe(-Math.sign(compareVersions('1.00', '1.0')));
    expect(compareVersions('1.0.0+b', '1.0.0+a')).toBeGreaterThan(0);
    expect(compareVersions('1.0.0+zzz', '1.0.1')).toBeLessThan(0); // build metadata never outranks a release
    expect(compareVersions('V2', 'v2')).not.toBe(0);
  });
});

describe('namespaces (pure)', () => {
  const card = (id: string, version = '1.0.0', seed = `${id}@${version}`) => modelCard({ id, version, digest: digestOf(seed) });

  it('the namespace is the org, lowercased', () => {
    expect(namespaceOf('Meta-Llama/Llama-3')).toBe('meta-llama');
  });

  it('the first publisher owns the org; others are refused in any spelling; the anonymous caller cannot publish', () => {
    const store = newStore();
    expect(publishCard(store, 'alice', NOW, card('Acme/A'))).toHaveProperty('Ok');
    expect(publishCard(store, 'bob', NOW, card('acme/B'))).toEqual({ Err: { NamespaceOwned: { namespace: 'Acme', owner: 'alice' } } });
    // Re-sending alice's card unchanged is a no-op for anyone; changing it is refused as another's namespace.
    expect(publishCard(store, 'bob', NOW, card('Acme/A'))).toHaveProperty('Ok');
    expect(publishCard(store, 'bob', NOW, { ...card('Acme/A'), family: 'other' })).toHaveProperty('Err.NamespaceOwned');
    expect(publishCard(store, '2vxsx-fae', NOW, card('free/A'))).toEqual({ Err: { AnonymousCaller: null } });
    expect(getNamespace(store, 'ACME')).toMatchObject({ owner: 'alice', how: 'published', delegates: [] });
    expect(getNamespace(store, 'free')).toBeUndefined();
    // A refused card claims nothing.
    expect(publishCard(store, 'bob', NOW, { ...card('bobs/X'), license: '' })).toHaveProperty('Err.InvalidManifest');
    expect(getNamespace(store, 'bobs')).toBeUndefined();
  });

  it('admins assign (clearing delegates); owners delegate and revoke; every bad input is a typed error', () => {
    const store = newStore();
    publishCard(store, 'alice', NOW, card('acme/A'));
    expect(delegateNamespace(store, 'alice', 'acme', 'carol')).toHaveProperty('Ok.delegates', ['carol']);
    expect(publishCard(store, 'carol', NOW, card('acme/C'))).toHaveProperty('Ok');
    expect(delegateNamespace(store, 'carol', 'acme', 'dave')).toHaveProperty('Err.NamespaceOwned');
    expect(delegateNamespace(store, '2vxsx-fae', 'acme', 'dave')).toEqual({ Err: { AnonymousCaller: null } });
    expect(delegateNamespace(store, 'alice', 'acme', '2vxsx-fae')).toHaveProperty('Err.InvalidArgument.field', 'delegate');
    expect(delegateNamespace(store, 'alice', 'ac/me', 'dave')).toHaveProperty('Err.InvalidArgument.field', 'namespace');
    expect(delegateNamespace(store, 'alice', 'x'.repeat(65), 'dave')).toHaveProperty('Err.InvalidArgument.field', 'namespace');
    expect(delegateNamespace(store, 'alice', 'nobody', 'dave')).toEqual({ Err: { NotFound: { kind: { Namespace: null }, id: 'nobody' } } });
    expect(revokeNamespaceDelegate(store, 'alice', 'acme', 'dave')).toHaveProperty('Err.InvalidArgument.field', 'delegate');
    expect(revokeNamespaceDelegate(store, 'alice', 'ACME', 'carol')).toHaveProperty('Ok.delegates', []);
    expect(publishCard(store, 'carol', NOW, card('acme/C', '2.0.0'))).toHaveProperty('Err.NamespaceOwned');

    expect(assignNamespace(store, 'alice', NOW, 'acme', 'bob')).toHaveProperty('Err.Unauthorized');
    expect(assignNamespace(store, 'admin', NOW, 'acme', '2vxsx-fae')).toHaveProperty('Err.InvalidArgument.field', 'owner');
    expect(assignNamespace(store, 'admin', NOW, '-acme', 'bob')).toHaveProperty('Err.InvalidArgument.field', 'namespace');
    delegateNamespace(store, 'alice', 'acme', 'carol');
    expect(assignNamespace(store, 'admin', NOW, 'acme', 'bob')).toHaveProperty('Ok', {
      name: 'acme',
      owner: 'bob',
      delegates: [],
      sinceNs: NOW,
      how: 'assigned'
    });
    expect(publishCard(store, 'alice', NOW, card('acme/A', '2.0.0'))).toHaveProperty('Err.NamespaceOwned');
    expect(publishCard(store, 'carol', NOW, card('acme/C', '3.0.0'))).toHaveProperty('Err.NamespaceOwned');
    expect(publishCard(store, 'bob', NOW, card('acme/A', '2.0.0'))).toHaveProperty('Ok');
  });

  it('"latest" is the highest version among the owner\'s and delegates\' cards, live versions first', () => {
    const store = newStore();
    publishCard(store, 'squatter', NOW, card('org/M', '50.0.0'));
    assignNamespace(store, 'admin', NOW, 'org', 'owner');
    expect(getCard(store, 'org/M')).toBeUndefined();
    publishCard(store, 'owner', NOW, card('org/M', '1.10.0'));
    publishCard(store, 'owner', NOW + 1n, card('org/M', '1.9.0'));
    expect(getCard(store, 'org/M')?.card.version).toBe('1.10.0');
    publishCard(store, 'owner', NOW + 2n, card('org/M', '2.0.0-rc.1'));
    expect(getCard(store, 'org/M')?.card.version).toBe('1.10.0');
    store.cards.set(`org/M@${digestOf('org/M@1.10.0')}`, {
      ...(getCard(store, 'org/M') ?? (undefined as never)),
      deprecated: { reason: 'bad', atNs: NOW, by: 'admin' }
    });
    expect(getCard(store, 'org/M')?.card.version).toBe('1.9.0');
    expect(getCard(store, 'org/M', digestOf('org/M@50.0.0'))?.publishedBy).toBe('squatter');
  });

  it('versions are immutable: CardImmutable names the version and digest already published', () => {
    const store = newStore();
    const first = card('org/M', '1.0.0');
    publishCard(store, 'owner', NOW, first);
    const taken = { Err: { CardImmutable: { model: 'org/M', version: '1.0.0', digest: first.digest } } };
    expect(publishCard(store, 'owner', NOW, { ...first, digest: digestOf('other') })).toEqual(taken);
    expect(publishCard(store, 'owner', NOW, { ...first, family: 'other' })).toEqual(taken);
    expect(publishCard(store, 'owner', NOW, first)).toEqual({ Ok: { id: 'org/M', digest: first.digest } });
  });

  it('an id with MAX_VERSIONS_SCANNED versions takes no more (the version check stays bounded)', () => {
    const store = newStore();
    const first = card('org/M', '0');
    publishCard(store, 'owner', NOW, first);
    const stored = store.cards.get(`org/M@${String(first.digest)}`);
    if (stored === undefined) throw new Error('published');
    for (let i = 1; i < MAX_VERSIONS_SCANNED; i++) {
      const digest = digestOf(`v${i}`);
      store.cards.set(`org/M@${digest}`, { ...stored, card: { ...stored.card, version: String(i), digest } });
    }
    expect(publishCard(store, 'owner', NOW, card('org/M', 'next'))).toEqual({
      Err: { LimitExceeded: { what: 'versions of org/M', limit: BigInt(MAX_VERSIONS_SCANNED) } }
    });
    expect(getCard(store, 'org/M')).toBeDefined();
  });

  /** Stores a card as if published at `at` by `by` (state from before namespaces, or bulk setup). */
  const put = (store: RegistryStore, id: string, by: string, at: bigint, version = '1.0.0', seed = `${id}@${version}`): void => {
    const parsed = safeValidateModelCard(card(id, version, seed));
    if (!parsed.ok) throw new Error('card');
    store.cards.set(`${id}@${parsed.manifest.digest}`, { card: parsed.manifest, publishedBy: by, publishedAtNs: at });
  };

  it("a squatter's versions from before an assignment neither lock the owner out nor hold its labels (issue 16)", () => {
    const store = newStore();
    expect(publishCard(store, 'squatter', NOW, card('big/M', '0'))).toHaveProperty('Ok');
    for (let i = 1; i < MAX_VERSIONS_SCANNED; i++) put(store, 'big/M', 'squatter', NOW, String(i), `squat-${i}`);
    expect(assignNamespace(store, 'admin', NOW, 'big', 'owner')).toHaveProperty('Ok');
    // Before: LimitExceeded (the squatter's 2,000 versions counted), and the squatter's label '7' taken.
    expect(publishCard(store, 'owner', NOW, card('big/M', '1.0.0'))).toHaveProperty('Ok');
    expect(publishCard(store, 'owner', NOW, card('big/M', '7', 'real-7'))).toHaveProperty('Ok');
    expect(getCard(store, 'big/M')?.card.digest).toBe(digestOf('real-7'));
    expect(getCard(store, 'big/M')?.publishedBy).toBe('owner');
  });

  it("admins purge a former holder's cards of a namespace, in bounded calls from a cursor; bad input is typed (issue 16)", () => {
    const store = newStore();
    for (const [id, version] of [
      ['Big/A', '1'],
      ['big/B', '1'],
      ['BIG/C', '1'],
      ['big/B', '2']
    ] as const)
      expect(publishCard(store, 'squatter', NOW, card(id, version))).toHaveProperty('Ok');
    expect(publishCard(store, 'squatter', NOW, card('bigger/M'))).toHaveProperty('Ok');
    expect(assignNamespace(store, 'admin', NOW, 'big', 'owner')).toHaveProperty('Ok');
    expect(publishCard(store, 'owner', NOW, card('big/Real'))).toHaveProperty('Ok');
    const invalid = (field: string) => ({ Err: { InvalidArgument: { field, reason: expect.any(String) as unknown } } });
    expect(purgeNamespaceCards(store, 'squatter', 'big', 'squatter', undefined, 10)).toHaveProperty('Err.Unauthorized');
    expect(purgeNamespaceCards(store, 'admin', 'big', 'squatter', undefined, 0)).toEqual(invalid('limit'));
    expect(purgeNamespaceCards(store, 'admin', 'big', 'squatter', undefined, MAX_PURGE_PER_CALL + 1)).toEqual(invalid('limit'));
    expect(purgeNamespaceCards(store, 'admin', 'big', 'squatter', 'x'.repeat(513), 10)).toEqual(invalid('after'));
    expect(purgeNamespaceCards(store, 'admin', 'bad org', 'squatter', undefined, 10)).toEqual(invalid('namespace'));
    expect(purgeNamespaceCards(store, 'admin', 'owner', 'squatter', undefined, 10)).toEqual({
      Err: { NotFound: { kind: { Namespace: null }, id: 'owner' } }
    });
    expect(purgeNamespaceCards(store, 'admin', 'big', 'owner', undefined, 10)).toEqual(invalid('publisher'));
    expect(countOf(store, 'cards', 'squatter')).toBe(5);

    const first = purgeNamespaceCards(store, 'admin', 'BIG', 'squatter', undefined, 3);
    expect(first).toMatchObject({ Ok: { removed: 3, next: expect.any(String) as unknown } });
    const next = 'Ok' in first ? first.Ok.next : undefined;
    expect(purgeNamespaceCards(store, 'admin', 'big', 'squatter', next, 3)).toEqual({ Ok: { removed: 1 } });
    expect([...store.cards.entries()].map(([, c]) => `${c.card.id}@${c.card.version}`).sort()).toEqual([
      'big/Real@1.0.0',
      'bigger/M@1.0.0'
    ]);
    expect(countOf(store, 'cards', 'squatter')).toBe(1);
    expect(purgeNamespaceCards(store, 'admin', 'big', 'squatter', undefined, 3)).toEqual({ Ok: { removed: 0 } });
  });

  it('migration gives each org to the publisher of its earliest card, idempotently, and never overrides assignments', () => {
    const store = newStore();
    // Key order (a… before z…) differs from publication order: the earliest publisher must win all the same.
    put(store, 'Old/a-late', 'late', NOW + 10n, '1.0.0', 'a');
    put(store, 'old/z-early', 'early', NOW, '1.0.0', 'z');
    put(store, 'kept/m', 'squatter', NOW, '1.0.0', 'k');
    assignNamespace(store, 'admin', NOW + 5n, 'kept', 'rightful');
    startNamespaceMigration(store, NOW + 20n);
    expect(migrateNamespaces(store)).toEqual({ claimed: 2, done: true });
    expect(getNamespace(store, 'OLD')).toMatchObject({ name: 'old', owner: 'early', how: 'migrated', sinceNs: NOW });
    expect(getNamespace(store, 'kept')).toMatchObject({ owner: 'rightful', how: 'assigned' });
    expect(migrateNamespaces(store)).toEqual({ claimed: 0, done: true });
    startNamespaceMigration(store, NOW + 30n);
    expect(migrateNamespaces(store)).toEqual({ claimed: 0, done: true });
    expect(publishCard(store, 'late', NOW, card('old/b'))).toHaveProperty('Err.NamespaceOwned');
  });

  it('migration runs in budgeted steps from a persisted cursor; an org claimed by publishing meanwhile goes to its earliest card (issue 16)', () => {
    const store = newStore();
    for (let i = 0; i < 30; i++) put(store, `org-${String(i).padStart(2, '0')}/m`, `early-${i}`, NOW + BigInt(i));
    put(store, 'zzz/m', 'earliest', NOW);
    const started = NOW + 1_000n;
    startNamespaceMigration(store, started);
    let steps = 0;
    for (let done = false; !done; steps++) {
      let budget = 7;
      done = migrateNamespaces(store, () => budget-- <= 0).done;
      if (!done) expect(store.namespaceMigration()).toMatchObject({ startedAtNs: started, after: expect.any(String) as unknown });
      // Between steps a publisher takes an org whose old cards the walk has not reached yet.
      if (steps === 0) expect(publishCard(store, 'interloper', started + 1n, card('zzz/other'))).toHaveProperty('Ok');
    }
    expect(steps).toBe(5);
    expect(store.namespaceMigration()).toBeUndefined();
    for (let i = 0; i < 30; i++) expect(getNamespace(store, `org-${String(i).padStart(2, '0')}`)?.owner).toBe(`early-${i}`);
    expect(getNamespace(store, 'zzz')).toMatchObject({ owner: 'earliest', how: 'migrated' });
    // Assigned or published before the migration started: never overridden.
    const later = newStore();
    put(later, 'pub/m', 'old', NOW);
    expect(publishCard(later, 'first', NOW - 1n, card('pub/x'))).toHaveProperty('Ok');
    startNamespaceMigration(later, NOW + 5n);
    expect(migrateNamespaces(later)).toEqual({ claimed: 0, done: true });
    expect(getNamespace(later, 'pub')?.owner).toBe('first');
  });
});
