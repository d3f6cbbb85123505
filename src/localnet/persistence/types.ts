/** The data model the localnet engine persists, and the per-round change it commits. */

/** Opaque engine metadata. `bigint` round-trips exactly; `undefined` object fields are dropped, as in JSON. */
export type Json = null | boolean | number | string | bigint | Json[] | { [k: string]: Json };

export const STABLE_PAGE_BYTES = 65536;

export interface PersistedCanister {
  /** Textual principal. */
  id: string;
  /** Opaque, engine-owned (controllers, module hash, status, ...). */
  meta: Json;
  /** Full linear memory bytes; null = no module installed. */
  heap: Uint8Array | null;
  /** Page index -> 65536-byte page; only non-zero pages are present. */
  stablePages: Map<number, Uint8Array>;
}

export interface PersistedState {
  /** Opaque host metadata (next canister index, clock offset, ...). */
  host: Json;
  canisters: Map<string, PersistedCanister>;
  /** Content-addressed by lowercase hex sha256 (wasm modules, chunk store). */
  blobs: Map<string, Uint8Array>;
}

export type HeapDelta =
  /** Changed chunks; `size` is the new byte length and may only grow. */
  | { size: number; chunks: Array<{ offset: number; bytes: Uint8Array }> }
  /** Whole memory (after install/reinstall); bytes shorter than `size` are zero-extended. */
  | { size: number; full: Uint8Array }
  /** Back to "not installed". */
  | { clear: true };

export type StableDelta =
  /** `bytes: null` = the page became all zeros. */
  { pages: Array<{ index: number; bytes: Uint8Array | null }> } | { clear: true };

export interface CanisterDelta {
  id: string;
  /** Remove the canister entirely; no other field may accompany it. */
  deleted?: true;
  /** Replaces meta. A delta for an unknown id creates the canister (meta null, no heap, no pages). */
  meta?: Json;
  heap?: HeapDelta;
  stable?: StableDelta;
}

export interface RoundDelta {
  host?: Json;
  /** Applied in order; one id may appear more than once. */
  canisters: CanisterDelta[];
  blobs?: Array<{ hash: string; bytes: Uint8Array }>;
}

export interface StateStoreOptions {
  /** Delete everything in the directory and start from an empty state. */
  clean?: boolean;
  /** commit() writes a checkpoint once the log exceeds this many bytes. Default 64 MiB. */
  checkpointAfterLogBytes?: number;
  /** fsync/fdatasync every commit and checkpoint. Default true; false only for throwaway state. */
  fsync?: boolean;
  /**
   * With fsync: commit() writes the log record and returns; the fdatasync runs in the thread pool, one at a time,
   * covering every record written before it started (group commit). durable() says when. The caller must hold
   * back acknowledgements until then. Default false: every commit() fdatasyncs before it returns.
   */
  groupCommit?: boolean;
}

export function emptyState(): PersistedState {
  return { host: null, canisters: new Map(), blobs: new Map() };
}
