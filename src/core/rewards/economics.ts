import { perRunnerCostCapE8s, protocolFeeE8s } from './pricing.js';
import type { RewardConfig } from './types.js';

/** What a budget buys at most (src/core/rewards/pricing.ts has the metered formula). */
export interface RewardQuote {
  /** The budget (escrowed whole at submit; what the metered charges do not use is refunded). */
  rewardE8s: bigint;
  /** The protocol fee if the runners charge the whole budget (at least the floor; less is charged on less work). */
  protocolFeeE8s: bigint;
  /** The most each of the 1…redundancy paid runners can receive: its metered cost is capped there. */
  perRunnerNetE8s: bigint;
  treasuryNetE8s: bigint;
  /** What the requester gets back on reject, failure or expiry. */
  refundNetE8s: bigint;
  ledgerFeeE8s: bigint;
  /** Whether the budget is acceptable: at least the minimum, and each runner can be paid at least 1 e8s. */
  acceptable: boolean;
}

/** The bounds of a budget for `redundancy` runners (README "Pricing"). */
export function quoteReward(config: RewardConfig, rewardE8s: bigint, redundancy: number): RewardQuote {
  const fee = config.ledgerFeeE8s;
  const k = BigInt(Math.max(1, redundancy));
  const perRunner = perRunnerCostCapE8s(config, rewardE8s, redundancy);
  const protocolFee = protocolFeeE8s(config, perRunner > 0n ? perRunner * k : 0n);
  return {
    rewardE8s,
    protocolFeeE8s: protocolFee,
    perRunnerNetE8s: perRunner,
    treasuryNetE8s: protocolFee > fee ? protocolFee - fee : 0n,
    refundNetE8s: rewardE8s - fee,
    ledgerFeeE8s: fee,
    acceptable: rewardE8s >= config.minRewardE8s && perRunner > 0n
  };
}
