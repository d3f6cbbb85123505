import { describe, expect, it, vi } from 'vitest';

import { Catalog, type GatewayRegistry } from '../../../src/gateway/catalog.ts';
import type { PublishedModel, RunnerCandidate } from '../../../src/sdk/index.ts';

/** A registry whose answers are held back until `release()`, counting its reads. */
function slowRegistry() {
  let runners: string[] = ['r1'];
  let cards: string[] = ['m'];
  let gate: Promise<void> | undefined;
  let open = (): void => undefined;
  const reads = { findRunners: 0, listModels: 0 };
  const registry: GatewayRegistry = {
    listModels: async () => {
      reads.listModels++;
      await gate;
      return cards.map((id) => ({ id }) as PublishedModel);
    },
    findRunners: async () => {
      reads.findRunners++;
      await gate;
      return runners.map((runner) => ({ runner }) as RunnerCandidate);
    }
  };
  return {
    registry,
    reads,
    set: (next: { runners?: string[]; cards?: string[] }) => ({ runners = runners, cards = cards } = next),
    hold: () => (gate = new Promise<void>((resolve) => (open = resolve))),
    release: () => open()
  };
}

const names = (runners: RunnerCandidate[]): string[] => runners.map((r) => r.runner);
const request = { model: 'm', endpointRequired: true, limit: 8 };

describe('Catalog: discovery and cards stale-while-revalidate', () => {
  it('serves a stale answer at once while one read refreshes it; past the stale bound it reads first', async () => {
    const r = slowRegistry();
    let clockMs = 0;
    const catalog = new Catalog(r.registry, () => clockMs);
    expect(names(await catalog.findRunners(request))).toEqual(['r1']);
    r.set({ runners: ['r2'] });
    clockMs = 999;
    expect(names(await catalog.findRunners(request))).toEqual(['r1']);
    expect(r.reads.findRunners).toBe(1);
    // Stale: answered from the cache while the registry (held back) is asked once for all.
    r.hold();
    clockMs = 1_000;
    expect(names(await catalog.findRunners(request))).toEqual(['r1']);
    expect(names(await catalog.findRunners(request))).toEqual(['r1']);
    expect(r.reads.findRunners).toBe(2);
    r.release();
    await vi.waitFor(async () => expect(names(await catalog.findRunners(request))).toEqual(['r2']));
    expect(r.reads.findRunners).toBe(2);
    // Past the stale bound, or after a failure forgot the answers, the request waits for the registry.
    r.set({ runners: ['r3'] });
    clockMs = 20_000;
    expect(names(await catalog.findRunners(request))).toEqual(['r3']);
    r.set({ runners: ['r4'] });
    catalog.forgetRunners();
    expect(names(await catalog.findRunners(request))).toEqual(['r4']);
    expect(r.reads.findRunners).toBe(4);
  });

  it('cards: served from the cache while refreshed in the background, read first when too old; an unknown id reads again', async () => {
    const r = slowRegistry();
    let clockMs = 0;
    const catalog = new Catalog(r.registry, () => clockMs);
    expect((await catalog.card('m')).id).toBe('m');
    r.set({ cards: ['m', 'n'] });
    r.hold();
    clockMs = 10_000;
    expect([...(await catalog.publishedCards()).keys()]).toEqual(['m']);
    expect(r.reads.listModels).toBe(2);
    r.release();
    await vi.waitFor(async () => expect([...(await catalog.publishedCards()).keys()]).toEqual(['m', 'n']));
    r.set({ cards: ['o'] });
    clockMs = 100_000;
    expect([...(await catalog.publishedCards()).keys()]).toEqual(['o']);
    expect(r.reads.listModels).toBe(3);
    await expect(catalog.card('zz')).rejects.toMatchObject({ code: 'ModelNotFound' });
  });

  it('a flood of distinct requests evicts the oldest answers only, never the whole cache', async () => {
    const r = slowRegistry();
    const catalog = new Catalog(r.registry, () => 0);
    for (let i = 0; i <= 1_000; i++) await catalog.findRunners({ ...request, model: `m${i}` });
    expect(r.reads.findRunners).toBe(1_001);
    // m0 made room for m1000; m1 … m1000 are still answered from the cache.
    for (let i = 1; i <= 1_000; i++) await catalog.findRunners({ ...request, model: `m${i}` });
    expect(r.reads.findRunners).toBe(1_001);
  });

  it('the models list is built once per TTL, one build shared by concurrent callers', async () => {
    const r = slowRegistry();
    r.set({ cards: ['a', 'b', 'c'] });
    let clockMs = 0;
    const withEndpoint: GatewayRegistry = {
      listModels: r.registry.listModels,
      findRunners: async (req) => (await r.registry.findRunners(req)).map((c) => ({ ...c, endpoint: 'http://127.0.0.1:9' }))
    };
    const catalog = new Catalog(withEndpoint, () => clockMs);
    const lists = await Promise.all([catalog.liveModels(), catalog.liveModels(), catalog.liveModels()]);
    expect(lists.map((l) => l.map((e) => e.id))).toEqual([
      ['a', 'b', 'c'],
      ['a', 'b', 'c'],
      ['a', 'b', 'c']
    ]);
    expect(r.reads.findRunners).toBe(3);
    clockMs = 9_999;
    await catalog.liveModels();
    expect(r.reads.findRunners).toBe(3);
    clockMs = 10_000;
    await catalog.liveModels();
    expect(r.reads.findRunners).toBe(6);
  });
});
