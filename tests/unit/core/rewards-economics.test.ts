import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { epochEmission, quoteReward, splitEmission, type EpochTerms } from '../../../src/core/rewards/index.ts';
import { defaultTaskConfig, type TaskConfig } from '../../../src/core/tasks/index.ts';

const TREASURY = { owner: 'treas-aa' };

const config = (overrides: Partial<TaskConfig> = {}): TaskConfig => ({
  ...defaultTaskConfig(),
  ledger: 'ryjl3-tyaaa-aaaaa-aaaba-cai',
  treasury: TREASURY,
  ...overrides
});
const sum = (values: bigint[]): bigint => values.reduce((a, b) => a + b, 0n);

describe('quoteReward', () => {
  it('bounds what a budget buys: the per-runner cap leaves room for the ledger fees and the protocol fee', () => {
    // pool = min(1,000,000 − 20,000, ⌊1,000,000 × 10,000 / 10,500⌋ = 952,380); one runner: 952,380 − 10,000.
    expect(quoteReward(config(), 1_000_000n, 1)).toEqual({
      rewardE8s: 1_000_000n,
      protocolFeeE8s: 47_119n,
      perRunnerNetE8s: 942_380n,
      treasuryNetE8s: 37_119n,
      refundNetE8s: 990_000n,
      ledgerFeeE8s: 10_000n,
      acceptable: true
    });
    expect(quoteReward(config(), 1_000_000n, 3)).toMatchObject({ perRunnerNetE8s: 317_460n - 10_000n, acceptable: true });
  });

  it('charges at least the protocol fee floor on small budgets (no rounding to 0)', () => {
    expect(quoteReward(config(), 200_000n, 1)).toMatchObject({
      protocolFeeE8s: 20_000n,
      treasuryNetE8s: 10_000n,
      perRunnerNetE8s: 170_000n
    });
    expect(quoteReward(config({ minProtocolFeeE8s: 50_000n }), 200_000n, 1)).toMatchObject({ protocolFeeE8s: 50_000n });
  });

  it('charges no protocol fee without a treasury', () => {
    expect(quoteReward(config({ treasury: undefined }), 1_000_000n, 1)).toMatchObject({
      protocolFeeE8s: 0n,
      treasuryNetE8s: 0n,
      perRunnerNetE8s: 990_000n
    });
  });

  it('is acceptable from the minimum reward on, while each runner can be paid at least 1 e8s', () => {
    expect(quoteReward(config(), 99_999n, 1).acceptable).toBe(false);
    expect(quoteReward(config(), 100_000n, 1).acceptable).toBe(true);
    const low = config({ treasury: undefined, minRewardE8s: 10_001n });
    // 70,000 / 7 = 10,000: equal to the ledger fee, so the runner could not be paid anything.
    expect(quoteReward(low, 70_000n, 7)).toMatchObject({ perRunnerNetE8s: 0n, acceptable: false });
    expect(quoteReward(low, 70_007n, 7)).toMatchObject({ perRunnerNetE8s: 1n, acceptable: true });
  });
});

describe('epochEmission', () => {
  const terms = (emissionE8s: bigint, requesterCapBps = 10_000): EpochTerms => ({ startNs: 0n, endNs: 60n, emissionE8s, requesterCapBps });

  it('mints at most the fees the counted work paid, and at most the budget', () => {
    // Budget above the fees: each runner gets back exactly the fees credited to it (a 100 % rebate, no more).
    expect(
      epochEmission(terms(1_000_000n), [
        ['req-1', 'runner-a', 30_000n],
        ['req-2', 'runner-b', 50_000n]
      ])
    ).toEqual([
      ['runner-a', 30_000n],
      ['runner-b', 50_000n]
    ]);
    // Budget below the fees: the budget, pro rata by fees.
    expect(
      epochEmission(terms(8_000n), [
        ['req-1', 'runner-a', 30_000n],
        ['req-2', 'runner-b', 50_000n]
      ])
    ).toEqual([
      ['runner-a', 3_000n],
      ['runner-b', 5_000n]
    ]);
    expect(epochEmission(terms(0n), [['req-1', 'runner-a', 30_000n]])).toEqual([]);
    expect(epochEmission(terms(1_000n), [])).toEqual([]);
    expect(epochEmission(terms(1_000n), [['req-1', 'runner-a', 0n]])).toEqual([]);
  });

  it("caps each requester's work at its share of the budget, split over its runners by fees", () => {
    // Cap 25 % of 100,000 = 25,000: req-1 paid 90,000 (capped), req-2 and req-3 paid 10,000 each.
    expect(
      epochEmission(terms(100_000n, 2_500), [
        ['req-1', 'runner-a', 60_000n],
        ['req-1', 'runner-b', 30_000n],
        ['req-2', 'runner-b', 10_000n],
        ['req-3', 'runner-c', 10_000n]
      ])
    ).toEqual([
      ['runner-a', 16_667n],
      ['runner-b', 8_333n + 10_000n],
      ['runner-c', 10_000n]
    ]);
  });

  it('shares what a capped requester leaves among the others, pro rata by their fees (water-filling)', () => {
    // Budget 100,000, cap 50 %: pro rata, big would get 75,000; capped at 50,000, the other 50,000 go to the rest
    // at half their fees (not a quarter).
    expect(
      epochEmission(terms(100_000n, 5_000), [
        ['big', 'runner-a', 300_000n],
        ['small-1', 'runner-b', 60_000n],
        ['small-2', 'runner-c', 40_000n]
      ])
    ).toEqual([
      ['runner-a', 50_000n],
      ['runner-b', 30_000n],
      ['runner-c', 20_000n]
    ]);
  });

  it('never pays a requester group more than its fees or its cap, and sums to min(budget, Σ allotments)', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 12n }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.array(
          fc.tuple(fc.constantFrom('q1', 'q2', 'q3', 'q4'), fc.constantFrom('r1', 'r2', 'r3'), fc.bigInt({ min: 0n, max: 10n ** 10n })),
          {
            maxLength: 12
          }
        ),
        (budget, capBps, credits) => {
          const minted = epochEmission(terms(budget, capBps), credits);
          const fees = new Map<string, bigint>();
          const runnerFees = new Map<string, bigint>();
          for (const [q, r, f] of credits) {
            fees.set(q, (fees.get(q) ?? 0n) + f);
            runnerFees.set(r, (runnerFees.get(r) ?? 0n) + f);
          }
          const cap = (budget * BigInt(capBps)) / 10_000n;
          const allotted = [...fees.values()].reduce((s, f) => s + (f < cap ? f : cap), 0n);
          const total = minted.reduce((s, [, a]) => s + a, 0n);
          expect(total).toBe(allotted < budget ? allotted : budget);
          for (const [runner, amount] of minted) {
            expect(amount).toBeGreaterThan(0n);
            expect(amount).toBeLessThanOrEqual(runnerFees.get(runner) ?? 0n);
          }
        }
      ),
      { numRuns: 1_000 }
    );
  });
});

describe('splitEmission', () => {
  it('mints nothing without a budget or without work', () => {
    expect(splitEmission(0n, [['runner-a', 5n]])).toEqual([]);
    expect(splitEmission(-5n, [['runner-a', 5n]])).toEqual([]);
    expect(splitEmission(1_000n, [])).toEqual([]);
    expect(
      splitEmission(1_000n, [
        ['runner-a', 0n],
        ['runner-b', 0n]
      ])
    ).toEqual([]);
  });

  it('splits floor shares first, then the leftover units to the largest contributors (ties by runner id)', () => {
    expect(splitEmission(1_000n, [['runner-a', 7n]])).toEqual([['runner-a', 1_000n]]);
    expect(
      splitEmission(10n, [
        ['runner-a', 1n],
        ['runner-b', 2n]
      ])
    ).toEqual([
      ['runner-a', 3n],
      ['runner-b', 7n]
    ]);
    expect(
      splitEmission(3n, [
        ['runner-b', 1n],
        ['runner-a', 1n]
      ])
    ).toEqual([
      ['runner-b', 1n],
      ['runner-a', 2n]
    ]);
    expect(
      splitEmission(7n, [
        ['runner-a', 0n],
        ['runner-b', 5n]
      ])
    ).toEqual([['runner-b', 7n]]);
    expect(
      splitEmission(2n, [
        ['runner-a', 1n],
        ['runner-b', 1n],
        ['runner-c', 1n]
      ])
    ).toEqual([
      ['runner-a', 1n],
      ['runner-b', 1n]
    ]);
    expect(
      splitEmission(1_000_000n, [
        ['runner-a', 480n],
        ['runner-b', 560n]
      ])
    ).toEqual([
      ['runner-a', 461_538n],
      ['runner-b', 538_462n]
    ]);
  });

  // Small unit values make ties and zero units common; large ones exercise big products.
  const unitValue = fc.oneof(fc.bigInt({ min: 0n, max: 5n }), fc.bigInt({ min: 0n, max: 10n ** 12n }));
  const work = fc
    .array(unitValue, { minLength: 1, maxLength: 20 })
    .map((units) => units.map((u, i): [string, bigint] => [`runner-${String(i).padStart(2, '0')}`, u]));
  const budget = fc.oneof(fc.bigInt({ min: 1n, max: 50n }), fc.bigInt({ min: 1n, max: 10n ** 16n }));
  const anyWork = (units: Array<[string, bigint]>): boolean => units.some(([, u]) => u > 0n);
  const sharesOf = (b: bigint, units: Array<[string, bigint]>): Map<string, bigint> => new Map(splitEmission(b, units));

  it('shares sum exactly to the budget whenever any units > 0, and are positive, each within one of its exact pro rata share', () => {
    fc.assert(
      fc.property(budget, work, (b, units) => {
        fc.pre(anyWork(units));
        const split = splitEmission(b, units);
        expect(sum(split.map(([, s]) => s))).toBe(b);
        const total = sum(units.map(([, u]) => u));
        const unitsOf = new Map(units);
        for (const [runner, share] of split) {
          expect(share).toBeGreaterThan(0n);
          const u = unitsOf.get(runner) as bigint;
          expect(u).toBeGreaterThan(0n);
          const floor = (b * u) / total;
          expect(share >= floor && share <= floor + 1n).toBe(true);
        }
        expect(new Set(split.map(([runner]) => runner)).size).toBe(split.length);
      })
    );
  });

  it('is monotone: a runner with more units never gets fewer tokens than one with fewer', () => {
    fc.assert(
      fc.property(budget, work, (b, units) => {
        fc.pre(anyWork(units));
        const shares = sharesOf(b, units);
        for (const [x, ux] of units) {
          for (const [y, uy] of units) if (ux > uy) expect(shares.get(x) ?? 0n).toBeGreaterThanOrEqual(shares.get(y) ?? 0n);
        }
      })
    );
  });

  it('is monotone: more units for one runner, all else equal, never gives it fewer tokens', () => {
    fc.assert(
      fc.property(budget, work, fc.nat(), fc.bigInt({ min: 1n, max: 10n ** 6n }), (b, units, pick, extra) => {
        fc.pre(anyWork(units));
        const i = pick % units.length;
        const [runner] = units[i] as [string, bigint];
        const more = units.map(([r, u], j): [string, bigint] => [r, j === i ? u + extra : u]);
        expect(sharesOf(b, more).get(runner) ?? 0n).toBeGreaterThanOrEqual(sharesOf(b, units).get(runner) ?? 0n);
      })
    );
  });

  it('does not depend on the order the work is listed in', () => {
    fc.assert(
      fc.property(
        budget,
        work.chain((units) =>
          fc.tuple(fc.constant(units), fc.shuffledSubarray(units, { minLength: units.length, maxLength: units.length }))
        ),
        (b, [units, shuffled]) => {
          expect(sharesOf(b, shuffled)).toEqual(sharesOf(b, units));
        }
      )
    );
  });
});
