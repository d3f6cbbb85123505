import { describe, expect, it } from 'vitest';

import {
  acceptOperator,
  heartbeat,
  makeConfig,
  memoryStore,
  publishCard,
  registerRunner,
  updateRunner
} from '../../../src/core/registry/index.ts';
import {
  addAcceptedWork,
  beginBond,
  bondLocked,
  closeEpoch,
  epochCredits,
  MAX_EPOCH_CREDITS,
  MAX_OPERATOR_CREDITS,
  setBondConfig,
  type Payout
} from '../../../src/core/rewards/index.ts';
import {
  acceptTask,
  claimTask,
  completeTask,
  escrowConfirmed,
  memoryTaskStore,
  setTaskConfig,
  submitTask,
  tick,
  type ResultArgs,
  type Stores,
  type Task
} from '../../../src/core/tasks/index.ts';
import { deployment, digestOf, modelCard, runnerManifest } from '../../support/manifests.ts';
import { ADMIN, LEDGER, NOW, okOf, operatorOf, SECOND, TREASURY } from '../../support/task-world.ts';

/**
 * Rewards follow real work (issue 16), through the pure core: the epoch's credit table cannot be flooded shut, and a
 * vote record bought by wash trading never outweighs bond. Both fail on the core as it was before (checked).
 */
const EPOCH = 3600n * SECOND;
/** The protocol fee of a minimum task: its floor. */
const FEE_PAID = 20_000n;
const BOND = 10_000_000n;
const CARD = modelCard();

function world(emissionPerEpochE8s = 0n): Stores {
  const store: Stores = { ...memoryStore(okOf(makeConfig({ admins: [ADMIN], heartbeatIntervalNs: 60n * SECOND }))), ...memoryTaskStore() };
  okOf(setTaskConfig(store, ADMIN, { ledger: LEDGER, treasury: TREASURY, emissionPerEpochE8s, routingWindowSeconds: 0n }));
  okOf(publishCard(store, 'publisher', NOW, CARD));
  return store;
}

/** Registers `runner` paying operator `n` (which accepts), with `bondE8s` locked when given. */
function addRunner(store: Stores, runner: string, n: number, bondE8s?: bigint): void {
  if (bondE8s !== undefined) {
    okOf(beginBond(store, runner, bondE8s, NOW));
    bondLocked(store, runner, 1n);
  }
  okOf(registerRunner(store, runner, NOW, runnerManifest(operatorOf(n), [deployment(CARD, { slots: 4 })])));
  okOf(acceptOperator(store, operatorOf(n), NOW, runner));
  okOf(heartbeat(store, runner, NOW, { state: 'ready', busySlots: 0, queueDepth: 0, tokensPerSecond: 1, kvCacheUsage: 0 }));
}

let keys = 0;
function submitted(store: Stores, requester: string, redundancy = 1): string {
  const { task } = okOf(
    submitTask(store, requester, NOW, {
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

/** `requester` submits, `runner` answers, the requester accepts. */
function accepted(store: Stores, requester: string, runner: string): Task {
  const id = submitted(store, requester);
  okOf(claimTask(store, runner, NOW, id));
  okOf(completeTask(store, runner, NOW, id, result('answer')));
  return okOf(acceptTask(store, requester, NOW, id));
}

const emissionTo = (store: Stores, operator: string): bigint =>
  [...store.payouts.entries()]
    .map(([, p]): Payout => p)
    .filter((p) => p.kind === 'emission' && p.to.owner === operator)
    .reduce((sum, p) => sum + p.amountE8s, 0n);

describe('the epoch credit table', () => {
  it(`cannot be flooded shut: after ${MAX_EPOCH_CREDITS} fresh requesters each credit a minimum task, a new honest pair still earns`, () => {
    const store = world(10n ** 12n);
    addRunner(store, 'attacker', 0xa0);
    addRunner(store, 'honest', 0xc0);
    closeEpoch(store, NOW);
    // The flood: each fresh requester's one minimum task at the attacker's runner (what settling it credits).
    for (let i = 0; i < MAX_EPOCH_CREDITS; i++) addAcceptedWork(store, NOW, `wash-${i}`, FEE_PAID, ['attacker']);
    expect(accepted(store, 'client', 'honest').state).toBe('accepted');
    // A known pair accumulates.
    expect(accepted(store, 'client', 'honest').state).toBe('accepted');

    closeEpoch(store, NOW - (NOW % EPOCH) + EPOCH);
    // The honest pair's fees come back as emission (the budget exceeds all fees), the attacker's at most its fees.
    expect(emissionTo(store, operatorOf(0xc0))).toBe(2n * FEE_PAID);
    expect(emissionTo(store, operatorOf(0xa0))).toBeLessThanOrEqual(BigInt(MAX_EPOCH_CREDITS) * FEE_PAID);
  });

  it('an early flood at a higher fee holds at most a tenth of the table: a later minimum-fee pair still earns', () => {
    const store = world(10n ** 12n);
    addRunner(store, 'attacker', 0xa0);
    addRunner(store, 'honest', 0xc0);
    closeEpoch(store, NOW);
    for (let i = 0; i < MAX_EPOCH_CREDITS; i++) addAcceptedWork(store, NOW, `wash-${i}`, 2n * FEE_PAID, ['attacker']);
    expect(store.epochCredits.size()).toBe(MAX_OPERATOR_CREDITS);
    expect(accepted(store, 'client', 'honest').state).toBe('accepted');
    closeEpoch(store, NOW - (NOW % EPOCH) + EPOCH);
    expect(emissionTo(store, operatorOf(0xc0))).toBe(FEE_PAID);
    expect(emissionTo(store, operatorOf(0xa0))).toBe(BigInt(MAX_OPERATOR_CREDITS) * 2n * FEE_PAID);
  });

  it('a late equal-fee flood evicts no honest pair credited before it (review 2, F3)', () => {
    const store = world(10n ** 12n);
    addRunner(store, 'attacker', 0xa0);
    addRunner(store, 'honest', 0xc0);
    closeEpoch(store, NOW);
    expect(accepted(store, 'client', 'honest').state).toBe('accepted');
    // Other operators fill the table with minimum-fee pairs (as honest one-task requesters would).
    for (let n = 1; n <= 10; n++) addRunner(store, `filler-${n}`, n);
    for (let i = 0; i < MAX_EPOCH_CREDITS - 1; i++) addAcceptedWork(store, NOW, `one-task-${i}`, FEE_PAID, [`filler-${1 + (i % 10)}`]);
    expect(store.epochCredits.size()).toBe(MAX_EPOCH_CREDITS);
    // Late in the epoch, the attacker's flood of fresh requesters each paying the minimum fee.
    for (let i = 0; i < MAX_EPOCH_CREDITS; i++) addAcceptedWork(store, NOW, `wash-${i}`, FEE_PAID, ['attacker']);
    expect(epochCredits(store).some(([, runner]) => runner === 'attacker')).toBe(false);
    closeEpoch(store, NOW - (NOW % EPOCH) + EPOCH);
    expect(emissionTo(store, operatorOf(0xc0))).toBe(FEE_PAID);
    expect(emissionTo(store, operatorOf(0xa0))).toBe(0n);
  });

  it('replaces the smallest pair (oldest among equals) only for a strictly larger fee, and an operator at its cap only its own', () => {
    const store = world(10n ** 12n);
    for (let n = 0; n < 11; n++) addRunner(store, `runner-${n}`, n);
    closeEpoch(store, NOW);
    addAcceptedWork(store, NOW, 'big', 5n * FEE_PAID, ['runner-0']);
    for (let i = 1; i < MAX_EPOCH_CREDITS; i++)
      addAcceptedWork(store, NOW, `wash-${i}`, 2n * FEE_PAID, [`runner-${Math.floor(i / MAX_OPERATOR_CREDITS)}`]);
    expect(store.epochCredits.size()).toBe(MAX_EPOCH_CREDITS);
    addAcceptedWork(store, NOW, 'small', FEE_PAID, ['runner-10']);
    addAcceptedWork(store, NOW, 'equal', 2n * FEE_PAID, ['runner-10']);
    expect(epochCredits(store).some(([q]) => q === 'small' || q === 'equal')).toBe(false);
    addAcceptedWork(store, NOW, 'larger', 3n * FEE_PAID, ['runner-10']);
    let credits = epochCredits(store);
    expect(credits.some(([q]) => q === 'wash-1')).toBe(false);
    expect(credits).toContainEqual(['larger', 'runner-10', 3n * FEE_PAID]);
    // runner-9's operator holds its cap: a larger pair replaces its own smallest (wash-900), not runner-0's wash-2.
    addAcceptedWork(store, NOW, 'own', 4n * FEE_PAID, ['runner-9']);
    credits = epochCredits(store);
    expect(credits.some(([q]) => q === 'wash-900')).toBe(false);
    expect(credits).toContainEqual(['wash-2', 'runner-0', 2n * FEE_PAID]);
    expect(credits).toContainEqual(['own', 'runner-9', 4n * FEE_PAID]);
    expect(credits).toContainEqual(['big', 'runner-0', 5n * FEE_PAID]);
    expect(credits).toHaveLength(MAX_EPOCH_CREDITS);
    expect(store.epochWork().creditedE8s).toBe(credits.reduce((sum, [, , fee]) => sum + fee, 0n));
    closeEpoch(store, NOW - (NOW % EPOCH) + EPOCH);
    expect(epochCredits(store)).toEqual([]);
    expect(store.epochCredits.size() + store.epochCreditOrder.size()).toBe(0);
    expect(store.epochCreditOperators.size() + store.epochCreditOperatorOrder.size()).toBe(0);
  });

  it('a runner that names a new operator stays at its own cap', () => {
    const store = world(10n ** 12n);
    addRunner(store, 'attacker', 0xa0);
    closeEpoch(store, NOW);
    for (let i = 0; i < MAX_OPERATOR_CREDITS; i++) addAcceptedWork(store, NOW, `wash-${i}`, FEE_PAID, ['attacker']);
    okOf(updateRunner(store, 'attacker', NOW, 'attacker', runnerManifest(operatorOf(0xa1), [deployment(CARD, { slots: 4 })])));
    okOf(acceptOperator(store, operatorOf(0xa1), NOW, 'attacker'));
    for (let i = 0; i < MAX_OPERATOR_CREDITS; i++) addAcceptedWork(store, NOW, `again-${i}`, FEE_PAID, ['attacker']);
    expect(store.epochCredits.size()).toBe(MAX_OPERATOR_CREDITS);
  });
});

describe('votes: a record bought by wash trading never outweighs bond', () => {
  it('Sybils with wash-traded records but less bond than an honest runner neither win nor get it slashed', () => {
    const store = world();
    okOf(setBondConfig(store, ADMIN, { amountE8s: BOND }));
    addRunner(store, 'sybil-1', 0xb1, BOND);
    addRunner(store, 'sybil-2', 0xb2, BOND);
    // Each Sybil buys a record: tasks from fresh requester principals, each paying the protocol fee.
    for (const sybil of ['sybil-1', 'sybil-2'])
      for (let i = 0; i < 3; i++) expect(accepted(store, `${sybil}-wash-${i}`, sybil).state).toBe('accepted');
    expect(store.reputation.get('sybil-1')?.independentAccepted).toBe(3);
    // The bond requirement rises; the honest runner holds all of it, each Sybil a quarter.
    okOf(setBondConfig(store, ADMIN, { amountE8s: 4n * BOND }));
    addRunner(store, 'honest', 0xc0, 4n * BOND);

    const id = submitted(store, 'client', 3);
    for (const r of ['honest', 'sybil-1', 'sybil-2']) okOf(claimTask(store, r, NOW, id));
    okOf(completeTask(store, 'honest', NOW, id, result('Paris')));
    okOf(completeTask(store, 'sybil-1', NOW, id, result('garbage')));
    okOf(completeTask(store, 'sybil-2', NOW, id, result('garbage')));
    // Records: 4 × 250 each for the Sybils (2,000) against 1 × 1,000: by weight alone they would win; by bond they hold
    // 2 × 250 against 1,000.
    expect(okOf(acceptTask(store, 'client', NOW, id)).state).toBe('review');
    tick(store, store.tasks.get(id)!.reviewEndsAtNs!);
    const settled = store.tasks.get(id)!;
    expect(settled.paidRunners ?? []).toEqual([]);
    // No majority of both: the vote escalates (at the review's end) for more results, and nobody is slashed.
    expect(settled.state).toBe('queued');
    expect(store.bonds.get('honest')?.amountE8s).toBe(4n * BOND);
  });
});
