/** Bounds of the registry's inputs and state; each violation is a typed Err, never a trap. */
export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 20;
/** A list call looks at no more than this many entries before it returns a continuation cursor. */
export const MAX_SCAN_PER_CALL = 2_000;
/**
 * A runner manifest's JSON, in UTF-8 bytes: a valid manifest at every field's limit (16 deployments with images and
 * evidence, 16 accelerators) takes ~22 KiB, ~26 KiB pretty-printed. While bonds are off anyone registers for free, so
 * the bound keeps what an invalid manifest costs to decode, parse and report small (issue 15).
 */
export const MAX_MANIFEST_BYTES = 32 * 1024;
/**
 * `[` and `{` in a manifest's JSON, strings included: the largest valid manifest has 70 outside its free text (vendor and
 * model names, the endpoint), which leaves them room for 186 (four in each of 32 names, say). It also bounds nesting:
 * 256 levels parse without a scan.
 */
export const MAX_MANIFEST_BRACKETS = 256;
/**
 * Commas in a manifest's JSON, strings included: the largest valid manifest has 297 outside its free text, which leaves
 * an endpoint's path all the commas it can hold (256) and the names some more.
 */
export const MAX_MANIFEST_SEPARATORS = 1024;
/**
 * A model card's JSON: a valid card at every field's limit takes under 2 KiB (about 3 KiB pretty-printed). Anyone
 * may publish, so the bound keeps what an invalid card costs to decode, parse and report small (issue 15).
 */
export const MAX_CARD_BYTES = 8 * 1024;
/** `[` and `{` in a card's JSON, strings included: a valid card has 8, plus what its free-text label holds (64 at most). */
export const MAX_CARD_BRACKETS = 96;
/** Commas in a card's JSON, strings included: a valid card has at most ~30, plus what its free-text label holds. */
export const MAX_CARD_SEPARATORS = 128;
export const MAX_ADMINS = 32;
export const MAX_REASON_LENGTH = 256;
export const MAX_AFFINITY_KEY_LENGTH = 128;
export const MAX_CURSOR_LENGTH = 512;
export const MAX_CARDS = 100_000;
export const MAX_RUNNERS = 50_000;
export const MAX_FIND_RESULTS = 100;
export const DEFAULT_FIND_RESULTS = 10;
export const MAX_FILTER_VALUES = 32;
export const MAX_FILTER_TEXT = 160;
export const MAX_QUEUE_DEPTH = 1_000_000;
export const MAX_TOKENS_PER_SECOND = 10_000_000;
export const MIN_HEARTBEAT_TTL_NS = 10n * 1_000_000_000n;
export const MAX_HEARTBEAT_TTL_NS = 24n * 3600n * 1_000_000_000n;
/** find_runners without a model filter ranks at most this many runners (a moving window over them all; instruction budget). */
export const MAX_UNFILTERED_SCAN = 5_000;
/** Delegates one namespace may have (src/core/registry/namespaces.ts). */
export const MAX_NAMESPACE_DELEGATES = 16;
/**
 * Versions one id may have from its namespace's current owner and delegates (others' cards, published before an admin
 * assigned the namespace, neither count nor block a label).
 */
export const MAX_VERSIONS_SCANNED = 2_000;
/** Cards of one id (anyone's) that publishing or "latest" reads at most; beyond it an admin purges others' cards. */
export const MAX_ID_CARDS_SCANNED = 5 * MAX_VERSIONS_SCANNED;
/** Cards `purge_namespace_cards` removes per call at most (it also stops after MAX_SCAN_PER_CALL cards read). */
export const MAX_PURGE_PER_CALL = 500;
