import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { principalToText } from '../../../src/core/principal-text.ts';
import { heartbeat, makeConfig, memoryStore, publishCard, registerRunner, type Result } from '../../../src/core/registry/index.ts';
import {
  acceptTask,
  claimTask,
  completeTask,
  escrowConfirmed,
  escrowFailed,
  failTask,
  memoryTaskStore,
  padNs,
  rejectTask,
  setTaskConfig,
  STALE_ESCROW_NS,
  submitTask,
  TERMINAL_STATES,
  tick,
  type Stores,
  type SubmitArgs
} from '../../../src/core/tasks/index.ts';
import { deployment, digestOf, modelCard, runnerManifest } from '../../support/manifests.ts';

const SECOND = 1_000_000_000n;
const NOW = 1_000_000n * SECOND;
const ADMIN = 'admin';
const REQUESTER = 'requester';
const OTHER_MODEL = 'other-org/Other-Model-7B';
const RUNNERS = ['runner-a', 'runner-b', 'runner-c'];

function okOf<T>(result: Result<T>): T {
  if ('Err' in result)
    throw new Error(`expected Ok, got ${JSON.stringify(result.Err, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`);
  return result.Ok;
}

interface World {
  store: Stores;
  model: string;
  /** Task reads, by id: what a claim or a tick looked at. */
  reads: string[];
}

function world(): World {
  const store: Stores = { ...memoryStore(okOf(makeConfig({ admins: [ADMIN], heartbeatIntervalNs: 60n * SECOND }))), ...memoryTaskStore() };
  okOf(
    setTaskConfig(store, ADMIN, { ledger: 'ryjl3-tyaaa-aaaaa-aaaba-cai', treasury: { owner: principalToText(Uint8Array.of(0x0e, 0x01)) } })
  );
  const card = modelCard();
  okOf(publishCard(store, 'publisher', NOW, card));
  for (const runner of RUNNERS) {
    okOf(
      registerRunner(
        store,
        runner,
        NOW,
        runnerManifest(principalToText(Uint8Array.of(0x0f, runner.charCodeAt(runner.length - 1))), [deployment(card, { slots: 2 })])
      )
    );
  }
  const reads: string[] = [];
  const tasks = store.tasks;
  const get = tasks.get.bind(tasks);
  tasks.get = (id) => {
    reads.push(id);
    return get(id);
  };
  const withoutInput = store.taskWithoutInput;
  store.taskWithoutInput = (id) => {
    reads.push(id);
    return withoutInput(id);
  };
  const w = { store, model: String(card.id), reads };
  beatAll(w, NOW);
  return w;
}

function beatAll(w: World, at: bigint): void {
  for (const runner of RUNNERS)
    okOf(heartbeat(w.store, runner, at, { state: 'ready', busySlots: 0, queueDepth: 0, tokensPerSecond: 1, kvCacheUsage: 0 }));
}

function submitArgs(model: string, key: string, overrides: Partial<SubmitArgs> = {}): SubmitArgs {
  return {
    idempotencyKey: key,
    request: { model },
    input: { inline: 'Say hello.' },
    limits: { maxOutputTokens: 64, temperature: 0, seed: 1n },
    rewardE8s: 1_000_000n,
    deadlineNs: NOW + 3600n * SECOND,
    redundancy: 1,
    ...overrides
  };
}

function queued(w: World, model: string, key: string, overrides: Partial<SubmitArgs> = {}, at = NOW): string {
  const { task } = okOf(submitTask(w.store, REQUESTER, at, submitArgs(model, key, overrides)));
  escrowConfirmed(w.store, task.id, 7n);
  return task.id;
}

const SEP = '\u0000';

/** The indexes recomputed from the stored tasks alone (independently of open-tasks.ts). */
function expectedIndexes(store: Stores): { claim: string[]; wake: string[]; leases: string[]; escrows: string[]; results: string[] } {
  const claim: string[] = [];
  const wake: string[] = [];
  const leases: string[] = [];
  const escrows: string[] = [];
  const results: string[] = [];
  for (const [id, task] of store.tasks.entries()) {
    if (TERMINAL_STATES.has(task.state)) continue;
    const model = task.request.model;
    if (task.state === 'queued' && task.results.length + task.leases.length < task.redundancy + (task.extraResults ?? 0))
      claim.push(`${model}${SEP}${id}`);
    const times = task.leases.map((l) => l.expiresAtNs);
    if (task.state === 'queued') times.push(task.deadlineNs);
    if (task.state === 'review' && task.reviewEndsAtNs !== undefined) times.push(task.reviewEndsAtNs);
    if (times.length > 0) wake.push(`${padNs(times.reduce((a, b) => (b < a ? b : a)))}${SEP}${id}`);
    for (const l of task.leases) leases.push(`${l.runner}${SEP}${model}${SEP}${id}`);
    if (task.state === 'escrowing') escrows.push(`${padNs(task.createdAtNs + STALE_ESCROW_NS)}${SEP}${id}`);
    for (const r of task.results) results.push(`${r.runner}${SEP}${id}`);
  }
  return { claim: claim.sort(), wake: wake.sort(), leases: leases.sort(), escrows: escrows.sort(), results: results.sort() };
}

function expectIndexesInStep(store: Stores): void {
  expect(store.open.snapshot()).toEqual(expectedIndexes(store));
  const unsettled = [...store.tasks.entries()].filter(([, t]) => !TERMINAL_STATES.has(t.state)).map(([id]) => id);
  expect([...store.open.entries()].map(([id]) => id)).toEqual(unsettled);
}

type Op =
  | { kind: 'submit'; other: boolean; redundancy: number; deadlineS: number; confirm: 'yes' | 'no' | 'fail' }
  | { kind: 'claim'; runner: number; pick: number | null }
  | { kind: 'complete'; runner: number; pick: number; agree: boolean }
  | { kind: 'fail'; runner: number; pick: number }
  | { kind: 'accept' | 'reject'; pick: number }
  | { kind: 'advance'; seconds: number; budget: number };

const runnerArb = fc.integer({ min: 0, max: RUNNERS.length - 1 });
const pickArb = fc.nat(40);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('submit' as const),
    other: fc.boolean(),
    redundancy: fc.integer({ min: 1, max: 3 }),
    deadlineS: fc.integer({ min: 30, max: 2000 }),
    confirm: fc.constantFrom('yes' as const, 'yes' as const, 'no' as const, 'fail' as const)
  }),
  fc.record({ kind: fc.constant('claim' as const), runner: runnerArb, pick: fc.option(pickArb, { nil: null }) }),
  fc.record({ kind: fc.constant('complete' as const), runner: runnerArb, pick: pickArb, agree: fc.boolean() }),
  fc.record({ kind: fc.constant('fail' as const), runner: runnerArb, pick: pickArb }),
  fc.record({ kind: fc.constantFrom('accept' as const, 'reject' as const), pick: pickArb }),
  fc.record({ kind: fc.constant('advance' as const), seconds: fc.integer({ min: 1, max: 700 }), budget: fc.integer({ min: 0, max: 5 }) })
);

describe('open-task indexes', () => {
  it('stay equal to a recomputation from the tasks through every transition', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) => {
        const w = world();
        let now = NOW;
        const ids: string[] = [];
        const pick = (n: number): string => ids[n % Math.max(ids.length, 1)] ?? 'task-none';
        ops.forEach((op, i) => {
          if (op.kind === 'submit') {
            const submitted = submitTask(
              w.store,
              REQUESTER,
              now,
              submitArgs(op.other ? OTHER_MODEL : w.model, `k${i}`, {
                redundancy: op.redundancy,
                deadlineNs: now + BigInt(op.deadlineS) * SECOND
              })
            );
            if ('Ok' in submitted) {
              ids.push(submitted.Ok.task.id);
              if (op.confirm === 'yes') escrowConfirmed(w.store, submitted.Ok.task.id, BigInt(i));
              if (op.confirm === 'fail') escrowFailed(w.store, submitted.Ok.task.id);
            }
          } else if (op.kind === 'claim') claimTask(w.store, RUNNERS[op.runner] ?? '', now, op.pick === null ? undefined : pick(op.pick));
          else if (op.kind === 'complete')
            completeTask(w.store, RUNNERS[op.runner] ?? '', now, pick(op.pick), {
              outputDigest: digestOf(op.agree ? 'same' : `own ${op.runner}`),
              output: 'out',
              inputTokens: 1n,
              outputTokens: 1n,
              firstTokenMs: 1,
              totalMs: 2
            });
          else if (op.kind === 'fail') failTask(w.store, RUNNERS[op.runner] ?? '', now, pick(op.pick), 'no');
          else if (op.kind === 'accept') acceptTask(w.store, REQUESTER, now, pick(op.pick));
          else if (op.kind === 'reject') rejectTask(w.store, REQUESTER, now, pick(op.pick), 'bad');
          else if (op.kind === 'advance') {
            now += BigInt(op.seconds) * SECOND;
            beatAll(w, now);
            // A tick that runs out of budget after `budget` visits must leave the indexes as consistent as a full one.
            let visits = 0;
            tick(w.store, now, () => visits++ >= op.budget);
          }
          expectIndexesInStep(w.store);
        });
      }),
      { numRuns: 150 }
    );
  });

  it('rebuilds the indexes from the open map alone (a canister start, or tasks stored before the indexes)', async () => {
    const w = world();
    for (let i = 0; i < 5; i++) queued(w, i % 2 === 0 ? w.model : OTHER_MODEL, `r${i}`);
    okOf(claimTask(w.store, 'runner-a', NOW));
    const { OpenTasks } = await import('../../../src/core/tasks/index.ts');
    const rebuilt = new OpenTasks(w.store.open);
    expect(rebuilt.snapshot()).toEqual(w.store.open.snapshot());
  });
});

describe('claim through the per-model index', () => {
  it('never reads another model’s tasks, however many are queued', () => {
    const w = world();
    for (let i = 0; i < 300; i++) queued(w, OTHER_MODEL, `other-${i}`, { input: { inline: 'x'.repeat(10_000) } });
    const mine = queued(w, w.model, 'mine');
    w.reads.length = 0;
    expect(okOf(claimTask(w.store, 'runner-a', NOW)).id).toBe(mine);
    expect(w.reads).toEqual([mine]);
  });

  it('passes over a runner’s own history on the heap, reading only the task it leases', () => {
    const w = world();
    const failed: string[] = [];
    for (let i = 0; i < 50; i++) failed.push(queued(w, w.model, `f${i}`, { redundancy: 2 }));
    for (const id of failed) {
      okOf(claimTask(w.store, 'runner-a', NOW, id));
      okOf(failTask(w.store, 'runner-a', NOW, id, 'no'));
    }
    const fresh = queued(w, w.model, 'fresh');
    w.reads.length = 0;
    expect(okOf(claimTask(w.store, 'runner-a', NOW)).id).toBe(fresh);
    expect(w.reads).toEqual([fresh]);
  });

  it('counts a runner’s leases per model from the lease index (NoCapacity at its slots)', () => {
    const w = world();
    for (let i = 0; i < 3; i++) queued(w, w.model, `s${i}`);
    okOf(claimTask(w.store, 'runner-a', NOW));
    okOf(claimTask(w.store, 'runner-a', NOW));
    expect(w.store.open.leaseCount('runner-a', w.model)).toBe(2);
    expect(claimTask(w.store, 'runner-a', NOW)).toEqual({ Err: { NoCapacity: { slots: 2 } } });
  });
});

describe('the timer through the wake-up index', () => {
  it('does not revisit tasks that have nothing to do (the starvation case) and reaches an honest deadline at once', () => {
    const w = world();
    w.store.setQuotas({ ...w.store.quotas(), openTasksPerRequester: 1_000 });
    // 510 redundancy-1 tasks the attacker's runner leased and failed once: queued, `done` full, nothing due for a day.
    for (let i = 0; i < 510; i++) {
      const id = queued(w, w.model, `a${i}`, { deadlineNs: NOW + 86_400n * SECOND });
      okOf(claimTask(w.store, 'runner-a', NOW, id));
      okOf(failTask(w.store, 'runner-a', NOW, id, 'no'));
    }
    const honest = queued(w, w.model, 'honest', { deadlineNs: NOW + 60n * SECOND });
    w.reads.length = 0;
    expect(tick(w.store, NOW + 30n * SECOND)).toEqual({ changed: 0, visited: 0, more: false });
    expect(w.reads).toEqual([]);
    expect(tick(w.store, NOW + 60n * SECOND)).toEqual({ changed: 1, visited: 1, more: false });
    expect(w.store.tasks.get(honest)?.state).toBe('expired');
  });

  it('stops at its budget and resumes from the index head, earliest first', () => {
    const w = world();
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push(queued(w, w.model, `d${i}`, { deadlineNs: NOW + BigInt(100 - i) * SECOND }));
    let visits = 0;
    expect(tick(w.store, NOW + 200n * SECOND, () => visits++ >= 4)).toMatchObject({ visited: 4, more: true });
    // The four earliest deadlines (the last four submitted) went first.
    expect(ids.filter((id) => w.store.tasks.get(id)?.state === 'expired')).toEqual(ids.slice(6));
    expect(tick(w.store, NOW + 200n * SECOND)).toMatchObject({ visited: 6, more: false });
    expect(ids.every((id) => w.store.tasks.get(id)?.state === 'expired')).toBe(true);
  });
});
