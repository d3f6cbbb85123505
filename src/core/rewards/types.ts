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

/** The emission settings an epoch runs under, fixed when it opens (a later config change applies from the next epoch). */
export interface EpochTerms {
  /** The epoch covers [startNs, endNs); it closes at the first step at or after `endNs`. */
  startNs: bigint;
  endNs: bigint;
  emissionE8s: bigint;
  /** No requester's work earns more than this share of the epoch's emission (basis points). */
  requesterCapBps: number;
}

/** One requester's protocol fees credited to one runner in the current epoch: `[requester, runner, feeE8s]`. */
export type EpochCredit = [string, string, bigint];

/** The current epoch's accepted, fee-paying work, for emission. */
export interface EpochWork {
  epoch: bigint;
  /** Absent only on an epoch stored before terms were fixed at its start: it mints nothing. */
  terms?: EpochTerms;
  /** At most MAX_EPOCH_CREDITS entries (one per requester and runner); absent on an epoch stored before them. */
  credits?: EpochCredit[];
  /**
   * Work units of an epoch stored before emission was weighted by fees (self-reported tokens × card size, which a
   * cheater could inflate at will): kept only so that such a record still reads, never minted.
   */
  units?: Array<[string, bigint]>;
}

/** The settings rewards read (part of the task config). */
export interface RewardConfig {
  treasury?: PayAccount;
  /** Protocol fee in basis points of the reward. */
  protocolFeeBps: number;
  ledgerFeeE8s: bigint;
  minRewardE8s: bigint;
  /**
   * At most this is minted per epoch, and at most the protocol fees paid by the epoch's counted work (README
   * "Emission"). 0 disables emission.
   */
  emissionPerEpochE8s: bigint;
  epochNs: bigint;
  /**
   * The per-requester share cap: the work of one requester earns at most this share of an epoch's emission, in
   * basis points (1 to 10,000). Absent in a config stored before it existed: DEFAULT_REQUESTER_CAP_BPS.
   */
  emissionRequesterCapBps?: number;
}
