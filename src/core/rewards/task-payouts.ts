import { addPayout, payAccountOf } from './outbox.js';
import { chargesOf } from './pricing.js';
import type { RewardStores } from './store.js';
import type { PayAccount } from './types.js';

/**
 * Records what an accepted task's escrow owes (src/core/rewards/pricing.ts): each winner (majority order, paid to its
 * operator) its metered cost plus the ledger fee, the protocol fee to the treasury, if one is set, and the unused
 * budget back to the requester. The task id is each payout's memo; each payout's id is unique per task, so a settled
 * task records each of them once. Returns the protocol fee the requester paid (0 without a treasury), which is what
 * its work weighs for emission.
 */
export function payWinners(
  store: RewardStores,
  now: bigint,
  task: { id: string; budgetE8s: bigint; redundancy: number; refundTo: PayAccount },
  winners: Array<{ runner: string; costE8s: bigint }>
): bigint {
  const config = store.taskConfig();
  const charges = chargesOf(
    config,
    task.budgetE8s,
    task.redundancy,
    winners.map((w) => w.costE8s)
  );
  winners.forEach(({ runner }, i) =>
    addPayout(
      store,
      now,
      i,
      'runner',
      `${task.id}/runner/${runner}`,
      payAccountOf(store, runner),
      charges.runners[i] as bigint,
      task.id,
      task.id
    )
  );
  const fee = config.treasury === undefined ? 0n : charges.treasury;
  if (fee > 0n && config.treasury !== undefined)
    addPayout(store, now, winners.length, 'treasury', `${task.id}/treasury`, config.treasury, fee, task.id, task.id);
  if (charges.refund > 0n)
    addPayout(store, now, winners.length + 1, 'refund', `${task.id}/refund`, task.refundTo, charges.refund, task.id, task.id);
  return fee;
}

/** Records the refund of a task that was not accepted: the whole reward back to the requester's account. */
export function refundTask(store: RewardStores, now: bigint, taskId: string, refundTo: PayAccount, rewardE8s: bigint): void {
  addPayout(store, now, 0, 'refund', `${taskId}/refund`, refundTo, rewardE8s, taskId, taskId);
}
