import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { quoteReward, splitEmission, workUnits } from '../../../src/core/rewards/index.ts';
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

describe('workUnits', () => {
  it('is tokens times billions of active parameters, rounded, at least 1', () => {
    expect(workUnits(10n, 20n, 8_030_261_248)).toBe(240n);
    expect(workUnits(10n, 20n, 70_600_000_000)).toBe(30n * 71n);
    expect(workUnits(10n, 20n, 1_500_000_000)).toBe(60n);
    expect(workUnits(10n, 20n, 1_400_000_000)).toBe(30n);
    expect(workUnits(10n, 20n, 400_000_000)).toBe(30n);
    expect(workUnits(0n, 0n, 8e9)).toBe(0n);
  });

  it('grows with tokens and with model size', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 9n }),
        fc.bigInt({ min: 0n, max: 10n ** 9n }),
        fc.integer({ min: 1, max: 10 ** 13 }),
        fc.integer({ min: 0, max: 10 ** 12 }),
        (input, output, params, more) => {
          const units = workUnits(input, output, params);
          expect(units).toBeGreaterThanOrEqual(input + output);
          expect(workUnits(input + 1n, output, params)).toBeGreaterThan(units);
          expect(workUnits(input, output, params + more)).toBeGreaterThanOrEqual(units);
        }
      )
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
