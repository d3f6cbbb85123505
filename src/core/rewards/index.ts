/**
 * Rewards: the reward formula and split, the payout outbox and the policy that judges each ledger reply, emission per
 * epoch, and runner reputation. Pure functions of (store, now, args), used by the task lifecycle and the registry.
 */
export { quoteReward, splitReward, type RewardQuote } from './economics.js';
export { splitEmission, workUnits } from './emission.js';
export { addAcceptedWork, closeEpoch, type AcceptedWork } from './epochs.js';
export {
  addPayout,
  duePayouts,
  payAccountOf,
  payoutDone,
  payoutRetry,
  payoutStuck,
  recordVerdict,
  MAX_PAYOUT_ERROR_LENGTH
} from './outbox.js';
export {
  describeLedgerError,
  judgeTransfer,
  planTransfer,
  type PayoutTransfer,
  type PayoutVerdict,
  type TransferError,
  type TransferReply
} from './payout-policy.js';
export { recordCompleted, recordExpiredLease, recordFailed, recordRejected } from './reputation.js';
export type { RewardStore, RewardStores } from './store.js';
export { payWinners, refundTask } from './task-payouts.js';
export type { EpochWork, PayAccount, Payout, PayoutKind, RewardConfig } from './types.js';
