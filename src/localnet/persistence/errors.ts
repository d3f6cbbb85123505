/**
 * Errors of the durable state directory. Every error carries a stable `code` (callers branch on it, never
 * on message text), an optional `cause`, and whether retrying the same call can succeed.
 */

export abstract class PersistenceError extends Error {
  abstract readonly code: string;
  abstract readonly retryable: boolean;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Another live process (or another StateStore in this process) holds the directory's lock file. */
export class StateDirLockedError extends PersistenceError {
  readonly code = 'STATE_DIR_LOCKED';
  // Retrying succeeds once the holder exits, so a supervisor may wait and retry.
  readonly retryable = true;

  constructor(
    readonly dir: string,
    readonly lockPath: string,
    readonly holderPid: number,
    options?: { cause?: unknown }
  ) {
    super(
      `state directory ${dir} is locked by process ${holderPid} (lock file ${lockPath}); ` +
        `stop that process, or delete the lock file if you are sure no localnet uses this directory`,
      options
    );
  }
}

export type StateCorruptCode =
  | 'MANIFEST_INVALID'
  | 'CHECKPOINT_FILE_MISSING'
  | 'CHECKPOINT_FILE_INVALID'
  | 'BLOB_INVALID'
  | 'WAL_MISSING'
  | 'WAL_CORRUPT'
  | 'WAL_RECORD_INVALID';

/** The directory cannot be loaded without losing committed data; it is left untouched for inspection. */
export class StateCorruptError extends PersistenceError {
  readonly retryable = false;

  constructor(
    readonly code: StateCorruptCode,
    readonly path: string,
    detail: string,
    options?: { cause?: unknown }
  ) {
    super(`state directory is corrupt (${code}) at ${path}: ${detail}`, options);
  }
}

/** A RoundDelta breaks the contract (wrong page size, heap shrinking through chunks, bad blob hash...). */
export class InvalidDeltaError extends PersistenceError {
  readonly code = 'INVALID_DELTA';
  readonly retryable = false;

  constructor(detail: string, options?: { cause?: unknown }) {
    super(`invalid state delta: ${detail}`, options);
  }
}

/**
 * Writing to the state directory failed. After this the store refuses further writes (fail-stop): whether
 * the failed bytes reached the disk is unknown, and reopening the directory is the only way to find out.
 */
export class StateWriteError extends PersistenceError {
  readonly code = 'STATE_WRITE_FAILED';
  readonly retryable = false;

  constructor(operation: string, options?: { cause?: unknown }) {
    super(`state directory write failed during ${operation}; reopen the state directory to recover`, options);
  }
}

/** The store was closed, or an earlier write failed and the store stopped accepting writes. */
export class StateStoreUnusableError extends PersistenceError {
  readonly retryable = false;

  constructor(
    readonly code: 'STORE_CLOSED' | 'STORE_FAILED',
    options?: { cause?: unknown }
  ) {
    super(
      code === 'STORE_CLOSED' ? 'state store is closed' : 'state store stopped after a failed write; reopen the state directory to recover',
      options
    );
  }
}
