/** Bounds of every credit input (README "Paid direct path: credit and settlement"). */

/** The most one deposit, reserve or withdrawal may move (10^8 tokens of 8 decimals). */
export const MAX_CREDIT_E8S = 10_000_000_000_000_000n;
/** Items one settle_usage batch may carry. */
export const MAX_SETTLE_ITEMS = 256;
/** A receipt's cumulative totals fit u64 (u128 for owed), as the signed layout writes them. */
export const MAX_U64 = (1n << 64n) - 1n;
/** Requests one settled item may add to a runner's reputation (the counter is a JS number). */
export const MAX_REQUESTS_PER_ITEM = 1_000_000n;
/** Deposits an account remembers (for deduplicating retried calls) over DEPOSIT_MEMORY_NS. */
export const MAX_RECENT_DEPOSITS = 16;
/** How long a deposit is remembered: the ledger's dedup window (24 h) and its drift, with margin. */
export const DEPOSIT_MEMORY_NS = 25n * 3600n * 1_000_000_000n;
/** A deposit's created_at_time may be at most this old (the ledger would call it TooOld) or this far ahead. */
export const DEPOSIT_MAX_AGE_NS = 23n * 3600n * 1_000_000_000n;
export const DEPOSIT_MAX_AHEAD_NS = 60n * 1_000_000_000n;
/** A deposit still pending after this long lost its reply: maintenance asks the ledger again (same memo and time). */
export const DEPOSIT_RETRY_NS = 120n * 1_000_000_000n;
/** The longest dispute window an admin may set (30 days). */
export const MAX_DISPUTE_WINDOW_NS = 30n * 24n * 3600n * 1_000_000_000n;
/** Lines finalized, deposits retried and balances paid out per maintenance pass. */
export const CREDIT_WORK_PER_TICK = 16;
/** After a receipt fails verification, its line's runner waits this long before settle_receipt verifies another. */
export const RECEIPT_COOLDOWN_NS = 60n * 1_000_000_000n;
/** What a settled request must have moved to its runner to count in the runner's `completed` (a payer could claim any count). */
export const MIN_PAID_REQUEST_E8S = 10_000n;
/** Default least credit that opens a line (set_credit_config's min_reserve_e8s): churning 1 e8s lines costs state. */
export const DEFAULT_MIN_RESERVE_E8S = 100_000n;
