import { expect } from 'vitest';

import { principalToText } from '../../src/core/principal-text.ts';
import { acceptOperator, heartbeat, makeConfig, memoryStore, publishCard, registerRunner } from '../../src/core/registry/index.ts';
import { beginBond, bondLocked, setBondConfig } from '../../src/core/rewards/index.ts';
import {
  acceptTask,
  claimTask,
  completeTask,
  escrowConfirmed,
  memoryTaskStore,
  setTaskConfig,
  submitTask,
  taskFor,
  type ResultArgs,
  type Stores
} from '../../src/core/tasks/index.ts';
import { deployment, digestOf, modelCard, runnerManifest } from './manifests.ts';

/**
 * The in-memory registry and task queue that the core unit tests of votes, escalation and rewards build on
 * (tests/unit/core/{tasks-escalation,review-3-poc,tasks-votes,rewards-real-work,rewards-properties}.test.ts).
 */
export const SECOND = 1_000_000_000n;
export const NOW = 1_000_000n * SECOND;
export const ADMIN = 'admin';
export const LEDGER = 'ryjl3-tyaaa-aaaaa-aaaba-cai';
export const TREASURY = { owner: principalToText(Uint8Array.of(0x0e, 0x01)) };

/** The Ok value of a core Result, or a thrown error naming the Err (bigints as decimal). */
export function okOf<T>(result: { Ok: T } | { Err: unknown }): T {
  if ('Err' in result)
    throw new Error(`expected Ok, got ${JSON.stringify(result.Err, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`);
  return result.Ok;
}

/** Operator `n`'s principal. */
export const operatorOf = (n: number): string => principalToText(Uint8Array.of(0x0f, n));

/** A heartbeat that keeps a runner live (ready, idle). */
export const READY = { state: 'ready', busySlots: 0, queueDepth: 0, tokensPerSecond: 1, kvCacheUsage: 0 } as const;

/** The vote tests' world: one published card, tasks configured without emission or routing, bonds of BOND when asked. */
export const BOND = 10_000_000n;
export const REWARD = 1_000_000n;
export const CARD = modelCard();

export function world(bonds = false): Stores {
  const store: Stores = { ...memoryStore(okOf(makeConfig({ admins: [ADMIN], heartbeatIntervalNs: 60n * SECOND }))), ...memoryTaskStore() };
  okOf(setTaskConfig(store, ADMIN, { ledger: LEDGER, treasury: TREASURY, emissionPerEpochE8s: 0n, routingWindowSeconds: 0n }));
  if (bonds) okOf(setBondConfig(store, ADMIN, { amountE8s: BOND }));
  okOf(publishCard(store, 'publisher', NOW, CARD));
  return store;
}

/** Registers `runner` (1 e8s per 1,000 input tokens, 3 per 1,000 output) paying operator `n` (which accepts), bonded when asked. */
export function addRunner(store: Stores, runner: string, n: number, bonded = false): void {
  if (bonded) {
    okOf(beginBond(store, runner, BOND, NOW));
    bondLocked(store, runner, 1n);
  }
  okOf(
    registerRunner(
      store,
      runner,
      NOW,
      runnerManifest(operatorOf(n), [deployment(CARD, { slots: 4, price: { inputPerMillion: 1_000_000, outputPerMillion: 3_000_000 } })])
    )
  );
  okOf(acceptOperator(store, operatorOf(n), NOW, runner));
  okOf(heartbeat(store, runner, NOW, READY));
}

let keys = 0;
/** A deterministic task of 'requester' (temperature 0, seed 1), escrowed and queued. */
export function submitted(store: Stores, redundancy = 2, deadlineNs = NOW + 3600n * SECOND): string {
  const { task } = okOf(
    submitTask(store, 'requester', NOW, {
      idempotencyKey: `vote-world-${keys++}`,
      request: { model: String(CARD.id) },
      input: { inline: 'Say hello.' },
      limits: { maxOutputTokens: 64, temperature: 0, seed: 1n },
      rewardE8s: REWARD,
      deadlineNs,
      redundancy
    })
  );
  escrowConfirmed(store, task.id, 1n);
  return task.id;
}

/** A result of `output`: 12 input and 20 output tokens. */
export const result = (output: string, overrides: Partial<ResultArgs> = {}): ResultArgs => ({
  outputDigest: digestOf(output),
  output,
  inputTokens: 12n,
  outputTokens: 20n,
  firstTokenMs: 1,
  totalMs: 2,
  ...overrides
});

/** Each runner heartbeats, leases the task and answers its output, at `at`. */
export function answer(store: Stores, id: string, answers: [string, string][], at = NOW): void {
  for (const [runner, output] of answers) {
    okOf(heartbeat(store, runner, at, READY));
    okOf(claimTask(store, runner, at, id));
    okOf(completeTask(store, runner, at, id, result(output)));
  }
}

/** `runner` completes one redundancy-1 task of 'requester', which accepts it: one independent acceptance on its record. */
export function recordOne(store: Stores, runner: string): void {
  const id = submitted(store, 1);
  answer(store, id, [[runner, 'unrelated work']]);
  expect(okOf(acceptTask(store, 'requester', NOW, id)).state).toBe('accepted');
}

export const paidTo = (store: Stores, id: string, runner: string): bigint => store.payouts.get(`${id}/runner/${runner}`)?.amountE8s ?? 0n;
export const payoutsOf = (store: Stores, id: string) => [...store.payouts.entries()].map(([, p]) => p).filter((p) => p.taskId === id);
export const outputsSeenBy = (store: Stores, caller: string, id: string): (string | undefined)[] =>
  taskFor(store, caller, store.tasks.get(id)!).results.map((r) => r.output);
