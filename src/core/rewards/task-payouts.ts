import { splitReward } from './economics.js';
import { addPayout, payAccountOf } from './outbox.js';
import type { RewardStores } from './store.js';
import type { PayAccount } from './types.js';

/**
 * Records what an accepted task's escrow owes: the reward split among `winners` (majority order, each paid to its
 * operator) and the protocol fee to the treasury, if one is set. The task id is each payout's memo. Returns the
 * protocol fee the requester paid (0 without a treasury), which is what its work weighs for emission.
 */
export function payWinners(store: RewardStores, now: bigint, taskId: string, rewardE8s: bigint, winners: string[]): bigint {
  const config = store.taskConfig();
  const split = splitReward(config, rewardE8s, winners);
  split.runners.forEach(([runner, amount], i) =>
    addPayout(store, now, i, 'runner', `${taskId}/runner/${runner}`, payAccountOf(store, runner), amount, taskId, taskId)
  );
  if (config.treasury === undefined) return 0n;
  addPayout(store, now, split.runners.length, 'treasury', `${taskId}/treasury`, config.treasury, split.treasury, taskId, taskId);
  return split.treasury;
}

/** Records the refund of a task that was not accepted: the whole reward back to the requester's account. */
export function refundTask(store: RewardStores, now: bigint, taskId: string, refundTo: PayAccount, rewardE8s: bigint): void {
  addPayout(store, now, 0, 'refund', `${taskId}/refund`, refundTo, rewardE8s, taskId, taskId);
}
