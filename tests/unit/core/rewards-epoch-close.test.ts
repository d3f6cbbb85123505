import { describe, expect, it } from 'vitest';

import { principalToText } from '../../../src/core/principal-text.ts';
import { makeConfig, memoryStore, type Result } from '../../../src/core/registry/index.ts';
import * as rewards from '../../../src/core/rewards/index.ts';
import { addAcceptedWork, closeEpoch, epochCredits, MAX_OPERATOR_CREDITS, type Payout } from '../../../src/core/rewards/index.ts';
import { memoryTaskStore, setTaskConfig, tick, type Stores } from '../../../src/core/tasks/index.ts';

/**
 * Issue 16: an epoch's close is bounded. A user's call that finds the epoch ended only marks it closing; the
 * maintenance timer settles it in budgeted steps from a persisted cursor, paying each runner's emission exactly once.
 * The first test fails on the core as it was before (addAcceptedWork closed and paid the epoch in the caller's
 * message; checked), the others on its lack of a stepped close.
 */
const SECOND = 1_000_000_000n;
const EPOCH = 3600n * SECOND;
const START = 1_000n * EPOCH;
const END = START + EPOCH;
const FEE = 20_000n;
const ADMIN = 'admin';
const TREASURY = { owner: principalToText(Uint8Array.of(0x0e, 0x01)) };

function okOf<T>(result: Result<T>): T {
  if ('Err' in result) throw new Error(`expected Ok, got ${JSON.stringify(result.Err, (_k, v: unknown) => String(v))}`);
  return result.Ok;
}

/** An epoch opened at START with emission on, `pairs` requester–runner pairs credited (MAX_OPERATOR_CREDITS per runner). */
function world(pairs: number): Stores {
  const store: Stores = { ...memoryStore(okOf(makeConfig({ admins: [ADMIN] }))), ...memoryTaskStore() };
  okOf(
    setTaskConfig(store, ADMIN, {
      ledger: 'ryjl3-tyaaa-aaaaa-aaaba-cai',
      treasury: TREASURY,
      emissionPerEpochE8s: 10n ** 12n,
      epochSeconds: EPOCH / SECOND
    })
  );
  closeEpoch(store, START);
  for (let i = 0; i < pairs; i++)
    addAcceptedWork(store, START + 1n, `requester-${i}`, FEE + BigInt(i), [`runner-${Math.floor(i / MAX_OPERATOR_CREDITS)}`]);
  return store;
}

const emission = (store: Stores): Payout[] => [...store.payouts.entries()].map(([, p]) => p).filter((p) => p.kind === 'emission');
const bank0Keys = (store: Stores): number =>
  store.epochCredits.size() + store.epochCreditOrder.size() + store.epochCreditOperators.size() + store.epochCreditOperatorOrder.size();

describe('an epoch closes in bounded steps', () => {
  it('a user call that finds the epoch ended only marks it: no payout, no credit cleared, its own work goes to the next epoch', () => {
    const store = world(300);
    const keysBefore = bank0Keys(store);
    addAcceptedWork(store, END, 'late', FEE, ['runner-late']);
    expect(emission(store)).toEqual([]);
    expect(bank0Keys(store)).toBe(keysBefore);
    expect(store.epochWork().epoch).toBe(END / EPOCH);
    expect(epochCredits(store)).toEqual([['late', 'runner-late', FEE]]);
  });

  it('the maintenance tick settles it in budgeted steps, pays every runner exactly once, and clears its bank', () => {
    const reference = world(300);
    closeEpoch(reference, END);
    const expected = emission(reference).map((p) => [p.id, p.amountE8s]);
    expect(expected).toHaveLength(3);

    const store = world(300);
    addAcceptedWork(store, END, 'late', FEE, ['runner-late']);
    const added = new Map<string, number>();
    const set = store.payouts.set.bind(store.payouts);
    store.payouts.set = (id, payout) => {
      if (!store.payouts.has(id)) added.set(id, (added.get(id) ?? 0) + 1);
      set(id, payout);
    };
    let steps = 0;
    const paid: Array<[string, bigint]> = [];
    for (;;) {
      steps++;
      let checks = 0;
      // A small budget: a step ends after a few units of work; what it did is kept, the next resumes after it.
      const more = tick(store, END + BigInt(steps) * SECOND, () => ++checks > 2).more;
      // Payouts already made leave the outbox (as the payout run does): none may come back.
      for (const p of emission(store)) {
        paid.push([p.id, p.amountE8s]);
        store.payouts.delete(p.id);
      }
      if (!more) break;
      expect(steps).toBeLessThan(1_000);
    }
    expect(steps).toBeGreaterThan(5);
    expect(paid).toEqual(expected);
    expect([...added.values()].every((n) => n === 1)).toBe(true);
    expect(bank0Keys(store)).toBe(0);
    expect(store.epochClose()).toBeUndefined();
    // The next epoch's credit survived its predecessor's close.
    expect(epochCredits(store)).toEqual([['late', 'runner-late', FEE]]);
  });

  it('a step cut short resumes from its cursor: the emission computed once is kept, nothing is paid twice', () => {
    const store = world(250);
    rewards.markEpochEnd(store, END);
    expect(rewards.stepEpochClose(store, END, () => true)).toBe(true);
    const computed = store.epochClose();
    expect(computed?.emission).toHaveLength(3);
    expect(computed?.paid).toBe(0);
    let checks = 0;
    expect(rewards.stepEpochClose(store, END, () => ++checks > 1)).toBe(true);
    expect(store.epochClose()?.paid).toBe(1);
    // Credits that change the closed bank after the emission was computed do not change what it mints.
    store.epochCredits.delete('requester-0|runner-0');
    while (rewards.stepEpochClose(store, END + SECOND, () => false));
    expect(emission(store).map((p) => p.amountE8s)).toEqual(computed?.emission?.map(([, amount]) => amount));
  });

  it('while a close is still settling, the current epoch runs on rather than opening another', () => {
    const store = world(150);
    addAcceptedWork(store, END, 'late', FEE, ['runner-late']);
    const next = store.epochWork();
    addAcceptedWork(store, END + EPOCH, 'later', FEE, ['runner-late']);
    expect(store.epochWork().epoch).toBe(next.epoch);
    expect(epochCredits(store)).toContainEqual(['later', 'runner-late', FEE]);
    while (tick(store, END + EPOCH + SECOND).more);
    // Once the first close is settled, the epoch that ended meanwhile is marked and settled too.
    expect(store.epochWork().epoch).toBe(next.epoch + 1n);
    expect(emission(store).map((p) => p.id)).toContain(`epoch-${next.epoch}/runner-late`);
  });
});
