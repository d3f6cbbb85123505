import { describe, expect, it } from 'vitest';

import { AFFINITY_SCORE_BAND, planRoute, runnerRequestOf } from '../../../src/gateway/routing.ts';
import type { RunnerCandidate } from '../../../src/sdk/index.ts';
import { testCandidate } from '../../support/gateway-fixtures.ts';

const candidate = (runner: string, overrides: Partial<RunnerCandidate> = {}): RunnerCandidate =>
  testCandidate('org/model', {
    runner,
    endpoint: `http://${runner}.example`,
    region: 'eu-west',
    model: { id: 'org/model', digest: 'sha256:00' },
    score: 5_000,
    inputPricePerMillion: 100n,
    outputPricePerMillion: 300n,
    ...overrides
  });
const runners = (list: RunnerCandidate[]): string[] => list.map((c) => c.runner);

describe('runnerRequestOf: the provider object as a registry request', () => {
  it('maps every filter, prices in e8s per million, and always asks for runners with an endpoint', () => {
    expect(
      runnerRequestOf('org/model', {
        quantizations: ['Q4_K_M'],
        max_price: { prompt: 150.9, completion: 400 },
        region: 'eu-west',
        min_context: 4096,
        min_bits: 4,
        engine: 'vllm',
        accelerator: 'gpu',
        capabilities: ['tools'],
        confidential: true,
        digests: [`sha256:${'a'.repeat(64)}`]
      })
    ).toEqual({
      model: 'org/model',
      endpointRequired: true,
      limit: 20,
      quantizations: ['Q4_K_M'],
      maxInputPricePerMillion: 150n,
      maxOutputPricePerMillion: 400n,
      region: 'eu-west',
      minContext: 4096n,
      minBits: 4,
      engine: 'vllm',
      acceleratorClass: 'gpu',
      capabilities: ['tools'],
      confidentialRequired: true,
      digests: [`sha256:${'a'.repeat(64)}`]
    });
    expect(runnerRequestOf('org/model', undefined)).toEqual({ model: 'org/model', endpointRequired: true, limit: 20 });
  });
});

describe('planRoute: which runners, in which order', () => {
  const ranked = [
    candidate('a', { score: 9_000, inputPricePerMillion: 300n }),
    candidate('b', { score: 7_000, inputPricePerMillion: 100n }),
    candidate('c', { score: 5_000, inputPricePerMillion: 200n }),
    candidate('d', { score: 3_000, endpoint: undefined })
  ];

  it('keeps the registry order, drops runners without an endpoint, applies only / ignore', () => {
    expect(runners(planRoute(ranked, undefined))).toEqual(['a', 'b', 'c']);
    expect(runners(planRoute(ranked, { only: ['c', 'a', 'd'] }))).toEqual(['a', 'c']);
    expect(runners(planRoute(ranked, { ignore: ['a'] }))).toEqual(['b', 'c']);
    expect(runners(planRoute(ranked, { only: ['a'], ignore: ['a'] }))).toEqual([]);
  });

  it('order first, then the rest unless allow_fallbacks is false; without order, false keeps only the first choice', () => {
    expect(runners(planRoute(ranked, { order: ['c', 'x', 'b'] }))).toEqual(['c', 'b', 'a']);
    expect(runners(planRoute(ranked, { order: ['c', 'c', 'b', 'c'] }))).toEqual(['c', 'b', 'a']);
    expect(runners(planRoute(ranked, { order: ['c', 'b'], allow_fallbacks: false }))).toEqual(['c', 'b']);
    expect(runners(planRoute(ranked, { order: ['x'], allow_fallbacks: false }))).toEqual([]);
    expect(runners(planRoute(ranked, { allow_fallbacks: false }))).toEqual(['a']);
  });

  it('sort by price, latency or throughput (measured by the gateway; unmeasured last), at most maxAttempts', () => {
    expect(runners(planRoute(ranked, { sort: 'price' }))).toEqual(['b', 'c', 'a']);
    const measurements = (runner: string) =>
      ({ a: { firstTokenMs: 300, tokensPerSecond: 10 }, c: { firstTokenMs: 100, tokensPerSecond: 50 } })[runner];
    expect(runners(planRoute(ranked, { sort: 'latency' }, { measurements }))).toEqual(['c', 'a', 'b']);
    expect(runners(planRoute(ranked, { sort: 'throughput' }, { measurements }))).toEqual(['c', 'a', 'b']);
    expect(runners(planRoute(ranked, undefined, { maxAttempts: 2 }))).toEqual(['a', 'b']);
    expect(runners(planRoute(ranked, undefined, { demoted: (runner) => runner === 'a' }))).toEqual(['b', 'c', 'a']);
  });

  it('runners serving less context than the max_tokens the engine is told go after the others, before demoted ones', () => {
    const list = [
      candidate('short', { score: 9_000, servedContext: 512n }),
      candidate('long', { score: 8_000, servedContext: 8_192n }),
      candidate('exact', { score: 7_000, servedContext: 1_024n }),
      candidate('demoted', { score: 6_000, servedContext: 8_192n })
    ];
    const demoted = (runner: string): boolean => runner === 'demoted';
    expect(runners(planRoute(list, undefined, { maxTokens: 1_024, demoted }))).toEqual(['long', 'exact', 'short', 'demoted']);
    expect(runners(planRoute(list, undefined, { maxTokens: 256, demoted }))).toEqual(['short', 'long', 'exact', 'demoted']);
    // An explicit `order` still wins.
    expect(runners(planRoute(list, { order: ['short'] }, { maxTokens: 1_024 }))).toEqual(['short', 'long', 'exact', 'demoted']);
  });

  it('an affinity key picks one runner among equals, the same every time, and different keys spread', () => {
    const equals = ['r1', 'r2', 'r3', 'r4', 'r5'].map((r, i) => candidate(r, { score: 8_000 - i * 10 }));
    const firstFor = (key: string): string | undefined => planRoute(equals, undefined, { affinityKey: key })[0]?.runner;
    expect(firstFor('session-1')).toBe(firstFor('session-1'));
    // The others keep their order behind the chosen one.
    const plan = runners(planRoute(equals, undefined, { affinityKey: 'session-1', maxAttempts: 10 }));
    expect(plan.slice(1)).toEqual(['r1', 'r2', 'r3', 'r4', 'r5'].filter((r) => r !== plan[0]));
    const chosen = new Set(Array.from({ length: 40 }, (_, i) => firstFor(`user-${i}`)));
    expect(chosen.size).toBeGreaterThan(2);
    // Still the same runner when another one leaves.
    const stay = firstFor('session-1');
    const without = equals.filter((c) => c.runner !== (stay === 'r1' ? 'r2' : 'r1'));
    expect(planRoute(without, undefined, { affinityKey: 'session-1' })[0]?.runner).toBe(stay);
  });

  it('affinity never promotes a clearly worse runner, nor one another sort key ranks lower', () => {
    const apart = [candidate('best', { score: 9_000 }), candidate('worse', { score: 9_000 - AFFINITY_SCORE_BAND - 1 })];
    for (let i = 0; i < 20; i++) expect(planRoute(apart, undefined, { affinityKey: `k${i}` })[0]?.runner).toBe('best');
    const priced = [candidate('cheap', { inputPricePerMillion: 1n }), candidate('dear', { inputPricePerMillion: 2n })];
    for (let i = 0; i < 20; i++) expect(planRoute(priced, { sort: 'price' }, { affinityKey: `k${i}` })[0]?.runner).toBe('cheap');
  });
});
