import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { safeValidateModelCard } from '../../../src/core/manifest/index.ts';
import {
  assignNamespace,
  makeConfig,
  memoryStore,
  nextSpelling,
  publishCard,
  purgeNamespaceCards,
  type RegistryStore
} from '../../../src/core/registry/index.ts';
import { MAX_SCAN_PER_CALL } from '../../../src/core/registry/limits.ts';
import { digestOf, modelCard } from '../../support/manifests.ts';

/**
 * purge_namespace_cards reads only the keys of the org's spellings (review finding, LOW): the key range `ACME/`…`acme/…`
 * also holds every org from `ACME0` to `Z…` and from `a…` to `acme`, which the walk used to read one by one (an admin
 * needed up to MAX_CARDS / MAX_SCAN_PER_CALL calls per purge). It now seeks from a key of another org straight to the
 * next spelling (nextSpelling). The purge test fails on the walk as it was (checked: it stopped at MAX_SCAN_PER_CALL
 * reads with a cursor, its squatter cards past the unrelated ones not removed).
 */
const NOW = 1_000_000_000_000n;

/** Every spelling of a lowercase org (each letter either case), each followed by `/`: what nextSpelling searches. */
function spellings(org: string): string[] {
  let out = [''];
  for (const c of org) out = out.flatMap((p) => (c.toUpperCase() === c ? [p + c] : [p + c.toUpperCase(), p + c]));
  return out.map((s) => `${s}/`);
}

/** The brute force: the smallest spelling (with its `/`) that sorts after `key`. */
function bruteNext(org: string, key: string): string | undefined {
  return spellings(org)
    .filter((s) => s > key)
    .sort()
    .at(0);
}

const orgChars = fc.constantFrom('a', 'b', 'z', '0', '9', '-', '.', '_');
const keyChars = fc.constantFrom('a', 'A', 'b', 'B', 'z', 'Z', '0', '9', '-', '.', '_', '/', '@', '`', '~', 'c', 'C');
const org = fc.array(orgChars, { minLength: 1, maxLength: 6 }).map((cs) => cs.join(''));

describe('nextSpelling', () => {
  it('is the smallest spelling of the org after the key, as brute force over every spelling finds (random keys)', () => {
    fc.assert(
      fc.property(org, fc.array(keyChars, { maxLength: 9 }), (o, cs) => {
        const key = cs.join('');
        expect(nextSpelling(o, key)).toBe(bruteNext(o, key));
      }),
      { numRuns: 3000 }
    );
  });

  it('agrees with brute force on keys near a spelling (a spelling cut short, changed at one place, or extended)', () => {
    fc.assert(
      fc.property(
        org,
        fc.nat(),
        fc.nat({ max: 8 }),
        fc.array(keyChars, { maxLength: 4 }),
        fc.option(fc.tuple(fc.nat({ max: 8 }), keyChars)),
        (o, pick, cut, tail, change) => {
          const all = spellings(o);
          let key = (all[pick % all.length] as string).slice(0, cut) + tail.join('');
          if (change !== null && change[0] < key.length) key = key.slice(0, change[0]) + change[1] + key.slice(change[0] + 1);
          expect(nextSpelling(o, key)).toBe(bruteNext(o, key));
        }
      ),
      { numRuns: 3000 }
    );
  });

  it('examples', () => {
    expect(nextSpelling('acme', '')).toBe('ACME/');
    expect(nextSpelling('acme', 'ACME0/x')).toBe('ACMe/');
    expect(nextSpelling('acme', 'B/x')).toBe('aCME/');
    expect(nextSpelling('acme', 'aaa/x')).toBe('acME/');
    expect(nextSpelling('acme', 'acmf/x')).toBeUndefined();
    expect(nextSpelling('a-1', 'A-1/x')).toBe('a-1/');
  });
});

describe('purge_namespace_cards walks only the org’s spellings', () => {
  const card = (id: string, seed = id) => modelCard({ id, version: '1.0.0', digest: digestOf(seed) });

  /** A card of another org stored as published (its publisher's quota is not the point here). */
  function put(store: RegistryStore, id: string): void {
    const parsed = safeValidateModelCard(card(id));
    if (!parsed.ok) throw new Error(`card ${id}`);
    store.cards.set(`${id}@${parsed.manifest.digest}`, { card: parsed.manifest, publishedBy: 'others', publishedAtNs: NOW });
  }

  it('removes the squatter’s cards of every spelling in one call, reading one key of another org per gap at most', () => {
    const config = makeConfig({ admins: ['admin'] });
    if ('Err' in config) throw new Error('config');
    const store = memoryStore(config.Ok);
    for (const id of ['ACME/a', 'AcMe/b', 'acme/c', 'acme/d']) expect(publishCard(store, 'squatter', NOW, card(id))).toHaveProperty('Ok');
    expect(assignNamespace(store, 'admin', NOW, 'acme', 'owner')).toHaveProperty('Ok');
    expect(publishCard(store, 'owner', NOW, card('acme/real'))).toHaveProperty('Ok');
    // More unrelated cards in the key range than one call may read: orgs from `ACME0` to `Z…`, between two spellings
    // (`AcMa`, `AcMe0`), and from `a…` to `acmd`; each would have been one read.
    const unrelated = Array.from({ length: 3 * MAX_SCAN_PER_CALL }, (_, i) => {
      const n = String(i).padStart(5, '0');
      return [`ACME${n}`, `B${n}`, `Zeta${n}`, `AcMa${n}`, `AcMe0${n}`, `aa${n}`, `acmd${n}`][i % 7] as string;
    });
    for (const o of unrelated) put(store, `${o}/m`);
    let reads = 0;
    const entries = store.cards.entries.bind(store.cards);
    store.cards.entries = function* (after?: string) {
      for (const entry of entries(after)) {
        reads++;
        yield entry;
      }
    };
    expect(purgeNamespaceCards(store, 'admin', 'acme', 'squatter', undefined, 10)).toEqual({ Ok: { removed: 4 } });
    // 5 cards of the org, and at most one other key per gap between its 16 spellings (and after the last).
    expect(reads).toBeLessThanOrEqual(5 + 17);
    expect([...store.cards.entries()].filter(([k]) => k.toLowerCase().startsWith('acme/')).map(([, c]) => c.card.id)).toEqual([
      'acme/real'
    ]);
    expect(store.cards.size()).toBe(1 + unrelated.length);
  });

  it('keeps the per-call bound and the cursor: a limit stops the walk, and the next call resumes after it', () => {
    const config = makeConfig({ admins: ['admin'] });
    if ('Err' in config) throw new Error('config');
    const store = memoryStore(config.Ok);
    for (const id of ['ACME/a', 'AcMe/b', 'acme/c']) expect(publishCard(store, 'squatter', NOW, card(id))).toHaveProperty('Ok');
    expect(assignNamespace(store, 'admin', NOW, 'acme', 'owner')).toHaveProperty('Ok');
    for (let i = 0; i < 50; i++) put(store, `AcMa${i}/m`);
    const first = purgeNamespaceCards(store, 'admin', 'ACME', 'squatter', undefined, 1);
    expect(first).toMatchObject({ Ok: { removed: 1, next: expect.any(String) as unknown } });
    let after = 'Ok' in first ? first.Ok.next : undefined;
    let removed = 1;
    for (let calls = 0; after !== undefined && calls < 10; calls++) {
      const report = purgeNamespaceCards(store, 'admin', 'acme', 'squatter', after, 1);
      if ('Err' in report) throw new Error('purge');
      removed += report.Ok.removed;
      after = report.Ok.next;
    }
    expect(after).toBeUndefined();
    expect(removed).toBe(3);
    expect(store.cards.size()).toBe(50);
  });
});
