/**
 * Rewards: the reward formula and split, the payout outbox and the policy that judges each ledger reply, emission per
 * epoch, and runner reputation. Pure functions of (store, now, args), used by the task lifecycle and the registry.
 */
export {
  beginBond,
  bondFailed,
  bondFault,
  bondLeaseExpired,
  bondLocked,
  bondMemo,
  bondSubaccount,
  dueBonds,
  lockStillOurs,
  requiredBond,
  resolveStaleLock,
  returnBond,
  setBondConfig,
  slashBond,
  unbond,
  voteWeight,
  bondShare,
  DEFAULT_BOND_CONFIG,
  MAX_BOND_E8S,
  STALE_LOCK_NS,
  type Bond,
  type BondConfig,
  type BondState,
  type BondStore
} from './bonds.js';
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
export { DEFAULT_REQUESTER_CAP_BPS, MAX_EPOCH_CREDITS, MAX_OPERATOR_CREDITS, epochEmission, splitEmission } from './emission.js';
export {
  addAcceptedWork,
  addPaidFees,
  closeEpoch,
  epochCreditedFees,
  epochCredits,
  isSelfDealing,
  markEpochEnd,
  stepEpochClose
} from './epochs.js';
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
export { startPayoutRun, PAYOUT_CALLS_PER_RUN, PAYOUT_VISITS_PER_RUN, type PayoutRun, type PayoutRunOptions } from './payout-run.js';
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
export {
  recordCompleted,
  recordDisputed,
  recordExpiredLease,
  recordFailed,
  recordRejected,
  recordRequesterRejection
} from './reputation.js';
export {
  countRejection,
  FULL_REJECTION_AFTER_PAID_TASKS,
  fullRejectionVolumeE8s,
  notePaidWork,
  recentPaidE8s,
  rejectionAllowed,
  rejectionWeightOf,
  requesterRejectionWeight,
  sweepRejectionPairs,
  MAX_PAIRS_PER_SWEEP,
  type PaidVolume,
  type RejectionPair,
  type RequesterWeightStore
} from './requester-weight.js';
export type { RewardStore, RewardStores } from './store.js';
export { payWinners, refundTask } from './task-payouts.js';
export type {
  EpochBank,
  EpochClose,
  EpochCredit,
  EpochCreditEntry,
  EpochTerms,
  EpochWork,
  PayAccount,
  Payout,
  PayoutKind,
  RewardConfig
} from './types.js';
