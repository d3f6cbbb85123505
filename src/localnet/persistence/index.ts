/** The localnet's durable state directory: checkpoint + write-ahead log of per-round deltas. */
export { StateStore, DEFAULT_STATE_DIR, DEFAULT_CHECKPOINT_AFTER_LOG_BYTES } from './state-store.ts';
export {
  PersistenceError,
  StateDirLockedError,
  StateCorruptError,
  InvalidDeltaError,
  StateWriteError,
  StateStoreUnusableError,
  type StateCorruptCode
} from './errors.ts';
export {
  STABLE_PAGE_BYTES,
  emptyState,
  type Json,
  type PersistedCanister,
  type PersistedState,
  type CanisterDelta,
  type HeapDelta,
  type StableDelta,
  type RoundDelta,
  type StateStoreOptions
} from './types.ts';
