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
  attempts: number;
  lastError?: string;
  /** Set when retrying could pay twice (see payoutStuck); an operator must reconcile it. */
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
  /** Minted per epoch and split by accepted work units. 0 disables emission. */
  emissionPerEpochE8s: bigint;
  epochNs: bigint;
}
