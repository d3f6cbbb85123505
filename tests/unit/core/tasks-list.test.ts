import { describe, expect, it } from 'vitest';

import {
  listTasks,
  memoryTaskStore,
  summarizeTask,
  taskId,
  MAX_TASK_SCAN,
  type Task,
  type TaskStore
} from '../../../src/core/tasks/index.ts';

/** A stored task, without a listing summary (as before summaries existed) unless `withSummary`, as saveTask writes. */
function task(store: TaskStore, fields: Partial<Task> = {}, withSummary = false): Task {
  const id = taskId(store.nextTaskNumber());
  const value: Task = {
    id,
    requester: 'alice',
    refundTo: { owner: 'alice' },
    idempotencyKey: id,
    request: { model: 'm' },
    input: { inline: 'hi' },
    limits: { maxOutputTokens: 8 },
    rewardE8s: 1_000_000n,
    deadlineNs: 10n,
    redundancy: 1,
    state: 'queued',
    createdAtNs: 1n,
    leases: [],
    results: [],
    failures: [],
    ...fields
  };
  store.tasks.set(id, value);
  if (withSummary) store.summaries.set(id, summarizeTask(value));
  return value;
}

const ids = (result: ReturnType<typeof listTasks>): string[] => ('Ok' in result ? result.Ok.items.map((t) => t.id) : []);

describe('listTasks', () => {
  it('lists nothing before the first task', () => {
    expect(listTasks(memoryTaskStore(), {}, {})).toEqual({ Ok: { items: [] } });
  });

  it('pages newest first, and the cursor continues below the last page', () => {
    const store = memoryTaskStore();
    const made = Array.from({ length: 5 }, () => task(store).id);
    const first = listTasks(store, {}, { limit: 2 });
    expect(ids(first)).toEqual([made[4], made[3]]);
    const next = 'Ok' in first ? first.Ok.next : undefined;
    expect(next).toBe(made[3]);
    const second = listTasks(store, {}, { after: next, limit: 2 });
    expect(ids(second)).toEqual([made[2], made[1]]);
    const third = listTasks(store, {}, { after: made[1], limit: 2 });
    expect(third).toEqual({ Ok: { items: [expect.objectContaining({ id: made[0] })] } });
  });

  it('filters by requester, state and runner (a lease, a result or a failure)', () => {
    const store = memoryTaskStore();
    const a = task(store, { requester: 'bob' });
    const b = task(store, {
      state: 'accepted',
      results: [{ runner: 'r1', outputDigest: 'd', inputTokens: 1n, outputTokens: 2n, firstTokenMs: 1, totalMs: 2, atNs: 3n }]
    });
    const c = task(store, { leases: [{ runner: 'r2', claimedAtNs: 1n, expiresAtNs: 2n }] });
    const d = task(store, { failures: [{ runner: 'r1', reason: 'x', atNs: 1n }] });
    expect(ids(listTasks(store, { requester: 'bob' }, {}))).toEqual([a.id]);
    expect(ids(listTasks(store, { state: 'accepted' }, {}))).toEqual([b.id]);
    expect(ids(listTasks(store, { runner: 'r1' }, {}))).toEqual([d.id, b.id]);
    expect(ids(listTasks(store, { runner: 'r2', requester: 'alice' }, {}))).toEqual([c.id]);
    expect(ids(listTasks(store, { runner: 'nobody' }, {}))).toEqual([]);
  });

  it('skips removed tasks and bounds the scan with a cursor', () => {
    const store = memoryTaskStore();
    const kept = task(store);
    for (let i = 0; i < MAX_TASK_SCAN + 5; i++) store.tasks.delete(task(store).id);
    const newest = BigInt(MAX_TASK_SCAN + 6);
    const first = listTasks(store, {}, { limit: 10 });
    // MAX_TASK_SCAN ids probed from the newest down: the page ends empty, with a cursor at the last one probed.
    expect(first).toEqual({ Ok: { items: [], next: taskId(newest - BigInt(MAX_TASK_SCAN) + 1n) } });
    const next = 'Ok' in first ? first.Ok.next : undefined;
    expect(ids(listTasks(store, {}, { after: next, limit: 10 }))).toEqual([kept.id]);
  });

  it('stops with a cursor when the instruction budget runs out, and the cursor resumes without losing a task', () => {
    const store = memoryTaskStore();
    const made = Array.from({ length: 6 }, () => task(store).id);
    let probes = 0;
    // A budget that allows two probes per call (the canister passes performanceCounter(0) > 2B).
    const budget = (): (() => boolean) => {
      probes = 0;
      return () => ++probes >= 2;
    };
    const seen: string[] = [];
    let after: string | undefined;
    for (let calls = 0; calls < 10; calls++) {
      const page = listTasks(store, {}, { limit: 20, ...(after === undefined ? {} : { after }) }, budget());
      if ('Err' in page) throw new Error('unexpected Err');
      seen.push(...page.Ok.items.map((t) => t.id));
      after = page.Ok.next;
      if (after === undefined) break;
    }
    expect(seen).toEqual([...made].reverse());
  });

  it('returns InvalidArgument for a bad limit, state or cursor', () => {
    const store = memoryTaskStore();
    task(store);
    for (const limit of [0, 101, 1.5])
      expect(listTasks(store, {}, { limit })).toMatchObject({ Err: { InvalidArgument: { field: 'limit' } } });
    expect(listTasks(store, { state: 'done' }, {})).toMatchObject({ Err: { InvalidArgument: { field: 'state' } } });
    for (const after of ['x', 'task-1', `task-${'9'.repeat(13)}`])
      expect(listTasks(store, {}, { after })).toMatchObject({ Err: { InvalidArgument: { field: 'after' } } });
  });

  it('treats a cursor above the newest task as the start', () => {
    const store = memoryTaskStore();
    const only = task(store);
    expect(ids(listTasks(store, {}, { after: taskId(99n) }))).toEqual([only.id]);
  });

  it('lists from the stored summaries without reading a single task', () => {
    const store = memoryTaskStore();
    const a = task(store, { requester: 'bob', input: { inline: 'x'.repeat(1000) } }, true);
    const b = task(store, { leases: [{ runner: 'r2', claimedAtNs: 1n, expiresAtNs: 2n }] }, true);
    store.tasks.get = () => {
      throw new Error('listing read a whole task');
    };
    expect(ids(listTasks(store, {}, {}))).toEqual([b.id, a.id]);
    expect(ids(listTasks(store, { runner: 'r2' }, {}))).toEqual([b.id]);
    expect(ids(listTasks(store, { requester: 'bob' }, {}))).toEqual([a.id]);
  });

  it('summarises a task without a stored summary exactly as saveTask would have', () => {
    const store = memoryTaskStore();
    const result = (runner: string, inputTokens: bigint, outputTokens: bigint) => ({
      runner,
      outputDigest: 'd',
      inputTokens,
      outputTokens,
      firstTokenMs: 1,
      totalMs: 2,
      atNs: 3n
    });
    const old = task(store, {
      state: 'accepted',
      leases: [{ runner: 'r1', claimedAtNs: 1n, expiresAtNs: 2n }],
      results: [result('r1', 5n, 7n), result('r2', 6n, 8n)],
      failures: [{ runner: 'r3', reason: 'x', atNs: 1n }],
      reviewEndsAtNs: 9n,
      outcome: 'accepted by the requester'
    });
    const listed = listTasks(store, {}, {});
    const expected = {
      id: old.id,
      requester: 'alice',
      state: 'accepted',
      model: 'm',
      rewardE8s: 1_000_000n,
      redundancy: 1,
      createdAtNs: 1n,
      deadlineNs: 10n,
      runners: ['r1', 'r2', 'r3'],
      results: 2,
      inputTokens: 11n,
      outputTokens: 15n,
      reviewEndsAtNs: 9n,
      outcome: 'accepted by the requester'
    };
    expect(listed).toEqual({ Ok: { items: [expected] } });
    expect(summarizeTask(old)).toEqual(expected);
  });
});
