import { CodedError } from '../core/errors/coded-error.js';

/**
 * Errors of the dApp SDK. `code` is stable: the registry's or the ledger's `Err` variant name (`InvalidArgument`,
 * `InsufficientFunds`, ...), or one of the SDK's own codes below. Retry loops match on `code`/`retryable`, never text.
 */
export type DeaiErrorCode =
  /** waitForResult ran past its timeoutMs. */
  | 'Timeout'
  /** The task ended failed, expired or rejected before giving a result. */
  | 'TaskFailed'
  /** The registry has no ledger configured (or none was given). */
  | 'NotConfigured'
  /** The call never got an answer from the canister (network, replica rejection). */
  | 'CallRejected'
  | (string & {});

const RETRYABLE: ReadonlySet<string> = new Set(['Timeout', 'CallRejected', 'TemporarilyUnavailable', 'NoCapacity', 'LedgerError']);

export class DeaiError extends CodedError<DeaiErrorCode, Record<string, unknown>> {
  constructor(
    code: DeaiErrorCode,
    message: string,
    details: Record<string, unknown> = {},
    options?: { cause?: unknown; retryable?: boolean }
  ) {
    super(code, message, { ...options, retryable: options?.retryable ?? RETRYABLE.has(code), details });
    this.name = 'DeaiError';
  }
}

const json = (value: unknown): string => JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));

/** A DeaiError from a Candid `Err` variant (`{ InvalidArgument: { field, reason } }` → code `InvalidArgument`). */
export function fromErrVariant(operation: string, err: Record<string, unknown>): DeaiError {
  const code = Object.keys(err)[0] ?? 'Unknown';
  const value = err[code];
  const details = typeof value === 'object' && value !== null ? { ...(value as Record<string, unknown>) } : {};
  return new DeaiError(code, `${operation} failed: ${code} ${json(value)}`, details);
}

/** The Ok value of a Candid result, or the Err as a DeaiError. */
export function unwrap<T>(operation: string, result: { Ok: T } | { Err: Record<string, unknown> }): T {
  if ('Err' in result) throw fromErrVariant(operation, result.Err);
  return result.Ok;
}

/** Runs one canister call; a rejected call (network, trap) becomes a DeaiError with code CallRejected. */
export async function call<T>(operation: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof DeaiError) throw error;
    throw new DeaiError(
      'CallRejected',
      `${operation} failed: ${error instanceof Error ? error.message : String(error)}`,
      {},
      { cause: error }
    );
  }
}
