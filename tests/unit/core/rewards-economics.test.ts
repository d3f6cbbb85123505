import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { epochEmission, quoteReward, splitEmission, splitReward, type EpochTerms } from '../../../src/core/rewards/index.ts';
import { defaultTaskConfig, type TaskConfig } from '../../../src/core/tasks/index.ts';

const TREASURY = { owner: 'treas-aa' };
const RUNNERS = ['runner-a', 'runner-b', 'runner-c', 'runner-d', 'runner-e', 'runner-f', 'runner-g'];

const config = (overrides: Partial<TaskConfig> = {}): TaskConfig => ({
  ...defaultTaskConfig(),
  ledger: 'ryjl3-tyaaa-aaaaa-aaaba-cai',
  treasury: TREASURY,
  ...overrides
});
const sum = (values: bigint[]): bigint => values.reduce((a, b) => a + b, 0n);

describe('quoteReward', () => {
  it('publishes the fee formula: 5 % protocol fee, the rest split among k runners, each payout less the ledger fee', () => {
    expect(quoteReward(config(), 1_000_000n, 1)).toEqual({
      rewardE8s: 1_000_000n,
      protocolFeeE8s: 50_000n,
      perRunnerNetE8s: 940_000n,
      treasuryNetE8s: 40_000n,
      refundNetE8s: 990_000n,
      ledgerFeeE8s: 10_000n,
      acceptable: true
    });
    expect(quoteReward(config(), 1_000_000n, 3)).toMatchObject({
      protocolFeeE8s: 50_000n,
      perRunnerNetE8s: 316_666n - 10_000n,
      acceptable: true
    });
  });

  it('rounds the protocol fee down', () => {
    expect(quoteReward(config(), 1_000_399n, 1).protocolFeeE8s).toBe(50_019n);
    expect(quoteReward(config({ protocolFeeBps: 1 }), 123_456_789n, 1).protocolFeeE8s).toBe(12_345n);
  });

  it('gives a protocol fee not above the ledger fee to the runners instead', () => {
    expect(quoteReward(config(), 200_000n, 1)).toMatchObject({ protocolFeeE8s: 0n, treasuryNetE8s: 0n, perRunnerNetE8s: 190_000n });
    expect(quoteReward(config(), 200_020n, 1)).toMatchObject({ protocolFeeE8s: 10_001n, treasuryNetE8s: 1n, perRunnerNetE8s: 180_019n });
  });

  it('charges no protocol fee without a treasury, or at 0 bps', () => {
    expect(quoteReward(config({ treasury: undefined }), 1_000_000n, 1)).toMatchObject({
      protocolFeeE8s: 0n,
      treasuryNetE8s: 0n,
      perRunnerNetE8s: 990_000n
    });
    expect(quoteReward(config({ protocolFeeBps: 0 }), 1_000_000n, 1)).toMatchObject({ protocolFeeE8s: 0n, perRunnerNetE8s: 990_000n });
  });

  it('is acceptable from the minimum reward on, while every runner payout exceeds the ledger fee', () => {
    expect(quoteReward(config(), 99_999n, 1).acceptable).toBe(false);
    expect(quoteReward(config(), 100_000n, 1).acceptable).toBe(true);
    const low = config({ treasury: undefined, minRewardE8s: 10_001n });
    // 70,000 / 7 = 10,000: equal to the ledger fee, so the runner would receive nothing.
    expect(quoteReward(low, 70_000n, 7)).toMatchObject({ perRunnerNetE8s: 0n, acceptable: false });
    expect(quoteReward(low, 70_007n, 7)).toMatchObject({ perRunnerNetE8s: 1n, acceptable: true });
  });

  it('agrees with splitReward: each runner gets its net quote plus the ledger fee', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 15n }),
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 0, max: 5_000 }),
        fc.bigInt({ min: 0n, max: 1_000_000n }),
        fc.boolean(),
        (reward, k, bps, ledgerFee, withTreasury) => {
          const c = config({ protocolFeeBps: bps, ledgerFeeE8s: ledgerFee, treasury: withTreasury ? TREASURY : undefined });
          const quote = quoteReward(c, reward, k);
          const split = splitReward(c, reward, RUNNERS.slice(0, k));
          expect(split.treasury).toBe(quote.protocolFeeE8s);
          expect(split.runners.at(-1)?.[1]).toBe(quote.perRunnerNetE8s + ledgerFee);
          expect(quote.refundNetE8s).toBe(reward - ledgerFee);
          if (quote.acceptable) {
            expect(quote.perRunnerNetE8s).toBeGreaterThan(0n);
            expect(quote.treasuryNetE8s).toBeGreaterThanOrEqual(0n);
            expect(reward).toBeGreaterThanOrEqual(c.minRewardE8s);
          }
        }
      )
    );
  });
});

describe('splitReward', () => {
  it('splits the pool equally in majority order, the first runner taking the remainder', () => {
    expect(splitReward(config(), 1_000_003n, ['runner-c', 'runner-a', 'runner-b'])).toEqual({
      runners: [
        ['runner-c', 316_669n],
        ['runner-a', 316_667n],
        ['runner-b', 316_667n]
      ],
      treasury: 50_000n
    });
    expect(splitReward(config({ treasury: undefined }), 1_000_000n, ['runner-a'])).toEqual({
      runners: [['runner-a', 1_000_000n]],
      treasury: 0n
    });
  });

  it('sums to the reward exactly, never negative, shares within the remainder of each other', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 18n }),
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 0, max: 5_000 }),
        fc.bigInt({ min: 0n, max: 10n ** 9n }),
        fc.boolean(),
        (reward, k, bps, ledgerFee, withTreasury) => {
          const c = config({ protocolFeeBps: bps, ledgerFeeE8s: ledgerFee, treasury: withTreasury ? TREASURY : undefined });
          const runners = RUNNERS.slice(0, k);
          const split = splitReward(c, reward, runners);
          const amounts = split.runners.map(([, amount]) => amount);
          expect(split.runners.map(([runner]) => runner)).toEqual(runners);
          expect(sum(amounts) + split.treasury).toBe(reward);
          for (const amount of [...amounts, split.treasury]) expect(amount).toBeGreaterThanOrEqual(0n);
          const rest = amounts.slice(1);
          rest.forEach((amount) => expect(amount).toBe(amounts.at(-1)));
          expect((amounts[0] as bigint) - (amounts.at(-1) as bigint)).toBeLessThan(BigInt(k));
          if (!withTreasury) expect(split.treasury).toBe(0n);
        }
      )
    );
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
