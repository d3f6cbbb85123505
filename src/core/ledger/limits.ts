/** Bounds and time windows of the ledger (the reference ICRC ledger's values where it has one). */

/** Deduplication window: a `created_at_time` older than this is `TooOld` (reference: 24 h). */
export const TX_WINDOW_NS = 24n * 60n * 60n * 1_000_000_000n;
/** Allowed clock drift: a `created_at_time` further ahead than this is `CreatedInFuture` (reference: 60 s). */
export const PERMITTED_DRIFT_NS = 60n * 1_000_000_000n;

export const DEFAULT_DECIMALS = 8;
export const DEFAULT_MAX_MEMO_LENGTH = 32;
/** Operators may raise the memo limit, but not past this: every memo is stored forever in the block log. */
export const MAX_MEMO_LENGTH_LIMIT = 256;
export const DEFAULT_MAX_TRANSACTIONS_IN_WINDOW = 500_000;
export const MAX_NAME_LENGTH = 128;
export const MAX_SYMBOL_LENGTH = 32;
export const MAX_METADATA_ENTRIES = 64;
export const MAX_METADATA_KEY_LENGTH = 128;
export const MAX_METADATA_VALUE_BYTES = 64 * 1024;
export const MAX_INITIAL_BALANCES = 10_000;
export const SUBACCOUNT_BYTES = 32;
/** Principals are at most 29 bytes. */
export const MAX_PRINCIPAL_BYTES = 29;
/** Blocks returned by one `icrc3_get_blocks` call, over all requested ranges. */
export const MAX_BLOCKS_PER_RESPONSE = 100;
export const MAX_BLOCK_RANGES = 32;
/** Expired deduplication entries removed per mutation, so pruning never makes one call expensive. */
export const PRUNE_PER_CALL = 16;

/** GenericError codes, stable for clients. */
export const ErrorCode = {
  anonymousCaller: 1n,
  badSubaccount: 2n,
  memoTooLong: 3n,
  mintingAccountMisuse: 4n,
  selfApproval: 5n,
  badAccount: 6n,
  badMemo: 7n
} as const;
