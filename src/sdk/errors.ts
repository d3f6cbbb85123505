import { CodedError } from '../core/errors/coded-error.js';
import type { TaskState } from '../core/tasks/states.js';
import { variantOf, type VariantName, type VariantPayload } from '../interface/candid.js';
import type { ApproveError, TransferError } from '../interface/ledger/index.js';
import type { RegistryError, RegistryErrorCode } from '../interface/registry/index.js';

/** Every `Err` variant the SDK's ledger calls can answer (icrc1_transfer, icrc2_approve). */
export type LedgerErrorVariant = TransferError | ApproveError;
export type LedgerErrorCode = VariantName<LedgerErrorVariant>;

/** A variant's fields as `details`: its record as the .did declares it; `{}` for a variant without fields. */
type DetailsOf<V, K extends VariantName<V>> = VariantPayload<V, K> extends null ? Record<never, never> : VariantPayload<V, K>;

/**
 * The `details` of each DeaiError code. A registry or ledger code carries that `Err` variant's fields (as in
 * registry.did / ledger.did, e.g. `NotFound` → `{ kind: NotFoundKind; id }`); the SDK's own codes carry their own.
 */
export type DeaiErrorDetails = { [K in RegistryErrorCode]: DetailsOf<RegistryError, K> } & {
  [K in Exclude<LedgerErrorCode, RegistryErrorCode>]: DetailsOf<LedgerErrorVariant, K>;
} & {
  /** waitForResult ran past its timeoutMs. */
  Timeout: { state: TaskState; timeoutMs: number };
  /** The task ended failed, expired or rejected before giving a result. */
  TaskFailed: { state: TaskState; outcome?: string };
  /** The call never got an answer from the canister (network, replica rejection). */
  CallRejected: Record<never, never>;
  /** The registry answered something this SDK does not know (a newer registry: update the SDK). */
  UnexpectedReply: { field: string; value: string };
  /** `chat({ via: 'direct' })`: no live runner with a public endpoint serves the model. */
  NoRunners: { model: string };
  /** `chat({ via: 'direct' })`: every runner tried failed (each attempt, in order). */
  AllRunnersFailed: { attempts: Array<{ runner: string; endpoint: string; error: string }> };
};

/**
 * Stable codes of DeaiError: the registry's or the ledger's `Err` variant name (`NotFound`, `InsufficientFunds`, ...),
 * or one of the SDK's own (`Timeout`, `TaskFailed`, `NotConfigured`, `CallRejected`, ...). Retry loops match on
 * `code`/`retryable`, never on text.
 */
export type DeaiErrorCode = keyof DeaiErrorDetails & string;

const RETRYABLE: ReadonlySet<DeaiErrorCode> = new Set<DeaiErrorCode>([
  'Timeout',
  'CallRejected',
  'TemporarilyUnavailable',
  'NoCapacity',
  'LedgerError'
]);

/**
 * An SDK failure, discriminated on `code`: narrowing the code types `details`.
 * @example
 * try {
 *   await client.getTask(id);
 * } catch (e) {
 *   if (isDeaiError(e, 'NotFound')) console.log(e.details.kind, e.details.id);
 * }
 */
export class DeaiError<C extends DeaiErrorCode = DeaiErrorCode> extends CodedError<C, DeaiErrorDetails[C]> {
  constructor(code: C, message: string, details: DeaiErrorDetails[C], options?: { cause?: unknown; retryable?: boolean }) {
    super(code, message, { ...options, retryable: options?.retryable ?? RETRYABLE.has(code), details });
    this.name = 'DeaiError';
  }

  /** Whether this error has one of `codes`; narrows code and details. */
  override hasCode<K extends C>(...codes: K[]): this is this & DeaiError<K> {
    return (codes as string[]).includes(this.code);
  }
}

/** Whether `error` is a DeaiError with one of `codes` (any code when none are given); narrows code and details. */
export function isDeaiError<C extends DeaiErrorCode>(error: unknown, ...codes: C[]): error is DeaiError<C> {
  return error instanceof DeaiError && (codes.length === 0 || (codes as string[]).includes(error.code));
}

const json = (value: unknown): string => JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));

/** A variant's fields as `key=value` text; a nested variant without payload (`{ Task: null }`) reads as its name. */
function describeFields(value: object | null): string {
  if (value === null) return '';
  const field = (v: unknown): string => {
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      const { name, value: inner } = variantOf(v);
      if (inner === null && Object.keys(v).length === 1) return name;
    }
    return typeof v === 'string' ? v : json(v);
  };
  return Object.entries(value)
    .map(([k, v]) => ` ${k}=${field(v)}`)
    .join('');
}

/** A DeaiError from a registry or ledger `Err` variant (`{ InvalidArgument: { field, reason } }` → code `InvalidArgument`). */
export function fromErrVariant(operation: string, err: RegistryError | LedgerErrorVariant): DeaiError {
  const { name, value } = variantOf<RegistryError | LedgerErrorVariant>(err);
  const details = (value === null ? {} : { ...value }) as DeaiErrorDetails[typeof name];
  return new DeaiError(name, `${operation} failed: ${name}${describeFields(value)}`, details);
}

/** The Ok value of a Candid result, or the Err as a DeaiError. */
export function unwrap<T>(operation: string, result: { Ok: T } | { Err: RegistryError | LedgerErrorVariant }): T {
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
