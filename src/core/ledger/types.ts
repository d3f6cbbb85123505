/**
 * Ledger domain types. Bytes are lower-case hex strings so that state stays plain JSON in stable memory;
 * amounts and times are bigint end to end.
 */

/** An ICRC-1 account: owner principal bytes and an optional 32-byte subaccount, both hex. */
export interface Account {
  owner: string;
  /** Absent when the caller gave `null`; 32 zero bytes is the same balance but a different transaction. */
  subaccount?: string;
}

export type MetadataValue = { Nat: bigint } | { Int: bigint } | { Text: string } | { Blob: Uint8Array };

export interface LedgerConfig {
  name: string;
  symbol: string;
  decimals: number;
  fee: bigint;
  mintingAccount: Account;
  maxMemoLength: number;
  /** Extra metadata entries (for example `icrc1:logo`); the standard keys are derived from the fields above. */
  metadata: Array<[string, StoredMetadataValue]>;
  /** Deduplicated transactions kept at once; above it, new ones get `TemporarilyUnavailable`. */
  maxTransactionsInWindow: number;
}

/** MetadataValue as stored: blobs as hex. */
export type StoredMetadataValue = { Nat: bigint } | { Int: bigint } | { Text: string } | { Blob: string };

export type Operation = 'xfer' | 'mint' | 'burn' | 'approve';

/** The `tx` of an ICRC-3 block: exactly the fields the caller gave (ICRC-3 canonical mapping). */
export interface Tx {
  op: Operation;
  from?: Account;
  to?: Account;
  spender?: Account;
  amt: bigint;
  fee?: bigint;
  memo?: string;
  /** created_at_time, when the caller gave it. */
  ts?: bigint;
  expected_allowance?: bigint;
  expires_at?: bigint;
}

export interface Block {
  /** Hash of the parent block; absent for block 0. */
  phash?: string;
  ts: bigint;
  /** The fee the ledger charged, when the caller did not state it in `tx.fee`. */
  fee?: bigint;
  tx: Tx;
}

/** A block as the log keeps it: without `phash`, which is the previous block's hash (kept beside the log). */
export type StoredBlock = Omit<Block, 'phash'>;

export interface Allowance {
  amount: bigint;
  expiresAt?: bigint;
}

/**
 * Totals that change with every block, kept in one record. Blocks are hashed after they are appended, in order
 * (`certifyPending`): `hashedCount` blocks have a hash, the last of them is `lastHash` and is what the canister
 * certifies.
 */
export interface LedgerTip {
  totalSupply: bigint;
  blockCount: bigint;
  hashedCount: bigint;
  lastHash?: string;
}

export type GenericError = { GenericError: { error_code: bigint; message: string } };

export type TransferError =
  | { BadFee: { expected_fee: bigint } }
  | { BadBurn: { min_burn_amount: bigint } }
  | { InsufficientFunds: { balance: bigint } }
  | { TooOld: null }
  | { CreatedInFuture: { ledger_time: bigint } }
  | { Duplicate: { duplicate_of: bigint } }
  | { TemporarilyUnavailable: null }
  | GenericError;

export type ApproveError =
  | { BadFee: { expected_fee: bigint } }
  | { InsufficientFunds: { balance: bigint } }
  | { AllowanceChanged: { current_allowance: bigint } }
  | { Expired: { ledger_time: bigint } }
  | { TooOld: null }
  | { CreatedInFuture: { ledger_time: bigint } }
  | { Duplicate: { duplicate_of: bigint } }
  | { TemporarilyUnavailable: null }
  | GenericError;

export type TransferFromError =
  | { BadFee: { expected_fee: bigint } }
  | { BadBurn: { min_burn_amount: bigint } }
  | { InsufficientFunds: { balance: bigint } }
  | { InsufficientAllowance: { allowance: bigint } }
  | { TooOld: null }
  | { CreatedInFuture: { ledger_time: bigint } }
  | { Duplicate: { duplicate_of: bigint } }
  | { TemporarilyUnavailable: null }
  | GenericError;

export type LedgerResult<T, E> = { Ok: T } | { Err: E };
