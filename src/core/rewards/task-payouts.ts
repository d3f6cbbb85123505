import { splitReward } from './economics.js';
import { addPayout, payAccountOf } from './outbox.js';
import type { RewardStores } from './store.js';
import type { PayAccount } from './types.js';

/**
 * Records what an accepted task's escrow owes: the reward split among `winners` (majority order, each paid to its
 * operator) and the protocol fee to the treasury, if one is set. The task id is each payout's memo.
 */
export function payWinners(store: RewardStores, now: bigint, taskId: string, rewardE8s: bigint, winners: string[]): void {
  const config = store.taskConfig();
  const split = splitReward(config, rewardE8s, winners);
  split.runners.forEach(([runner, amount], i) =>
    addPayout(store, now, i, 'runner', `${taskId}/runner/${runner}`, payAccountOf(store, runner), amount, taskId, taskId)
  );
  if (config.treasury !== undefined)
    addPayout(store, now, split.runners.length, 'treasury', `${taskId}/treasury`, config.treasury, split.treasury, taskId, taskId);
}

/** Records the refund of a task that was not accepted: the whole reward back to the requester's account. */
export function refundTask(store: RewardStores, now: bigint, taskId: string, refundTo: PayAccount, rewardE8s: bigint): void {
  addPayout(store, now, 0, 'refund', `${taskId}/refund`, refundTo, rewardE8s, taskId, taskId);
}
