/**
 * Errors of the durable state directory. Every error carries a stable `code` (callers branch on it, never
 * on message text), an optional `cause`, and whether retrying the same call can succeed.
 */
import { CodedError, type CodedErrorOptions } from '../../core/errors/coded-error.js';

export type StateCorruptCode =
  | 'MANIFEST_INVALID'
  | 'CHECKPOINT_FILE_MISSING'
  | 'CHECKPOINT_FILE_INVALID'
  | 'BLOB_INVALID'
  | 'WAL_MISSING'
  | 'WAL_CORRUPT'
  | 'WAL_RECORD_INVALID';

export type PersistenceErrorCode =
  'STATE_DIR_LOCKED' | StateCorruptCode | 'INVALID_DELTA' | 'STATE_WRITE_FAILED' | 'STORE_CLOSED' | 'STORE_FAILED';

export abstract class PersistenceError<Code extends PersistenceErrorCode = PersistenceErrorCode, Details = unknown> extends CodedError<
  Code,
  Details
> {
  constructor(code: Code, message: string, options?: CodedErrorOptions<Details>) {
    super(code, message, options);
  }
}

/** Another live process (or another StateStore in this process) holds the directory's lock file. */
export class StateDirLockedError extends PersistenceError<'STATE_DIR_LOCKED', { dir: string; lockPath: string; holderPid: number }> {
  constructor(
    readonly dir: string,
    readonly lockPath: string,
    readonly holderPid: number,
    options?: { cause?: unknown }
  ) {
    super(
      'STATE_DIR_LOCKED',
      `state directory ${dir} is locked by process ${holderPid} (lock file ${lockPath}); ` +
        `stop that process, or delete the lock file if you are sure no localnet uses this directory`,
      // Retrying succeeds once the holder exits, so a supervisor may wait and retry.
      { ...options, retryable: true, details: { dir, lockPath, holderPid } }
    );
  }
}

/** The directory cannot be loaded without losing committed data; it is left untouched for inspection. */
export class StateCorruptError extends PersistenceError<StateCorruptCode, { path: string; detail: string }> {
  constructor(
    code: StateCorruptCode,
    readonly path: string,
    detail: string,
    options?: { cause?: unknown }
  ) {
    super(code, `state directory is corrupt (${code}) at ${path}: ${detail}`, { ...options, details: { path, detail } });
  }
}

/** A RoundDelta breaks the contract (wrong page size, heap shrinking through chunks, bad blob hash...). */
export class InvalidDeltaError extends PersistenceError<'INVALID_DELTA', { detail: string }> {
  constructor(detail: string, options?: { cause?: unknown }) {
    super('INVALID_DELTA', `invalid state delta: ${detail}`, { ...options, details: { detail } });
  }
}

/**
 * Writing to the state directory failed. After this the store refuses further writes (fail-stop): whether
 * the failed bytes reached the disk is unknown, and reopening the directory is the only way to find out.
 */
export class StateWriteError extends PersistenceError<'STATE_WRITE_FAILED', { operation: string }> {
  constructor(operation: string, options?: { cause?: unknown }) {
    super('STATE_WRITE_FAILED', `state directory write failed during ${operation}; reopen the state directory to recover`, {
      ...options,
      details: { operation }
    });
  }
}

/** The store was closed, or an earlier write failed and the store stopped accepting writes. */
export class StateStoreUnusableError extends PersistenceError<'STORE_CLOSED' | 'STORE_FAILED', undefined> {
  constructor(code: 'STORE_CLOSED' | 'STORE_FAILED', options?: { cause?: unknown }) {
    super(
      code,
      code === 'STORE_CLOSED' ? 'state store is closed' : 'state store stopped after a failed write; reopen the state directory to recover',
      options
    );
  }
}
