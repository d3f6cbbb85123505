import { MemoryKeyValue, type KeyValue } from '../kv.js';
import type { Stores } from '../tasks/store.js';
import type { CreditLineState } from './api.js';
import { DEFAULT_MIN_RESERVE_E8S } from './limits.js';

/**
 * The registry's credit state (README "Paid direct path: credit and settlement"): accounts, lines and the indexes and
 * queues that keep every call bounded. Records are plain JSON-able values (bigint as the stable store writes them).
 */

const SECOND_NS = 1_000_000_000n;

/** A deposit asked of the ledger: its transfer_from carries this created_at_time, so a retry is deduplicated. */
export interface CreditDeposit {
  createdAtNs: bigint;
  amountE8s: bigint;
  /** `unknown`: the ledger can no longer tell whether it moved (TooOld); out of the retry queue, listed, never credited. */
  state: 'pending' | 'credited' | 'unknown';
}

/** One principal's credit: as a payer (free, reserved) and as a runner (accrued). */
export interface CreditAccount {
  owner: string;
  freeE8s: bigint;
  /** Σ over its open and closing lines of what they still hold (reserved − settled − fees). */
  reservedE8s: bigint;
  accruedE8s: bigint;
  /** Lines opened as payer / toward it as runner: positions in the by-party index. */
  linesAsPayer: number;
  linesAsRunner: number;
  /** Withdrawals made (each a payout whose id carries this number). */
  withdrawals: number;
  /** Deposits of the last DEPOSIT_MEMORY_NS (dedup of retried deposit calls), at most MAX_RECENT_DEPOSITS. */
  deposits: CreditDeposit[];
}

export interface CreditLine {
  id: bigint;
  payer: string;
  runner: string;
  /** Everything ever reserved toward the line (top-ups add to it). */
  reservedE8s: bigint;
  /** Moved to the runner so far. */
  settledE8s: bigint;
  /** Protocol fees charged on what was moved. */
  feesE8s: bigint;
  /** The highest sequence number settled. */
  settledSeq: bigint;
  inputTokens: bigint;
  outputTokens: bigint;
  requests: bigint;
  state: CreditLineState;
  openedAtNs: bigint;
  closingUntilNs?: bigint;
  /** settle_receipt verifies no signature on this line before then (set by a receipt that failed verification). */
  receiptCooldownUntilNs?: bigint;
}

export interface CreditConfig {
  /** How long after close_credit_line the runner may still settle its latest receipt. */
  disputeWindowNs: bigint;
  /** Accrued balances at or above this are paid out by the timer (0: never automatically). */
  autoPayoutThresholdE8s: bigint;
  /** The least reserve that opens a new line (top-ups of an open line may be smaller). */
  minReserveE8s: bigint;
}

export const DEFAULT_CREDIT_CONFIG: Readonly<CreditConfig> = {
  disputeWindowNs: 3600n * SECOND_NS,
  autoPayoutThresholdE8s: 100_000_000n,
  minReserveE8s: DEFAULT_MIN_RESERVE_E8S
};

export interface CreditStore {
  creditAccounts: KeyValue<CreditAccount>;
  /** lineKey(id) → line. */
  creditLines: KeyValue<CreditLine>;
  /**
   * `o|<payer>|<runner>` → id of the pair's line that is not closed; `p|<payer>|<position>` and
   * `r|<runner>|<position>` → line id, for paging one party's lines with direct reads.
   */
  creditIndex: KeyValue<string>;
  /**
   * Work waiting on time: `c|<closingUntilNs>|<id>` lines to finalize, `d|<createdAtNs>|<payer>` deposits whose reply
   * was lost, `w|<owner>` accrued balances above the payout threshold.
   */
  creditQueue: KeyValue<string>;
  creditConfig(): CreditConfig;
  setCreditConfig(config: CreditConfig): void;
  /** Returns the next line id (from 1) and advances the counter. */
  nextCreditLineId(): bigint;
}

/** The registry's stores (runners, reputation, payouts, epochs, task config) with the credit ones. */
export type CreditStores = Stores & CreditStore;

/**
 * The account that holds protocol fees charged on credit until they are paid to the treasury (its `accruedE8s`). Not
 * a principal, so no caller can own it.
 */
export const TREASURY_OWNER = '~treasury';

/** The registry's credit subaccount (hex): deposits arrive there, withdrawals and payouts of accrued credit leave it. */
export const CREDIT_SUBACCOUNT = '03' + '00'.repeat(31);

export const pad20 = (n: bigint | number): string => n.toString().padStart(20, '0');
export const lineKey = (id: bigint): string => pad20(id);
export const openKey = (payer: string, runner: string): string => `o|${payer}|${runner}`;
export const partyKey = (side: 'p' | 'r', party: string, position: number): string => `${side}|${party}|${pad20(position)}`;
export const closingKey = (untilNs: bigint, id: bigint): string => `c|${pad20(untilNs)}|${pad20(id)}`;
export const depositKey = (createdAtNs: bigint, payer: string): string => `d|${pad20(createdAtNs)}|${payer}`;
export const payoutDueKey = (owner: string): string => `w|${owner}`;
/** The last `d|` key the deposit retry walked: the next pass starts after it, so entries stuck at the head cannot starve the rest. */
export const DEPOSIT_CURSOR_KEY = 'k|deposit-retry';

export function emptyAccount(owner: string): CreditAccount {
  return { owner, freeE8s: 0n, reservedE8s: 0n, accruedE8s: 0n, linesAsPayer: 0, linesAsRunner: 0, withdrawals: 0, deposits: [] };
}

export const accountOf = (store: CreditStore, owner: string): CreditAccount => store.creditAccounts.get(owner) ?? emptyAccount(owner);

/** What a line still holds for its runner and the fees: reserved − settled − fees. */
export const lineRemainingE8s = (line: CreditLine): bigint => line.reservedE8s - line.settledE8s - line.feesE8s;

/** Credit state in memory, for unit tests and off-chain simulation. */
export function memoryCreditStore(): CreditStore {
  let config: CreditConfig = { ...DEFAULT_CREDIT_CONFIG };
  let lineCounter = 0n;
  return {
    creditAccounts: new MemoryKeyValue(),
    creditLines: new MemoryKeyValue(),
    creditIndex: new MemoryKeyValue(),
    creditQueue: new MemoryKeyValue(),
    creditConfig: () => config,
    setCreditConfig: (next) => {
      config = next;
    },
    nextCreditLineId: () => ++lineCounter
  };
}
