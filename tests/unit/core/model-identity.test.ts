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
  revokeNamespaceDelegate,
  type RegistryStore
} from '../../../src/core/registry/index.ts';
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

  it('migration gives each org to the publisher of its earliest card, idempotently, and never overrides assignments', () => {
    const store = newStore();
    const put = (id: string, by: string, at: bigint, seed: string): void => {
      const parsed = safeValidateModelCard(modelCard({ id, digest: digestOf(seed) }));
      if (!parsed.ok) throw new Error('card');
      store.cards.set(`${id}@${parsed.manifest.digest}`, { card: parsed.manifest, publishedBy: by, publishedAtNs: at });
    };
    // Key order (a… before z…) differs from publication order: the earliest publisher must win all the same.
    put('Old/a-late', 'late', NOW + 10n, 'a');
    put('old/z-early', 'early', NOW, 'z');
    put('kept/m', 'squatter', NOW, 'k');
    assignNamespace(store, 'admin', NOW + 5n, 'kept', 'rightful');
    expect(migrateNamespaces(store)).toBe(2);
    expect(getNamespace(store, 'OLD')).toMatchObject({ name: 'old', owner: 'early', how: 'migrated', sinceNs: NOW });
    expect(getNamespace(store, 'kept')).toMatchObject({ owner: 'rightful', how: 'assigned' });
    expect(migrateNamespaces(store)).toBe(0);
    expect(publishCard(store, 'late', NOW, card('old/b'))).toHaveProperty('Err.NamespaceOwned');
  });
});
