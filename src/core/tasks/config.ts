import { requireAdmin } from '../registry/access.js';
import { DEFAULT_REQUESTER_CAP_BPS } from '../rewards/emission.js';
import { accountProblem } from '../rewards/payout-policy.js';
import { DEFAULT_MIN_PROTOCOL_FEE_E8S } from '../rewards/pricing.js';
import { err, ok, type Result } from '../registry/errors.js';
import type { Stores } from './store.js';
import { MAX_ROUTING_WINDOW_NS, SECOND_NS } from './limits.js';
import { routingWindowNs } from './routing.js';
import type { PayAccount, TaskConfig } from './types.js';

export interface TaskConfigInput {
  ledger?: string;
  treasury?: PayAccount;
  protocolFeeBps?: number;
  ledgerFeeE8s?: bigint;
  leaseSeconds?: bigint;
  reviewWindowSeconds?: bigint;
  minRewardE8s?: bigint;
  minProtocolFeeE8s?: bigint;
  emissionPerEpochE8s?: bigint;
  epochSeconds?: bigint;
  emissionRequesterCapBps?: number;
  routingWindowSeconds?: bigint;
}

const bad = <T>(field: string, reason: string): Result<T> => err({ InvalidArgument: { field, reason } });

/**
 * Admins change the task settings; absent fields keep their value. `registryId` is the registry's own principal: the
 * treasury may not be it (a payment to the minting account is a burn).
 */
export function setTaskConfig(store: Stores, caller: string, input: TaskConfigInput, registryId?: string): Result<TaskConfig> {
  const denied = requireAdmin(store, caller);
  if (denied !== undefined) return err(denied);
  const current = store.taskConfig();
  const next: TaskConfig = {
    ...current,
    protocolFeeBps: input.protocolFeeBps ?? current.protocolFeeBps,
    ledgerFeeE8s: input.ledgerFeeE8s ?? current.ledgerFeeE8s,
    leaseNs: input.leaseSeconds === undefined ? current.leaseNs : input.leaseSeconds * SECOND_NS,
    reviewWindowNs: input.reviewWindowSeconds === undefined ? current.reviewWindowNs : input.reviewWindowSeconds * SECOND_NS,
    minRewardE8s: input.minRewardE8s ?? current.minRewardE8s,
    minProtocolFeeE8s: input.minProtocolFeeE8s ?? current.minProtocolFeeE8s ?? DEFAULT_MIN_PROTOCOL_FEE_E8S,
    emissionPerEpochE8s: input.emissionPerEpochE8s ?? current.emissionPerEpochE8s,
    epochNs: input.epochSeconds === undefined ? current.epochNs : input.epochSeconds * SECOND_NS,
    emissionRequesterCapBps: input.emissionRequesterCapBps ?? current.emissionRequesterCapBps ?? DEFAULT_REQUESTER_CAP_BPS,
    routingWindowNs: input.routingWindowSeconds === undefined ? routingWindowNs(current) : input.routingWindowSeconds * SECOND_NS
  };
  if (input.ledger !== undefined) next.ledger = input.ledger;
  if (input.treasury !== undefined) {
    const problem = accountProblem(input.treasury, registryId);
    if (problem !== undefined) return bad('treasury', problem);
    next.treasury = input.treasury;
  }
  if (!Number.isInteger(next.protocolFeeBps) || next.protocolFeeBps < 0 || next.protocolFeeBps > 5_000)
    return bad('protocol_fee_bps', 'must be 0 to 5000 (50 %)');
  if (next.ledgerFeeE8s < 0n) return bad('ledger_fee_e8s', 'must not be negative');
  if (next.leaseNs < 5n * SECOND_NS || next.leaseNs > 24n * 3600n * SECOND_NS) return bad('lease_seconds', 'must be 5 s to 24 h');
  if (next.reviewWindowNs < 0n || next.reviewWindowNs > 7n * 24n * 3600n * SECOND_NS)
    return bad('review_window_seconds', 'must be at most 7 days');
  // A bond's cooldown must outlast a lease and its review (src/core/rewards/bonds.ts setBondConfig), both ways round.
  if (next.leaseNs + next.reviewWindowNs > store.bondConfig().cooldownNs)
    return bad(
      'review_window_seconds',
      `lease plus review window must not exceed the bond cooldown (${store.bondConfig().cooldownNs / SECOND_NS} s)`
    );
  if (next.minRewardE8s <= next.ledgerFeeE8s) return bad('min_reward_e8s', 'must exceed the ledger fee');
  if (next.emissionPerEpochE8s < 0n) return bad('emission_per_epoch_e8s', 'must not be negative');
  if (next.epochNs < 60n * SECOND_NS) return bad('epoch_seconds', 'must be at least 60');
  const cap = next.emissionRequesterCapBps;
  if (cap === undefined || !Number.isInteger(cap) || cap < 1 || cap > 10_000)
    return bad('emission_requester_cap_bps', 'must be 1 to 10000 (100 %)');
  if (next.routingWindowNs === undefined || next.routingWindowNs < 0n || next.routingWindowNs > MAX_ROUTING_WINDOW_NS)
    return bad('routing_window_seconds', `must be at most ${MAX_ROUTING_WINDOW_NS / SECOND_NS} s`);
  store.setTaskConfig(next);
  return ok(next);
}
