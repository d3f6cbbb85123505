import type { RewardConfig } from './types.js';

export interface RewardQuote {
  rewardE8s: bigint;
  protocolFeeE8s: bigint;
  /** What each paid runner receives (after the ledger fee of its payout), for 1…redundancy runners. */
  perRunnerNetE8s: bigint;
  treasuryNetE8s: bigint;
  /** What the requester gets back on reject, failure or expiry. */
  refundNetE8s: bigint;
  ledgerFeeE8s: bigint;
  /** Whether the offer is acceptable: at least the minimum, and every payout above the ledger fee. */
  acceptable: boolean;
}

/**
 * The published reward formula (README "Rewards"):
 *   protocol_fee = reward × fee_bps / 10,000 (rounded down)
 *   runner_pool  = reward − protocol_fee, split equally among the k paid runners (the first gets the remainder)
 *   each payout leaves escrow as one ledger transfer, so its recipient receives it minus the ledger fee;
 *   a protocol fee not above the ledger fee goes to the runners instead (nothing is lost to dust).
 */
export function quoteReward(config: RewardConfig, rewardE8s: bigint, redundancy: number): RewardQuote {
  const fee = config.ledgerFeeE8s;
  let protocolFee = (rewardE8s * BigInt(config.protocolFeeBps)) / 10_000n;
  if (protocolFee <= fee || config.treasury === undefined) protocolFee = 0n;
  const pool = rewardE8s - protocolFee;
  const perRunner = pool / BigInt(redundancy);
  return {
    rewardE8s,
    protocolFeeE8s: protocolFee,
    perRunnerNetE8s: perRunner - fee,
    treasuryNetE8s: protocolFee === 0n ? 0n : protocolFee - fee,
    refundNetE8s: rewardE8s - fee,
    ledgerFeeE8s: fee,
    acceptable: rewardE8s >= config.minRewardE8s && perRunner > fee
  };
}

/** Gross payouts from one escrow to `runners` (majority order) and the treasury; they sum to the reward exactly. */
export function splitReward(
  config: RewardConfig,
  rewardE8s: bigint,
  runners: string[]
): { runners: Array<[string, bigint]>; treasury: bigint } {
  if (runners.length === 0) return { runners: [], treasury: 0n };
  const quote = quoteReward(config, rewardE8s, Math.max(1, runners.length));
  const pool = rewardE8s - quote.protocolFeeE8s;
  const each = pool / BigInt(runners.length);
  const remainder = pool - each * BigInt(runners.length);
  return { runners: runners.map((r, i) => [r, i === 0 ? each + remainder : each]), treasury: quote.protocolFeeE8s };
}
