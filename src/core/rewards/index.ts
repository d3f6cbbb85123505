/**
 * Rewards: the reward formula and split, the payout outbox and the policy that judges each ledger reply, emission per
 * epoch, and runner reputation. Pure functions of (store, now, args), used by the task lifecycle and the registry.
 */
export { quoteReward, type RewardQuote } from './economics.js';
export {
  budgetForE8s,
  chargesOf,
  DEFAULT_MIN_PROTOCOL_FEE_E8S,
  meteredCostE8s,
  minProtocolFeeOf,
  perRunnerCostCapE8s,
  protocolFeeE8s,
  runnerPoolCapE8s,
  type Charges,
  type Prices
} from './pricing.js';
export { splitEmission, workUnits } from './emission.js';
export { addAcceptedWork, closeEpoch, type AcceptedWork } from './epochs.js';
export {
  addPayout,
  beginAttempt,
  duePayouts,
  getPayout,
  payAccountOf,
  payoutDone,
  payoutRetry,
  payoutStuck,
  recordVerdict,
  restorePayoutQueue,
  MAX_PAYOUT_ERROR_LENGTH
} from './outbox.js';
export { listPayouts, retryPayout, type PayoutFilter } from './payout-admin.js';
export {
  MAX_PAYOUT_ATTEMPTS,
  PAYOUT_BACKOFF_BASE_NS,
  PAYOUT_BACKOFF_MAX_NS,
  nextAttemptOf,
  normalizePayout,
  payoutBackoffNs,
  payoutState,
  queueKey
} from './payout-schedule.js';
export {
  accountProblem,
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
