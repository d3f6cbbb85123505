import { describe, expect, it } from 'vitest';

import {
  findRunners,
  getCard,
  heartbeat,
  makeConfig,
  memoryStore,
  publishCard,
  RATIO_CLAMP,
  registerRunner,
  SessionAffinity,
  updateRunner,
  type Candidate,
  type RegistryStore
} from '../../../src/core/registry/index.ts';
import { components, median, relative } from '../../../src/core/registry/ranking.ts';
import { deployment, digestOf, modelCard, runnerManifest } from '../../support/manifests.ts';

const SECOND = 1_000_000_000n;
const NOW = 1_000_000n * SECOND;
const OPERATOR = 'aaaaa-aa';

function newStore(): RegistryStore {
  const config = makeConfig({ admins: ['admin'], heartbeatIntervalNs: 60n * SECOND });
  if ('Err' in config) throw new Error('config');
  const store = memoryStore(config.Ok);
  store.setQuotas({ ...store.quotas(), runnersPerOperator: 1000 });
  return store;
}

const card = modelCard();
const MODEL = String(card.id);

function addRunner(
  store: RegistryStore,
  id: string,
  deploymentOverrides: Record<string, unknown> = {},
  manifest: Record<string, unknown> = {}
) {
  const registered = registerRunner(store, id, NOW, runnerManifest(OPERATOR, [deployment(card, deploymentOverrides)], manifest));
  if ('Err' in registered) throw new Error(`register ${id}: ${JSON.stringify(registered.Err)}`);
  heartbeat(store, id, NOW, { state: 'ready', busySlots: 0, queueDepth: 0, tokensPerSecond: 1, kvCacheUsage: 0 });
}

function found(store: RegistryStore, request: Record<string, unknown> = {}, caller?: string): Map<string, Candidate> {
  const result = findRunners(store, NOW, { model: MODEL, ...request }, caller);
  if ('Err' in result) throw new Error('find');
  return new Map(result.Ok.map((c) => [c.runnerId, c]));
}

const price = (perMillion: number) => ({ price: { inputPerMillion: perMillion, outputPerMillion: perMillion } });
const gpu = (peakTops: number, watts: number) => ({
  hardware: {
    accelerators: [{ class: 'gpu', vendor: 'nvidia', model: 'X', memoryGiB: 24, count: 1, peakTops, watts }],
    cpu: { cores: 16, architecture: 'x86_64' },
    ramGiB: 64
  }
});

describe('ranking clamps', () => {
  it('relative() is 0.5 at the median and bounded by RATIO_CLAMP both ways, whatever the ratio', () => {
    expect(relative(1)).toBe(0.5);
    expect(relative(Infinity)).toBe(RATIO_CLAMP / (1 + RATIO_CLAMP));
    expect(relative(1e300)).toBe(RATIO_CLAMP / (1 + RATIO_CLAMP));
    expect(relative(0)).toBe(1 / RATIO_CLAMP / (1 + 1 / RATIO_CLAMP));
    expect(relative(NaN)).toBe(0.5);
    expect(relative(2)).toBeCloseTo(2 / 3, 12);
  });

  it('median() picks the lower middle (quickselect), 0 for none', () => {
    expect(median([])).toBe(0);
    expect(median([5])).toBe(5);
    expect(median([4, 1, 3, 2])).toBe(2);
    expect(median([9, 1, 8, 2, 7, 3, 6])).toBe(6);
    const values = Array.from({ length: 1001 }, (_, i) => (i * 7919) % 1001);
    expect(median(values)).toBe(500);
    expect(median([3, 3, 3, 1, 3])).toBe(3);
  });

  it('uses only the measured latency EMA, neutral (0.5) without a measurement', () => {
    const base = { slots: 1, busySlots: 0, queueDepth: 0, ageMs: 0, ttlMs: 1000, blendedPrice: 10, topsPerWatt: undefined };
    const medians = { price: 10, latencyMs: 1000, topsPerWatt: 0 };
    expect(components({ ...base, reputation: undefined }, medians).latency).toBe(0.5);
    const fast = { completed: 1, failed: 0, rejected: 0, expiredLeases: 0, latencyMsEma: 1e-300 };
    // Even an impossible figure is clamped: at most RATIO_CLAMP times better than the median.
    expect(components({ ...base, reputation: fast }, medians).latency).toBe(RATIO_CLAMP / (1 + RATIO_CLAMP));
    expect(components({ ...base, reputation: { ...fast, latencyMsEma: 2000 } }, medians).latency).toBeCloseTo(1 / 3, 12);
  });

  it('a price of 0 does not zero the other runners: price is relative to the median and clamped', () => {
    const store = newStore();
    publishCard(store, 'publisher', NOW, card);
    addRunner(store, 'runner-a', price(1000));
    addRunner(store, 'runner-b', price(1000));
    addRunner(store, 'runner-free', price(0));
    const byId = found(store);
    expect(byId.get('runner-a')?.breakdown.price).toBe(0.5);
    expect(byId.get('runner-b')?.breakdown.price).toBe(0.5);
    expect(byId.get('runner-free')?.breakdown.price).toBe(RATIO_CLAMP / (1 + RATIO_CLAMP));
  });

  it('TOPS/W is clamped to the physical ceiling and compared with the median: a huge claim gains a bounded amount', () => {
    const store = newStore();
    publishCard(store, 'publisher', NOW, card);
    addRunner(store, 'runner-a', {}, gpu(1321, 450));
    addRunner(store, 'runner-b', {}, gpu(1321, 450));
    addRunner(store, 'runner-efficient', {}, gpu(40_000, 800));
    addRunner(store, 'runner-unknown', {}, { hardware: { accelerators: [], cpu: { cores: 8, architecture: 'x86_64' }, ramGiB: 32 } });
    const byId = found(store);
    expect(byId.get('runner-a')?.breakdown.efficiency).toBe(0.5);
    expect(byId.get('runner-unknown')?.breakdown.efficiency).toBe(0.5);
    expect(byId.get('runner-efficient')?.breakdown.efficiency).toBe(RATIO_CLAMP / (1 + RATIO_CLAMP));
    const gap = (byId.get('runner-efficient')?.score ?? 0) - (byId.get('runner-a')?.score ?? 0);
    expect(gap).toBeLessThanOrEqual(Math.round(0.05 * (RATIO_CLAMP / (1 + RATIO_CLAMP) - 0.5) * 10_000) + 1);
  });
});

describe('plausibility bounds at register and update', () => {
  it('refuses a served context beyond the card, and the impossible hardware of the issue', () => {
    const store = newStore();
    const small = modelCard({ id: 'org/small', contextLength: 2048, digest: digestOf('small') });
    publishCard(store, 'publisher', NOW, small);
    expect(registerRunner(store, 'runner-x', NOW, runnerManifest(OPERATOR, [deployment(small, { servedContext: 10_000_000 })]))).toEqual({
      Err: {
        InvalidManifest: {
          issues: [
            {
              path: 'deployments[0].servedContext',
              message: `implausible: serves 10000000 tokens of context, more than the 2048 of card org/small@${String(small.digest)}`
            }
          ]
        }
      }
    });
    expect(registerRunner(store, 'runner-x', NOW, runnerManifest(OPERATOR, [deployment(small, { servedContext: 2048 })]))).toHaveProperty(
      'Ok'
    );
    // The same bound on update: the stored card is the reference.
    expect(
      updateRunner(store, 'runner-x', NOW, 'runner-x', runnerManifest(OPERATOR, [deployment(small, { servedContext: 2049 })]))
    ).toHaveProperty('Err.InvalidManifest');
    expect(getCard(store, 'org/small')?.card.contextLength).toBe(2048);
    const hardware = (accelerator: Record<string, unknown>) => ({
      hardware: { accelerators: [accelerator], cpu: { cores: 16, architecture: 'x86_64' }, ramGiB: 64 }
    });
    const impossible = [
      hardware({ class: 'gpu', vendor: 'v', model: 'm', memoryGiB: 10_000, count: 64 }),
      hardware({ class: 'gpu', vendor: 'v', model: 'm', memoryGiB: 24, count: 1, peakTops: 100, watts: 1e-300 })
    ];
    for (const overrides of impossible) {
      expect(
        registerRunner(store, 'runner-y', NOW, runnerManifest(OPERATOR, [deployment(small, { servedContext: 2048 })], overrides))
      ).toHaveProperty('Err.InvalidManifest');
    }
  });
});

describe('confidential computing claims', () => {
  it('shows a claim as unverified and does not count it as confidential', () => {
    const store = newStore();
    publishCard(store, 'publisher', NOW, card);
    addRunner(store, 'runner-cc', {}, { confidential: { kind: 'sev-snp', evidenceDigest: digestOf('made-up evidence') } });
    addRunner(store, 'runner-plain');
    const all = found(store);
    expect(all.get('runner-cc')).toMatchObject({ confidentialKind: 'sev-snp', confidentialVerified: false });
    expect(all.get('runner-plain')).toMatchObject({ confidentialKind: 'none', confidentialVerified: false });
    expect([...found(store, { confidentialRequired: true }).keys()]).toEqual([]);
    expect(store.runners.get('runner-cc')?.manifest.confidential.evidenceDigest).toBe(digestOf('made-up evidence'));
  });
});

describe('session affinity', () => {
  it('pins nothing until a runner served the session; then that runner, for that requester only, while it has capacity', () => {
    const store = newStore();
    publishCard(store, 'publisher', NOW, card);
    for (const id of ['runner-a', 'runner-b', 'runner-c']) addRunner(store, id);
    const unpinned = found(store, { affinityKey: 'session-1' }, 'alice');
    expect([...unpinned.values()].some((c) => c.affinity)).toBe(false);
    store.affinity.bind('alice', 'session-1', 'runner-c');
    const first = findRunners(store, NOW, { model: MODEL, affinityKey: 'session-1' }, 'alice');
    expect('Ok' in first && first.Ok[0]).toMatchObject({ runnerId: 'runner-c', affinity: true });
    // Another caller with the same key is not pinned: a binding belongs to the requester it served.
    expect([...found(store, { affinityKey: 'session-1' }, 'mallory').values()].some((c) => c.affinity)).toBe(false);
    // Without a free slot the session goes where ranking sends it.
    heartbeat(store, 'runner-c', NOW, { state: 'busy', busySlots: 4, queueDepth: 0, tokensPerSecond: 1, kvCacheUsage: 1 });
    expect([...found(store, { affinityKey: 'session-1' }, 'alice').values()].some((c) => c.affinity)).toBe(false);
  });

  it('keeps at most its capacity of bindings, dropping the least recently bound', () => {
    const affinity = new SessionAffinity(2);
    affinity.bind('r', 'k1', 'a');
    affinity.bind('r', 'k2', 'b');
    affinity.bind('r', 'k1', 'c');
    affinity.bind('r', 'k3', 'd');
    expect(affinity.size).toBe(2);
    expect(affinity.runnerFor('r', 'k2')).toBeUndefined();
    expect(affinity.runnerFor('r', 'k1')).toBe('c');
    expect(affinity.runnerFor('r', 'k3')).toBe('d');
  });
});
