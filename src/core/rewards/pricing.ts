import type { RewardConfig } from './types.js';

/**
 * Metered pricing (README "Pricing"). A task's `reward_e8s` is the requester's BUDGET, escrowed whole at submit. An
 * accepted task charges, per paid runner, its metered tokens times the prices its deployment posted when it leased
 * the task, plus the protocol fee; what is left goes back to the requester. All amounts are e8s, all math bigint.
 *
 *   cost(runner)   = ceil((input_tokens × input_price + output_tokens × output_price) / 1,000,000)
 *                    rounded UP: a runner is never paid below the prices it posted (at most 1 e8s above them)
 *   runner payout  = cost + ledger fee (the escrow pays the transfer fee, so the runner receives its cost exactly)
 *   protocol fee   = max(min_protocol_fee, ceil(Σ cost × fee_bps / 10,000)), 0 when no treasury is set; the floor
 *                    is at least the ledger fee + 1
 *                    rounded UP, with an absolute floor: splitting work into small tasks does not avoid it
 *   refund         = budget − Σ runner payouts − protocol fee (a remainder not above the ledger fee, which would be
 *                    dust, goes to the treasury, or to the first runner without one)
 *
 * The budget caps it all: the runners' payouts (each at most the per-runner cap) plus the fee never exceed it.
 */

export const PER_MILLION = 1_000_000n;
const BPS = 10_000n;

/** The floor of the protocol fee when none is configured: twice the default ledger fee. */
export const DEFAULT_MIN_PROTOCOL_FEE_E8S = 20_000n;

export interface Prices {
  inputPerMillion: bigint;
  outputPerMillion: bigint;
}

const ceilDiv = (a: bigint, b: bigint): bigint => (a + b - 1n) / b;

/** Metered tokens times prices per million, rounded up to the next e8s. */
export function meteredCostE8s(prices: Prices, inputTokens: bigint, outputTokens: bigint): bigint {
  return ceilDiv(inputTokens * prices.inputPerMillion + outputTokens * prices.outputPerMillion, PER_MILLION);
}

/** The configured floor, and always above the ledger fee (the treasury is paid by a transfer that costs it). */
export function minProtocolFeeOf(config: RewardConfig): bigint {
  const floor = config.minProtocolFeeE8s ?? DEFAULT_MIN_PROTOCOL_FEE_E8S;
  return floor > config.ledgerFeeE8s ? floor : config.ledgerFeeE8s + 1n;
}

/** The protocol fee on `chargedE8s` of runner costs: a share rounded up, at least the floor; 0 without a treasury. */
export function protocolFeeE8s(config: RewardConfig, chargedE8s: bigint): bigint {
  if (config.treasury === undefined) return 0n;
  const share = ceilDiv(chargedE8s * BigInt(config.protocolFeeBps), BPS);
  const floor = minProtocolFeeOf(config);
  return share > floor ? share : floor;
}

/**
 * The most the runners' payouts (costs plus ledger fees) may take of `budgetE8s`, leaving room for the fee on them:
 * the largest P with P + fee(P) ≤ budget, i.e. min(budget − floor, ⌊budget × 10,000 / (10,000 + bps)⌋).
 */
export function runnerPoolCapE8s(config: RewardConfig, budgetE8s: bigint): bigint {
  if (config.treasury === undefined) return budgetE8s;
  const byShare = (budgetE8s * BPS) / (BPS + BigInt(config.protocolFeeBps));
  const byFloor = budgetE8s - minProtocolFeeOf(config);
  const cap = byShare < byFloor ? byShare : byFloor;
  return cap < 0n ? 0n : cap;
}

/** The most one of `redundancy` runners may charge (its cost, before the ledger fee the escrow adds); ≤ 0: nothing. */
export function perRunnerCostCapE8s(config: RewardConfig, budgetE8s: bigint, redundancy: number): bigint {
  return runnerPoolCapE8s(config, budgetE8s) / BigInt(Math.max(1, redundancy)) - config.ledgerFeeE8s;
}

export interface Charges {
  /** Gross payout per paid runner (its capped cost plus the ledger fee), in the order given. */
  runners: bigint[];
  treasury: bigint;
  refund: bigint;
}

/**
 * What an accepted task's escrow pays: each runner its cost (capped at the per-runner cap) plus the ledger fee, the
 * treasury the fee, the requester the rest. The parts sum to the budget exactly.
 */
export function chargesOf(config: RewardConfig, budgetE8s: bigint, redundancy: number, costsE8s: bigint[]): Charges {
  if (costsE8s.length === 0) return { runners: [], treasury: 0n, refund: budgetE8s };
  const cap = perRunnerCostCapE8s(config, budgetE8s, redundancy);
  const capped = costsE8s.map((c) => (c < 0n ? 0n : c > cap ? (cap < 0n ? 0n : cap) : c));
  const charged = capped.reduce((a, b) => a + b, 0n);
  const runners = capped.map((c) => c + config.ledgerFeeE8s);
  let treasury = protocolFeeE8s(config, charged);
  let refund = budgetE8s - runners.reduce((a, b) => a + b, 0n) - treasury;
  if (refund < 0n) {
    // Only after the config changed under an open task (a higher ledger fee or floor): its runners share the budget.
    const each = budgetE8s / BigInt(costsE8s.length);
    return { runners: costsE8s.map((_, i) => (i === 0 ? budgetE8s - each * BigInt(costsE8s.length - 1) : each)), treasury: 0n, refund: 0n };
  }
  if (refund <= config.ledgerFeeE8s) {
    // Dust: a transfer of it would deliver nothing (or be refused).
    if (config.treasury !== undefined) treasury += refund;
    else runners[0] = (runners[0] as bigint) + refund;
    refund = 0n;
  }
  return { runners, treasury, refund };
}

/**
 * The smallest budget (at least the minimum reward) with which each of `redundancy` runners may charge `costE8s`:
 * the inverse of `perRunnerCostCapE8s`, rounded up.
 */
export function budgetForE8s(config: RewardConfig, costE8s: bigint, redundancy: number): bigint {
  const pool = BigInt(Math.max(1, redundancy)) * ((costE8s < 1n ? 1n : costE8s) + config.ledgerFeeE8s);
  let budget = pool;
  if (config.treasury !== undefined) {
    const bps = BigInt(config.protocolFeeBps);
    const byShare = ceilDiv(pool * (BPS + bps), BPS);
    const byFloor = pool + minProtocolFeeOf(config);
    budget = byShare > byFloor ? byShare : byFloor;
  }
  return budget > config.minRewardE8s ? budget : config.minRewardE8s;
}
