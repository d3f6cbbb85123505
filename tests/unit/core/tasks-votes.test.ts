import { describe, expect, it } from 'vitest';

import { acceptOperator, heartbeat, makeConfig, memoryStore, publishCard, registerRunner } from '../../../src/core/registry/index.ts';
import {
  acceptTask,
  claimTask,
  completeTask,
  escrowConfirmed,
  HIDDEN_DIGEST,
  memoryTaskStore,
  rejectTask,
  setTaskConfig,
  submitTask,
  taskFor,
  tick,
  type ResultArgs,
  type Stores
} from '../../../src/core/tasks/index.ts';
import { deployment, digestOf, modelCard, runnerManifest } from '../../support/manifests.ts';
import { ADMIN, LEDGER, NOW, okOf, operatorOf, SECOND, TREASURY } from '../../support/task-world.ts';

/**
 * Redundant votes cannot be copied or bought (adversarial review 2, F1 and F2): other runners' digests and outputs
 * are sealed until the task settles, the requester reads only the results it pays for, and each winner is paid its own
 * bounded counts, so a colluding winner reporting 0 tokens cannot cut an honest runner's pay. Each test fails on the
 * registry as it was before (checked: the median pay and the requester's full access).
 */
const LEDGER_FEE = 10_000n;
const CARD = modelCard();

function world(): Stores {
  const store: Stores = { ...memoryStore(okOf(makeConfig({ admins: [ADMIN], heartbeatIntervalNs: 60n * SECOND }))), ...memoryTaskStore() };
  okOf(setTaskConfig(store, ADMIN, { ledger: LEDGER, treasury: TREASURY, emissionPerEpochE8s: 0n, routingWindowSeconds: 0n }));
  okOf(publishCard(store, 'publisher', NOW, CARD));
  return store;
}

/** Registers `runner` (1 e8s per input token, 3 per output token) paying operator `n`, which accepts. */
function addRunner(store: Stores, runner: string, n: number): void {
  okOf(
    registerRunner(
      store,
      runner,
      NOW,
      runnerManifest(operatorOf(n), [deployment(CARD, { slots: 4, price: { inputPerMillion: 1_000_000, outputPerMillion: 3_000_000 } })])
    )
  );
  okOf(acceptOperator(store, operatorOf(n), NOW, runner));
  okOf(heartbeat(store, runner, NOW, { state: 'ready', busySlots: 0, queueDepth: 0, tokensPerSecond: 1, kvCacheUsage: 0 }));
}

let keys = 0;
function submitted(store: Stores, redundancy: number): string {
  const { task } = okOf(
    submitTask(store, 'requester', NOW, {
      idempotencyKey: `k${keys++}`,
      request: { model: String(CARD.id) },
      input: { inline: 'Say hello.' },
      limits: redundancy > 1 ? { maxOutputTokens: 64, temperature: 0, seed: 1n } : { maxOutputTokens: 64 },
      rewardE8s: 1_000_000n,
      deadlineNs: NOW + 3600n * SECOND,
      redundancy
    })
  );
  escrowConfirmed(store, task.id, 1n);
  return task.id;
}

const result = (output: string, overrides: Partial<ResultArgs> = {}): ResultArgs => ({
  outputDigest: digestOf(output),
  output,
  inputTokens: 12n,
  outputTokens: 20n,
  firstTokenMs: 1,
  totalMs: 2,
  ...overrides
});

/** A task with `runners` leasing it and answering `outputs` in order. */
function answered(store: Stores, redundancy: number, answers: [string, string][]): string {
  const id = submitted(store, redundancy);
  for (const [runner] of answers) okOf(claimTask(store, runner, NOW, id));
  for (const [runner, output] of answers) okOf(completeTask(store, runner, NOW, id, result(output)));
  return id;
}

const paidTo = (store: Stores, id: string, runner: string): bigint => store.payouts.get(`${id}/runner/${runner}`)?.amountE8s ?? 0n;
const seenBy = (store: Stores, caller: string, id: string): [string | undefined, string][] =>
  taskFor(store, caller, store.tasks.get(id)!).results.map((r) => [r.output, r.outputDigest]);

describe('redundant votes: sealed results and own-count pay', () => {
  it('F1: a second runner cannot read the first one’s digest, and a copied digest with 0 tokens leaves the honest pay whole', () => {
    const store = world();
    addRunner(store, 'honest', 0xc0);
    addRunner(store, 'sybil', 0xb1);
    const id = submitted(store, 2);
    okOf(claimTask(store, 'honest', NOW, id));
    okOf(claimTask(store, 'sybil', NOW, id));
    okOf(completeTask(store, 'honest', NOW, id, result('Paris')));
    // Sealed: neither the leasing Sybil, nor the requester, nor a stranger reads the honest digest or output.
    for (const who of ['sybil', 'requester', 'stranger']) expect(seenBy(store, who, id)).toEqual([[undefined, HIDDEN_DIGEST]]);
    expect(seenBy(store, 'honest', id)).toEqual([['Paris', digestOf('Paris')]]);
    // Even with the digest leaked some other way, agreeing with 0 tokens only lowers the Sybil's own pay.
    okOf(completeTask(store, 'sybil', NOW, id, { ...result('x'), outputDigest: digestOf('Paris'), inputTokens: 0n, outputTokens: 0n }));
    expect(okOf(acceptTask(store, 'requester', NOW, id)).paidRunners).toEqual(['honest', 'sybil']);
    // The honest runner's own counts: 12 × 1 + 20 × 3 = 72 e8s, and the ledger fee on top.
    expect(paidTo(store, id, 'honest')).toBe(72n + LEDGER_FEE);
    expect(paidTo(store, id, 'sybil')).toBe(LEDGER_FEE);
  });

  it('F4: a redundant task refuses a reference instead of inline output (its bytes bound the tokens billed)', () => {
    const store = world();
    addRunner(store, 'inflater', 0xb1);
    const id = submitted(store, 2);
    okOf(claimTask(store, 'inflater', NOW, id));
    const byReference = { ...result('Paris', { outputTokens: 64n }), output: undefined, reference: 'https://x/a' };
    expect(completeTask(store, 'inflater', NOW, id, byReference)).toEqual({
      Err: { InvalidArgument: { field: 'output', reason: 'a redundant task needs the output inline, not a reference' } }
    });
    // The lease stays for the output given inline, bounded by its bytes.
    expect(okOf(completeTask(store, 'inflater', NOW, id, result('Paris', { outputTokens: 37n }))).outputTokens).toBe(37n);
  });

  it('F2: on a 1–1 tie the requester reads no output, in review nor while the task escalates; then the majority’s', () => {
    const store = world();
    addRunner(store, 'honest', 0xc0);
    addRunner(store, 'sybil', 0xb1);
    addRunner(store, 'third', 0xa3);
    const id = answered(store, 2, [
      ['honest', 'Paris'],
      ['sybil', 'garbage']
    ]);
    expect(store.tasks.get(id)!.state).toBe('review');
    // No digest holds the majority: nothing the requester would pay for, so nothing it reads.
    expect(seenBy(store, 'requester', id).map(([output]) => output)).toEqual([undefined, undefined]);
    expect(seenBy(store, 'sybil', id)).toEqual([
      [undefined, HIDDEN_DIGEST],
      ['garbage', digestOf('garbage')]
    ]);
    // Accepting changes nothing; the timer escalates the tie when the review ends.
    expect(okOf(acceptTask(store, 'requester', NOW, id)).state).toBe('review');
    tick(store, store.tasks.get(id)!.reviewEndsAtNs!);
    expect(store.tasks.get(id)!.state).toBe('queued');
    // Escalated: still sealed, for the requester and for the runner that joins.
    expect(seenBy(store, 'requester', id)).toEqual([
      [undefined, HIDDEN_DIGEST],
      [undefined, HIDDEN_DIGEST]
    ]);
    okOf(claimTask(store, 'third', NOW, id));
    expect(seenBy(store, 'third', id)).toEqual([
      [undefined, HIDDEN_DIGEST],
      [undefined, HIDDEN_DIGEST]
    ]);
    okOf(completeTask(store, 'third', NOW, id, result('Paris')));
    // In review with a majority: the requester reads the results it would pay for, never the out-voted one.
    expect(seenBy(store, 'requester', id)).toEqual([
      ['Paris', digestOf('Paris')],
      [undefined, HIDDEN_DIGEST],
      ['Paris', digestOf('Paris')]
    ]);
    expect(okOf(acceptTask(store, 'requester', NOW, id)).paidRunners).toEqual(['honest', 'third']);
    expect(seenBy(store, 'requester', id)[1]).toEqual([undefined, digestOf('garbage')]);
    expect(seenBy(store, ADMIN, id).map(([output]) => output)).toEqual(['Paris', 'garbage', 'Paris']);
  });

  it('the requester reads the majority’s outputs in review (the one result with redundancy 1), and after accepting or rejecting', () => {
    const store = world();
    for (const [r, n] of [
      ['a', 0xa1],
      ['b', 0xa2],
      ['c', 0xa3]
    ] as const)
      addRunner(store, r, n);
    const three = answered(store, 3, [
      ['a', 'Paris'],
      ['b', 'Lyon'],
      ['c', 'Paris']
    ]);
    expect(seenBy(store, 'requester', three).map(([output]) => output)).toEqual(['Paris', undefined, 'Paris']);
    okOf(rejectTask(store, 'requester', NOW, three, 'no'));
    expect(seenBy(store, 'requester', three).map(([output]) => output)).toEqual(['Paris', undefined, 'Paris']);
    const one = answered(store, 1, [['a', 'Hello']]);
    expect(seenBy(store, 'requester', one)).toEqual([['Hello', digestOf('Hello')]]);
    okOf(acceptTask(store, 'requester', NOW, one));
    expect(seenBy(store, 'requester', one)).toEqual([['Hello', digestOf('Hello')]]);
    expect(seenBy(store, 'stranger', one)).toEqual([[undefined, digestOf('Hello')]]);
  });
});
