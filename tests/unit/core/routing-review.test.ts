import { describe, expect, it } from 'vitest';

import {
  acceptOperator,
  heartbeat,
  makeConfig,
  memoryStore,
  publishCard,
  registerRunner,
  updateRunner,
  type Result
} from '../../../src/core/registry/index.ts';
import {
  acceptTask,
  claimTask,
  completeTask,
  escrowConfirmed,
  failTask,
  MAX_FAILURES,
  MAX_ROUTING_CANDIDATES,
  memoryTaskStore,
  rejectTask,
  setTaskConfig,
  submitTask,
  tick,
  type Stores,
  type SubmitArgs,
  type TaskConfigInput
} from '../../../src/core/tasks/index.ts';
import {
  epochCredits,
  FULL_REJECTION_AFTER_PAID_TASKS,
  fullRejectionVolumeE8s,
  requesterRejectionWeight
} from '../../../src/core/rewards/index.ts';
import { principalToText } from '../../../src/core/principal-text.ts';
import { deployment, digestOf, modelCard, runnerManifest } from '../../support/manifests.ts';

/**
 * Routing and review rules of issue 16's adversarial review: submit ranks a bounded window of runners, failures count
 * per distinct operator, and a requester's rejection weighs by its paid history.
 */
const SECOND = 1_000_000_000n;
const NOW = 1_000_000n * SECOND;
const ADMIN = 'admin';
const REQUESTER = 'requester';
const TREASURY = principalToText(Uint8Array.of(0x0e, 1));
const card = modelCard();
const MODEL = String(card.id);

function okOf<T>(result: Result<T>): T {
  if ('Err' in result) throw new Error(`expected Ok, got ${JSON.stringify(result.Err, (_k, v: unknown) => String(v))}`);
  return result.Ok;
}

const principal = (tag: number, i: number): string => principalToText(Uint8Array.of(tag, i >> 8, i & 255));

function world(config: TaskConfigInput = {}): Stores {
  const store: Stores = { ...memoryStore(okOf(makeConfig({ admins: [ADMIN], heartbeatIntervalNs: 60n * SECOND }))), ...memoryTaskStore() };
  okOf(setTaskConfig(store, ADMIN, { ledger: 'ryjl3-tyaaa-aaaaa-aaaba-cai', treasury: { owner: TREASURY }, ...config }));
  okOf(publishCard(store, 'publisher', NOW, card));
  return store;
}

/** Registers a live runner `id` named by `operator` (its own principal-like operator by default). */
function addRunner(store: Stores, id: string, operator: string, perMillion = 1000): void {
  const price = { inputPerMillion: perMillion, outputPerMillion: perMillion };
  okOf(registerRunner(store, id, NOW, runnerManifest(operator, [deployment(card, { slots: 2, price })])));
  okOf(heartbeat(store, id, NOW, { state: 'ready', busySlots: 0, queueDepth: 0, tokensPerSecond: 1, kvCacheUsage: 0 }));
}

function args(key: string, overrides: Partial<SubmitArgs> = {}): SubmitArgs {
  return {
    idempotencyKey: key,
    request: { model: MODEL },
    input: { inline: 'Say hello.' },
    limits: { maxOutputTokens: 64 },
    rewardE8s: 1_000_000n,
    deadlineNs: NOW + 3600n * SECOND,
    redundancy: 1,
    ...overrides
  };
}

function queued(store: Stores, key: string, overrides: Partial<SubmitArgs> = {}, requester = REQUESTER): string {
  const { task } = okOf(submitTask(store, requester, NOW, args(key, overrides)));
  escrowConfirmed(store, task.id, 7n, NOW);
  return task.id;
}

const result = (output: string) => ({
  outputDigest: digestOf(output),
  output,
  inputTokens: 12n,
  outputTokens: BigInt(Math.min(34, new TextEncoder().encode(output).length + 32)),
  firstTokenMs: 1,
  totalMs: 1
});

function answered(store: Stores, id: string, runners: Array<[string, string]>, at = NOW): void {
  for (const [runner] of runners) okOf(claimTask(store, runner, at, id));
  for (const [runner, output] of runners) okOf(completeTask(store, runner, at, id, result(output)));
}

describe('submit ranks a bounded window of the model’s runners', () => {
  it(`reads at most ${MAX_ROUTING_CANDIDATES} runners' records per submit, whatever the model's runner count`, () => {
    const store = world();
    for (let i = 0; i < 600; i++) addRunner(store, `runner-${String(i).padStart(4, '0')}`, principal(0x0f, i));
    let reads = 0;
    const read = store.reputation.get.bind(store.reputation);
    store.reputation.get = (id: string) => (reads++, read(id));
    const first = queued(store, 'k1');
    expect(reads).toBeGreaterThan(0);
    expect(reads).toBeLessThanOrEqual(MAX_ROUTING_CANDIDATES + 1);
    // The window rotates with the task number: the next task is offered to other runners.
    const second = queued(store, 'k2');
    expect(store.tasks.get(first)?.preferred).toHaveLength(3);
    expect(store.tasks.get(second)?.preferred?.some((r) => store.tasks.get(first)?.preferred?.includes(r))).toBe(false);
  });

  it('always ranks the model’s proven top runners, however many bonded Sybils dilute the window (review 2, F8)', () => {
    const store = world();
    for (let i = 0; i < 600; i++) addRunner(store, `sybil-${String(i).padStart(4, '0')}`, principal(0x0f, i));
    addRunner(store, 'proven', principal(0x0b, 1), 100);
    // A paid history: independent requesters accept its work (once the routing window let it lease).
    for (let i = 0; i < 3; i++) {
      const id = queued(store, `history-${i}`, {}, `client-${i}`);
      const at = store.tasks.get(id)?.openToAllAtNs ?? NOW;
      okOf(claimTask(store, 'proven', at, id));
      okOf(completeTask(store, 'proven', at, id, result('hi')));
      okOf(acceptTask(store, `client-${i}`, at, id));
    }
    expect(store.reputation.get('proven')?.independentAccepted).toBe(3);
    for (let i = 0; i < 10; i++) expect(store.tasks.get(queued(store, `k${i}`))?.preferred).toContain('proven');
  });

  it('always considers the runner bound to the requester’s session, wherever the window is', () => {
    const store = world();
    for (let i = 0; i < 300; i++) addRunner(store, `runner-${String(i).padStart(4, '0')}`, principal(0x0f, i));
    const request = { model: MODEL, affinityKey: 'chat' };
    const served = queued(store, 'k1', { request });
    const runner = 'runner-0299';
    okOf(claimTask(store, runner, NOW + 4n * SECOND, served));
    okOf(completeTask(store, runner, NOW + 4n * SECOND, served, result('hi')));
    okOf(acceptTask(store, REQUESTER, NOW + 4n * SECOND, served));
    for (const key of ['k2', 'k3', 'k4']) expect(store.tasks.get(queued(store, key, { request }))?.preferred?.[0]).toBe(runner);
  });
});

describe('failures count per distinct operator, and a preferred failure opens the task to all', () => {
  function sybilWorld(config: TaskConfigInput = {}): { store: Stores; sybils: string[]; operator: string } {
    const store = world(config);
    const operator = principal(0x0a, 1);
    const sybils = ['sybil-1', 'sybil-2', 'sybil-3'];
    for (const s of sybils) {
      addRunner(store, s, operator);
      okOf(acceptOperator(store, operator, NOW, s));
    }
    addRunner(store, 'honest', principal(0x0b, 1), 50_000);
    return { store, sybils, operator };
  }

  it(`fail_task: ${MAX_FAILURES} failures of one operator's identities do not kill the task; of distinct operators they do`, () => {
    const { store, sybils } = sybilWorld();
    const id = queued(store, 'k');
    expect(store.tasks.get(id)?.preferred).toEqual(sybils);
    for (const s of sybils) {
      okOf(claimTask(store, s, NOW, id));
      okOf(failTask(store, s, NOW, id, 'busy'));
    }
    expect(store.tasks.get(id)).toMatchObject({ state: 'queued', openToAllAtNs: NOW });
    okOf(claimTask(store, 'honest', NOW, id));

    const other = world();
    const runners = ['a', 'b', 'c'].map((x, i) => `distinct-${x}`);
    runners.forEach((r, i) => addRunner(other, r, principal(0x0c, i)));
    const killed = queued(other, 'k');
    for (const r of runners) {
      okOf(claimTask(other, r, NOW, killed));
      okOf(failTask(other, r, NOW, killed, 'busy'));
    }
    expect(other.tasks.get(killed)?.state).toBe('failed');
  });

  it('fail_task: identities that leave their operator after failing still count as the operator they leased for (review 2, F9)', () => {
    const { store, sybils } = sybilWorld();
    const id = queued(store, 'k');
    for (const s of sybils) {
      okOf(claimTask(store, s, NOW, id));
      okOf(failTask(store, s, NOW, id, 'busy'));
      // Naming another (unaccepted) operator makes the runner its own operator from now on.
      okOf(updateRunner(store, s, NOW, s, runnerManifest(principal(0x0d, 1), [deployment(card, { slots: 2 })])));
    }
    expect(store.tasks.get(id)?.failures.map((f) => f.operator)).toEqual(sybils.map(() => principal(0x0a, 1)));
    expect(store.tasks.get(id)?.state).toBe('queued');
  });

  it('expired leases: one operator counts once; a preferred runner’s expiry opens the task at once', () => {
    const { store, sybils } = sybilWorld({ routingWindowSeconds: 60n, leaseSeconds: 10n });
    const id = queued(store, 'k');
    const lease = store.taskConfig().leaseNs;
    let at = NOW;
    for (const s of sybils) {
      okOf(heartbeat(store, s, at, { state: 'ready', busySlots: 0, queueDepth: 0, tokensPerSecond: 1, kvCacheUsage: 0 }));
      okOf(claimTask(store, s, at, id));
      at += lease;
      tick(store, at);
    }
    expect(store.tasks.get(id)).toMatchObject({ state: 'queued', openToAllAtNs: NOW + lease });
    expect(store.tasks.get(id)?.failures).toHaveLength(3);
  });
});

describe('a rejection is paid work, and weighs by the requester’s recent paid volume', () => {
  it('weighs a tenth for a fresh requester, whole after enough fees paid for accepted work', () => {
    const full = fullRejectionVolumeE8s(world().taskConfig());
    expect(full).toBe(BigInt(FULL_REJECTION_AFTER_PAID_TASKS) * 20_000n);
    expect([0n, 20_000n, 80_000n, full, 100n * full].map((paid) => requesterRejectionWeight(paid, full))).toEqual([
      100, 200, 500, 1_000, 1_000
    ]);
  });

  it('pays the runner its metered cost and the treasury the fee, refunds the rest, and credits no emission', () => {
    const store = world({ emissionPerEpochE8s: 1_000_000n });
    addRunner(store, 'runner-a', principal(0x0f, 1));
    const id = queued(store, 'k');
    answered(store, id, [['runner-a', 'hello']]);
    const task = okOf(rejectTask(store, REQUESTER, NOW, id, 'no'));
    expect(task).toMatchObject({ state: 'rejected', paidRunners: ['runner-a'] });
    const payouts = [...store.payouts.entries()].map(([, p]) => [p.kind, p.amountE8s] as const);
    // 12 + 34 tokens at 1,000 per million: 1 e8s, plus the ledger fee; the fee floor; the rest back.
    expect(payouts.sort()).toEqual([
      ['refund', 1_000_000n - 10_001n - 20_000n],
      ['runner', 10_001n],
      ['treasury', 20_000n]
    ]);
    expect(epochCredits(store)).toEqual([]);
    // A rejected result is not a completion; the fresh requester's rejection weighs a tenth of one.
    expect(store.reputation.get('runner-a')).toMatchObject({ completed: 0, rejected: 0, rejectionMilli: 100 });
    expect(store.paidVolume.get(REQUESTER)).toBeUndefined();
  });

  it('ten fresh requesters’ rejections count one; a requester with a paid history’s counts whole', () => {
    const store = world();
    addRunner(store, 'runner-a', principal(0x0f, 1));
    for (let i = 0; i < 10; i++) {
      const id = queued(store, `fresh-${i}`, {}, `fresh-${i}`);
      answered(store, id, [['runner-a', 'x']]);
      okOf(rejectTask(store, `fresh-${i}`, NOW, id, 'no'));
    }
    expect(store.reputation.get('runner-a')).toMatchObject({ completed: 0, rejected: 1, rejectionMilli: 0 });

    for (let i = 0; i < FULL_REJECTION_AFTER_PAID_TASKS; i++) {
      const id = queued(store, `paid-${i}`);
      answered(store, id, [['runner-a', 'x']]);
      okOf(acceptTask(store, REQUESTER, NOW, id));
    }
    expect(store.paidVolume.get(REQUESTER)?.feesE8s).toBe(BigInt(FULL_REJECTION_AFTER_PAID_TASKS) * 20_000n);
    const id = queued(store, 'regular');
    answered(store, id, [['runner-a', 'x']]);
    okOf(rejectTask(store, REQUESTER, NOW, id, 'no'));
    expect(store.reputation.get('runner-a')).toMatchObject({
      completed: FULL_REJECTION_AFTER_PAID_TASKS,
      rejected: 2,
      rejectionMilli: 0
    });
  });

  it('with redundancy, pays the majority, and the out-voted result counts a whole rejection', () => {
    const store = world();
    for (const [i, r] of ['r1', 'r2', 'r3'].entries()) addRunner(store, r, principal(0x0f, i));
    const deterministic = { maxOutputTokens: 64, temperature: 0, seed: 1n };
    const id = queued(store, 'k', { redundancy: 3, limits: deterministic });
    answered(store, id, [
      ['r1', 'same'],
      ['r2', 'same'],
      ['r3', 'odd']
    ]);
    expect(okOf(rejectTask(store, REQUESTER, NOW, id, 'no')).paidRunners).toEqual(['r1', 'r2']);
    const paid = [...store.payouts.entries()].map(([, p]) => p);
    expect(paid.reduce((a, p) => a + p.amountE8s, 0n)).toBe(1_000_000n);
    expect(new Set(paid.map((p) => p.id)).size).toBe(paid.length);
    expect(store.reputation.get('r3')).toMatchObject({ rejected: 1 });
    expect(store.reputation.get('r1')).toMatchObject({ completed: 0, rejected: 0, rejectionMilli: 100 });
  });
});
