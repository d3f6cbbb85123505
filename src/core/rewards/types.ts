import type { KeyValue } from '../kv.js';

/** An ICRC-1 account in text form: principal text and optional 32-byte subaccount hex. */
export interface PayAccount {
  owner: string;
  subaccount?: string;
}

export type PayoutKind = 'runner' | 'treasury' | 'refund' | 'emission' | 'bond-return' | 'bond-slash';

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
  /** The registry subaccount (hex) it leaves from when not the task escrow: a runner's bond account. */
  fromSubaccount?: string;
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

/** One requester–runner pair's credit in the current epoch (keyed `<requester>|<runner>`; epochs.ts). */
export interface EpochCreditEntry {
  fee: bigint;
  /** The order it was first credited in (among equal fees the oldest is replaced first). */
  seq: bigint;
  /** The runner's effective operator when the pair was first credited (absent: stored before operator caps). */
  operator?: string;
}

/** The current epoch's accepted, fee-paying work, for emission: its record; the credits are keyed (epochCredits). */
export interface EpochWork {
  epoch: bigint;
  /** Absent only on an epoch stored before terms were fixed at its start: it mints nothing. */
  terms?: EpochTerms;
  /** The fees credited in the keyed credits (absent: none yet). */
  creditedE8s?: bigint;
  /** The next credit's insertion number. */
  creditSeq?: bigint;
  /** Which bank of credit maps it credits (absent: 0, the store's own maps). */
  bank?: EpochBank;
  /**
   * Credits of an epoch stored before they were keyed (one record rewritten by every acceptance): still minted when it
   * closes, never written again.
   */
  credits?: EpochCredit[];
  /**
   * Work units of an epoch stored before emission was weighted by fees (self-reported tokens × card size, which a
   * cheater could inflate at will): kept only so that such a record still reads, never minted.
   */
  units?: Array<[string, bigint]>;
}

export type EpochBank = 0 | 1;

/**
 * An ended epoch being settled by the maintenance timer in budgeted steps (epochs.ts stepEpochClose): its emission is
 * computed once and kept here, paid in order up to the cursor `paid`, then its bank is cleared. Persisted after every
 * step, so a step that stops (budget, upgrade) resumes where it stopped and pays nothing twice.
 */
export interface EpochClose {
  epoch: bigint;
  /** Absent for an epoch stored before terms: it mints nothing. */
  terms?: EpochTerms;
  bank: EpochBank;
  /** Credits of a record stored before they were keyed (EpochWork.credits). */
  credits?: EpochCredit[];
  /** What it mints per runner (runner order), once computed. */
  emission?: Array<[string, bigint]>;
  /** Emission entries already recorded as payouts. */
  paid: number;
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

/** The runner bond's settings (admins: set_bond_config). */
export interface BondConfig {
  /** Locked at registration while a ledger is configured; 0 disables bonds. */
  amountE8s: bigint;
  /** How long after deregistration the bond is returned (slashes for faults found meanwhile still apply). */
  cooldownNs: bigint;
  /** Taken to the treasury per proven fault, in basis points of the bond as locked. */
  slashBps: number;
  /** Expired leases that make one fault (the counter restarts after each slash). */
  expiredLeaseThreshold: number;
}

/**
 * `locking`: the registration's transfer_from is in flight (no runner record yet); `locked`: held while the runner is
 * registered; `unbonding`: the runner deregistered, the bond returns at `releaseAtNs`.
 */
export type BondState = 'locking' | 'locked' | 'unbonding';

/** A runner's bond, held in its own subaccount of the registry (bondSubaccount). */
export interface Bond {
  runner: string;
  /** Who paid it (the registering principal's default account) and gets it back. */
  owner: string;
  /** What the bond subaccount holds for it now: as locked, less slashes. */
  amountE8s: bigint;
  /** As locked, the base of each slash. */
  lockedE8s: bigint;
  state: BondState;
  /** The transfer_from's created_at_time (with memo `bond/<runner>`, a retry is deduplicated by the ledger). */
  createdAtNs: bigint;
  releaseAtNs?: bigint;
  block?: bigint;
  slashes: number;
  /** Leases that ended without a result (expired, or given up by fail_task) since the last such slash. */
  expiredLeases: number;
}

export interface BondStore {
  bonds: KeyValue<Bond>;
  /** Bonds waiting on time: `<dueNs, 20 digits>|<runner>` → runner (stale locks to resolve, cooldowns ending). */
  bondQueue: KeyValue<string>;
  bondConfig(): BondConfig;
  setBondConfig(config: BondConfig): void;
}
