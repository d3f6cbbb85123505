/** An ICRC-1 account in text form: principal text and optional 32-byte subaccount hex. */
export interface PayAccount {
  owner: string;
  subaccount?: string;
}

export type PayoutKind = 'runner' | 'treasury' | 'refund' | 'emission';

/**
 * A ledger transfer the registry owes. Recorded before any call is made and retried until the ledger confirms it:
 * `createdAtNs` and `memo` never change between attempts, so the ledger's deduplication turns a retry of a transfer
 * that already happened into `Duplicate`, never a second payment.
 */
export interface Payout {
  id: string;
  kind: PayoutKind;
  taskId?: string;
  to: PayAccount;
  /** What leaves the escrow (or is minted); the recipient gets this minus the ledger fee, except for mints. */
  amountE8s: bigint;
  memo: string;
  createdAtNs: bigint;
  /** Attempts started (a payout stored before attempts were counted may lack it: 0). */
  attempts: number;
  /**
   * When the next attempt is due, pushed back exponentially by each attempt (payout-schedule.ts). Absent until the
   * first attempt (and on payouts stored before backoff existed): due from `createdAtNs`.
   */
  nextAttemptNs?: bigint;
  lastError?: string;
  /**
   * Terminal until an admin retries it (`retry_payout`): the account cannot be paid, retrying could pay twice
   * (`TooOld`), or MAX_PAYOUT_ATTEMPTS attempts failed. Never attempted automatically again.
   */
  stuck?: boolean;
}

/** Accepted work per runner in the current epoch, for emission. */
export interface EpochWork {
  epoch: bigint;
  units: Array<[string, bigint]>;
}

/** The settings rewards read (part of the task config). */
export interface RewardConfig {
  treasury?: PayAccount;
  /** Protocol fee in basis points of the reward. */
  protocolFeeBps: number;
  ledgerFeeE8s: bigint;
  minRewardE8s: bigint;
  /** The protocol fee's absolute floor per accepted task (absent in configs stored before it existed: the default). */
  minProtocolFeeE8s?: bigint;
  /** Minted per epoch and split by accepted work units. 0 disables emission. */
  emissionPerEpochE8s: bigint;
  epochNs: bigint;
}
