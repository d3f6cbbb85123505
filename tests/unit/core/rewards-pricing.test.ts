import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import {
  budgetForE8s,
  chargesOf,
  meteredCostE8s,
  perRunnerCostCapE8s,
  protocolFeeE8s,
  quoteReward,
  runnerPoolCapE8s
} from '../../../src/core/rewards/index.ts';
import { defaultTaskConfig, type TaskConfig } from '../../../src/core/tasks/index.ts';

const TREASURY = { owner: 'treas-aa' };
const config = (overrides: Partial<TaskConfig> = {}): TaskConfig => ({
  ...defaultTaskConfig(),
  ledger: 'ryjl3-tyaaa-aaaaa-aaaba-cai',
  treasury: TREASURY,
  ...overrides
});
const sum = (values: bigint[]): bigint => values.reduce((a, b) => a + b, 0n);

describe('meteredCostE8s', () => {
  it('is tokens × price per million, rounded UP to the next e8s (a runner is never paid below its posted prices)', () => {
    const prices = { inputPerMillion: 1_000n, outputPerMillion: 3_000n };
    expect(meteredCostE8s(prices, 12n, 34n)).toBe(1n); // 0.114 e8s → 1
    expect(meteredCostE8s(prices, 0n, 0n)).toBe(0n);
    expect(meteredCostE8s({ inputPerMillion: 1_000_000n, outputPerMillion: 2_000_000n }, 10n, 5n)).toBe(20n);
    expect(meteredCostE8s({ inputPerMillion: 10n ** 15n, outputPerMillion: 10n ** 15n }, 100n, 121n)).toBe(221n * 10n ** 9n);
  });

  it('is exact in bigint at the nat64 extremes', () => {
    const max = 2n ** 64n - 1n;
    expect(meteredCostE8s({ inputPerMillion: max, outputPerMillion: 0n }, max, 0n)).toBe((max * max + 999_999n) / 1_000_000n);
  });
});

describe('protocolFeeE8s', () => {
  it('is the fee share rounded up, never below the floor, and 0 without a treasury', () => {
    expect(protocolFeeE8s(config(), 1_000_000n)).toBe(50_000n);
    expect(protocolFeeE8s(config(), 1_000_001n)).toBe(50_001n); // 50,000.05 → up
    expect(protocolFeeE8s(config(), 1n)).toBe(20_000n);
    expect(protocolFeeE8s(config({ minProtocolFeeE8s: 0n }), 1n)).toBe(10_001n); // never at or below the ledger fee
    expect(protocolFeeE8s(config({ treasury: undefined }), 1_000_000n)).toBe(0n);
  });

  it('makes splitting work cost more fees, never fewer', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 12n }), fc.integer({ min: 2, max: 100 }), (charged, parts) => {
        const c = config();
        const piece = charged / BigInt(parts);
        expect(BigInt(parts) * protocolFeeE8s(c, piece)).toBeGreaterThanOrEqual(protocolFeeE8s(c, piece * BigInt(parts)));
      })
    );
  });
});

describe('chargesOf', () => {
  it('pays the runner its cost plus the ledger fee, the treasury its fee, and refunds the rest', () => {
    expect(chargesOf(config(), 1_000_000n, 1, [221n])).toEqual({ runners: [10_221n], treasury: 20_000n, refund: 969_779n });
    expect(chargesOf(config(), 1_000_000n, 1, [800_000n])).toEqual({ runners: [810_000n], treasury: 40_000n, refund: 150_000n });
  });

  it('caps each runner at the per-runner cap (a price above the budget is not paid)', () => {
    const cap = perRunnerCostCapE8s(config(), 1_000_000n, 1);
    expect(chargesOf(config(), 1_000_000n, 1, [10n ** 20n]).runners).toEqual([cap + 10_000n]);
  });

  it('gives a dust refund (not above the ledger fee) to the treasury', () => {
    const c = config({ protocolFeeBps: 0 });
    // budget 100,000: runner 70,000 + 10,000, fee 20,000 floor → nothing left; 100,005 leaves 5 of dust.
    expect(chargesOf(c, 100_005n, 1, [70_000n])).toEqual({ runners: [80_000n], treasury: 20_005n, refund: 0n });
  });

  it('sums to the budget exactly, never negative, whatever the costs', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 15n }),
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 0, max: 5_000 }),
        fc.bigInt({ min: 0n, max: 100_000n }),
        fc.bigInt({ min: 0n, max: 200_000n }),
        fc.boolean(),
        fc.array(fc.bigInt({ min: 0n, max: 10n ** 16n }), { minLength: 1, maxLength: 7 }),
        (budget, k, bps, ledgerFee, floor, withTreasury, costs) => {
          const c = config({
            protocolFeeBps: bps,
            ledgerFeeE8s: ledgerFee,
            minProtocolFeeE8s: floor,
            treasury: withTreasury ? TREASURY : undefined
          });
          const paid = costs.slice(0, k);
          const charges = chargesOf(c, budget, k, paid);
          expect(sum(charges.runners) + charges.treasury + charges.refund).toBe(budget);
          for (const amount of [...charges.runners, charges.treasury, charges.refund]) expect(amount).toBeGreaterThanOrEqual(0n);
          if (!withTreasury) expect(charges.treasury).toBe(0n);
          if (quoteReward(c, budget, k).acceptable) {
            // Within the budget's bounds, each runner receives exactly its (capped) cost.
            const cap = perRunnerCostCapE8s(c, budget, k);
            charges.runners.forEach((gross, i) => {
              const cost = paid[i] as bigint;
              expect(gross - ledgerFee).toBeGreaterThanOrEqual(cost < cap ? cost : cap);
            });
            if (withTreasury) expect(charges.treasury).toBeGreaterThan(ledgerFee);
          }
        }
      ),
      { numRuns: 1_000 }
    );
  });
});

describe('runnerPoolCapE8s and budgetForE8s', () => {
  it('leaves room for the fee on the whole pool', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 15n }), fc.integer({ min: 0, max: 5_000 }), (budget, bps) => {
        const c = config({ protocolFeeBps: bps });
        const pool = runnerPoolCapE8s(c, budget);
        if (pool > 0n) expect(pool + protocolFeeE8s(c, pool)).toBeLessThanOrEqual(budget);
      })
    );
  });

  it('budgetForE8s is the smallest budget whose per-runner cap covers the cost', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 10n ** 12n }),
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 0, max: 5_000 }),
        fc.boolean(),
        (cost, k, bps, withTreasury) => {
          const c = config({ protocolFeeBps: bps, treasury: withTreasury ? TREASURY : undefined });
          const budget = budgetForE8s(c, cost, k);
          expect(perRunnerCostCapE8s(c, budget, k)).toBeGreaterThanOrEqual(cost);
          expect(budget).toBeGreaterThanOrEqual(c.minRewardE8s);
          if (budget > c.minRewardE8s) expect(perRunnerCostCapE8s(c, budget - BigInt(k), k)).toBeLessThan(cost + 1n);
        }
      )
    );
  });
});
