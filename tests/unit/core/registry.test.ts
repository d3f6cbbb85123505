import { describe, expect, it } from 'vitest';

import {
  findRunners,
  heartbeat,
  listCards,
  makeConfig,
  MAX_UNFILTERED_SCAN,
  memoryStore,
  publishCard,
  registerRunner,
  scoreOf,
  stats,
  WEIGHTS,
  type RegistryStore
} from '../../../src/core/registry/index.ts';
import { deployment, digestOf, modelCard, runnerManifest } from '../../support/manifests.ts';

const SECOND = 1_000_000_000n;
const NOW = 1_000_000n * SECOND;

function newStore(): RegistryStore {
  const config = makeConfig({ admins: ['admin'], heartbeatIntervalNs: 60n * SECOND });
  if ('Err' in config) throw new Error('config');
  return memoryStore(config.Ok);
}

describe('registry core (pure)', () => {
  it('rejects a TTL shorter than two intervals and too many admins', () => {
    expect(makeConfig({ admins: [], heartbeatIntervalNs: 60n * SECOND, heartbeatTtlNs: 90n * SECOND })).toHaveProperty('Err');
    expect(makeConfig({ admins: Array.from({ length: 40 }, (_, i) => `a${i}`) })).toHaveProperty('Err.LimitExceeded');
    expect(makeConfig({ admins: [], heartbeatTtlNs: 1n })).toHaveProperty('Err.InvalidArgument');
  });

  it('weights sum to one, so scores span 0..10,000', () => {
    expect(Object.values(WEIGHTS).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 10);
    expect(scoreOf({ load: 1, freshness: 1, price: 1, reputation: 1, latency: 1, efficiency: 1 })).toBe(10_000);
    expect(scoreOf({ load: 0, freshness: 0, price: 0, reputation: 0, latency: 0, efficiency: 0 })).toBe(0);
  });

  it('ranks by load, price and freshness deterministically, and explains each score', () => {
    const store = newStore();
    const card = modelCard();
    expect(publishCard(store, 'publisher', NOW, card)).toHaveProperty('Ok');
    const ids = ['runner-a', 'runner-b', 'runner-c'];
    const prices = [3000, 1000, 1000];
    ids.forEach((id, i) => {
      expect(
        registerRunner(
          store,
          id,
          NOW,
          runnerManifest('aaaaa-aa', [deployment(card, { price: { inputPerMillion: prices[i], outputPerMillion: prices[i] } })])
        )
      ).toHaveProperty('Ok');
    });
    heartbeat(store, 'runner-a', NOW, { state: 'ready', busySlots: 0, queueDepth: 0, tokensPerSecond: 1, kvCacheUsage: 0 });
    heartbeat(store, 'runner-b', NOW - 100n * SECOND, { state: 'ready', busySlots: 0, queueDepth: 0, tokensPerSecond: 1, kvCacheUsage: 0 });
    heartbeat(store, 'runner-c', NOW, { state: 'busy', busySlots: 4, queueDepth: 2, tokensPerSecond: 1, kvCacheUsage: 0.9 });
    const result = findRunners(store, NOW, { model: card.id as string });
    if ('Err' in result) throw new Error('find');
    const byId = new Map(result.Ok.map((c) => [c.runnerId, c]));
    expect(byId.get('runner-c')?.breakdown.load).toBe(0);
    expect(byId.get('runner-b')?.breakdown.freshness).toBeCloseTo(1 - 100 / 180, 6);
    // Price relative to the median (2000 blended): at the median 0.5, at three times it (1/3)/(1 + 1/3).
    expect(byId.get('runner-b')?.breakdown.price).toBe(0.5);
    expect(byId.get('runner-a')?.breakdown.price).toBeCloseTo(2001 / 6001 / (1 + 2001 / 6001), 6);
    const again = findRunners(store, NOW, { model: card.id as string });
    expect(again).toEqual(result);
    expect(result.Ok.map((c) => c.score)).toEqual([...result.Ok.map((c) => c.score)].sort((a, b) => b - a));
    const modelStats = stats(store, NOW);
    expect(modelStats).toEqual([
      expect.objectContaining({ model: card.id, readyRunners: 3, freeSlots: 8, queueDepth: 2, medianInputPricePerMillion: 1000n })
    ]);
  });

  it('bounds list scans and returns a cursor', () => {
    const store = newStore();
    for (let i = 0; i < 25; i++)
      publishCard(store, 'publisher', NOW, modelCard({ id: `org/m${String(i).padStart(2, '0')}`, digest: digestOf(`m${i}`) }));
    const first = listCards(store, {}, { limit: 10 });
    if ('Err' in first) throw new Error('list');
    expect(first.Ok.items.length).toBe(10);
    const second = listCards(store, {}, { limit: 10, after: first.Ok.next });
    if ('Err' in second) throw new Error('list');
    expect(second.Ok.items[0]?.card.id).toBe('org/m10');
    expect(listCards(store, {}, { limit: 0 })).toHaveProperty('Err.InvalidArgument');
  });

  it('ranks a moving window of MAX_UNFILTERED_SCAN runners instead of failing an unfiltered find_runners', () => {
    const store = newStore();
    store.setQuotas({ ...store.quotas(), runnersPerOperator: MAX_UNFILTERED_SCAN + 1 });
    const card = modelCard();
    publishCard(store, 'publisher', NOW, card);
    const manifest = runnerManifest('aaaaa-aa', [deployment(card)]);
    for (let i = 0; i <= MAX_UNFILTERED_SCAN; i++) {
      expect(registerRunner(store, `runner-${i}`, NOW, manifest)).toHaveProperty('Ok');
    }
    for (let i = 0; i <= MAX_UNFILTERED_SCAN; i++)
      heartbeat(store, `runner-${i}`, NOW, { state: 'ready', busySlots: 0, queueDepth: 0, tokensPerSecond: 1, kvCacheUsage: 0 });
    const found = findRunners(store, NOW, {});
    expect(found).toHaveProperty('Ok');
    expect('Ok' in found && found.Ok.length).toBe(10);
    expect(findRunners(store, NOW, { model: card.id as string })).toHaveProperty('Ok');
  });
});
