import { describe, expect, it } from 'vitest';

import { heartbeat, makeConfig, memoryStore, publishCard, registerRunner, type Result } from '../../../src/core/registry/index.ts';
import {
  acceptTask,
  claimableFor,
  claimTask,
  completeTask,
  escrowConfirmed,
  memoryTaskStore,
  preferredCount,
  setTaskConfig,
  submitTask,
  type Stores,
  type SubmitArgs,
  type TaskConfigInput
} from '../../../src/core/tasks/index.ts';
import { principalToText } from '../../../src/core/principal-text.ts';
import { deployment, digestOf, modelCard, runnerManifest } from '../../support/manifests.ts';

const SECOND = 1_000_000_000n;
const NOW = 1_000_000n * SECOND;
const ADMIN = 'admin';
const REQUESTER = 'requester';
const WINDOW = 3n * SECOND;

function okOf<T>(result: Result<T>): T {
  if ('Err' in result) throw new Error(`expected Ok, got ${JSON.stringify(result.Err, (_k, v: unknown) => String(v))}`);
  return result.Ok;
}

const card = modelCard();
const MODEL = String(card.id);

/** Runners a, b, c at the usual price and d, e fifty times dearer: ranking puts a, b, c first. */
function world(config: TaskConfigInput = {}): Stores {
  const store: Stores = { ...memoryStore(okOf(makeConfig({ admins: [ADMIN], heartbeatIntervalNs: 60n * SECOND }))), ...memoryTaskStore() };
  okOf(
    setTaskConfig(store, ADMIN, {
      ledger: 'ryjl3-tyaaa-aaaaa-aaaba-cai',
      treasury: { owner: principalToText(Uint8Array.of(0x0e, 1)) },
      ...config
    })
  );
  okOf(publishCard(store, 'publisher', NOW, card));
  for (const [id, perMillion] of [
    ['runner-a', 1000],
    ['runner-b', 1000],
    ['runner-c', 1000],
    ['runner-d', 50_000],
    ['runner-e', 50_000]
  ] as const) {
    const operator = principalToText(Uint8Array.of(0x0f, id.charCodeAt(id.length - 1)));
    const price = { inputPerMillion: perMillion, outputPerMillion: perMillion };
    okOf(registerRunner(store, id, NOW, runnerManifest(operator, [deployment(card, { slots: 2, price })])));
    okOf(heartbeat(store, id, NOW, { state: 'ready', busySlots: 0, queueDepth: 0, tokensPerSecond: 1, kvCacheUsage: 0 }));
  }
  return store;
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

function queued(store: Stores, key: string, overrides: Partial<SubmitArgs> = {}, at = NOW): string {
  const { task } = okOf(submitTask(store, REQUESTER, at, args(key, overrides)));
  escrowConfirmed(store, task.id, 7n, at);
  return task.id;
}

describe('paid routing: a queued task is offered first to the best-ranked eligible runners', () => {
  it('offers the task to the top-ranked runners for the window, then to every eligible runner', () => {
    const store = world();
    const id = queued(store, 'k');
    expect(store.tasks.get(id)).toMatchObject({ preferred: ['runner-a', 'runner-b', 'runner-c'], openToAllAtNs: NOW + WINDOW });
    expect(claimTask(store, 'runner-d', NOW)).toEqual({ Err: { NotFound: { kind: { ClaimableTask: null }, id: '' } } });
    expect(claimTask(store, 'runner-d', NOW, id)).toEqual({ Err: { TaskNotClaimable: { task: id, state: 'queued' } } });
    expect(claimableFor(store, 'runner-d', NOW, 10)).toEqual([]);
    expect(claimableFor(store, 'runner-b', NOW, 10).map(([taskId]) => taskId)).toEqual([id]);
    // Once the window is over, any eligible runner may lease it.
    expect(okOf(claimTask(store, 'runner-d', NOW + WINDOW)).id).toBe(id);
  });

  it('lets a preferred runner claim at once, and starts the window when the escrow is confirmed', () => {
    const store = world();
    const { task } = okOf(submitTask(store, REQUESTER, NOW, args('k')));
    escrowConfirmed(store, task.id, 7n, NOW + 10n * SECOND);
    expect(store.tasks.get(task.id)?.openToAllAtNs).toBe(NOW + 10n * SECOND + WINDOW);
    expect(claimTask(store, 'runner-e', NOW + 11n * SECOND)).toHaveProperty('Err.NotFound');
    expect(okOf(claimTask(store, 'runner-c', NOW + 11n * SECOND)).leases).toEqual([
      expect.objectContaining({ runner: 'runner-c', claimedAtNs: NOW + 11n * SECOND })
    ]);
  });

  it('offers to twice the redundancy (at least 3, at most 8) runners', () => {
    expect([1, 2, 3, 4, 7].map(preferredCount)).toEqual([3, 4, 6, 8, 8]);
    const store = world();
    const id = queued(store, 'k', { redundancy: 2, limits: { maxOutputTokens: 64, temperature: 0, seed: 1n } });
    expect(store.tasks.get(id)?.preferred).toEqual(['runner-a', 'runner-b', 'runner-c', 'runner-d']);
  });

  it('puts the runner that served the session first, even when ranking would not', () => {
    const store = world();
    const first = queued(store, 'k1', { request: { model: MODEL, affinityKey: 'chat-7' } });
    okOf(claimTask(store, 'runner-e', NOW + WINDOW, first));
    okOf(
      completeTask(store, 'runner-e', NOW + WINDOW + SECOND, first, {
        outputDigest: digestOf('x'),
        output: 'x',
        inputTokens: 1n,
        outputTokens: 1n,
        firstTokenMs: 1,
        totalMs: 1
      })
    );
    // Bound once its work is accepted, never at report time.
    expect(
      okOf(submitTask(store, REQUESTER, NOW + WINDOW, args('k-early', { request: { model: MODEL, affinityKey: 'chat-7' } }))).task
        .preferred?.[0]
    ).toBe('runner-a');
    okOf(acceptTask(store, REQUESTER, NOW + WINDOW + SECOND, first));
    const second = queued(store, 'k2', { request: { model: MODEL, affinityKey: 'chat-7' } }, NOW + 2n * WINDOW);
    expect(store.tasks.get(second)?.preferred?.[0]).toBe('runner-e');
    // Another requester's task with the same key is not bound to it.
    const { task } = okOf(submitTask(store, 'other', NOW, args('k3', { request: { model: MODEL, affinityKey: 'chat-7' } })));
    expect(task.preferred?.[0]).toBe('runner-a');
  });

  it('opens at once with a window of 0 or when no runner is eligible, and bounds the window', () => {
    const store = world({ routingWindowSeconds: 0n });
    const id = queued(store, 'k');
    expect(store.tasks.get(id)?.preferred).toBeUndefined();
    expect(okOf(claimTask(store, 'runner-e', NOW)).id).toBe(id);
    const none = world();
    const elsewhere = queued(none, 'k', { request: { model: MODEL, region: 'mars' } });
    expect(none.tasks.get(elsewhere)?.openToAllAtNs).toBeUndefined();
    expect(setTaskConfig(store, ADMIN, { routingWindowSeconds: 61n })).toEqual({
      Err: { InvalidArgument: { field: 'routing_window_seconds', reason: 'must be at most 60 s' } }
    });
    expect(setTaskConfig(store, ADMIN, { routingWindowSeconds: 60n })).toHaveProperty('Ok.routingWindowNs', 60n * SECOND);
  });
});
