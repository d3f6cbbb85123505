/**
 * The one base of every off-chain error: a stable `code` (a string-literal union per area, so callers branch on it and
 * never on message text), the standard ES2022 `cause`, whether retrying the same call can succeed, and optional typed
 * `details`. Pure (no Node built-ins, no Azle), so core, the SDK, the explorer and the canisters can all use it.
 *
 * @example
 * type QuotaCode = 'QuotaExceeded' | 'QuotaUnknown';
 * class QuotaError extends CodedError<QuotaCode, { limit: bigint }> {}
 * const error: unknown = new QuotaError('QuotaExceeded', 'quota of 10 exceeded', { details: { limit: 10n }, retryable: true });
 * if (QuotaError.hasCode(error, 'QuotaExceeded')) error.details.limit; // narrowed to QuotaError with code 'QuotaExceeded'
 */

export interface CodedErrorOptions<Details> {
  /** The error (or value) that caused this one, kept as the standard `Error.cause`. */
  cause?: unknown;
  /** Whether the same call may succeed if tried again; default false. */
  retryable?: boolean;
  details?: Details;
}

/** What `toJSON()` gives: plain JSON values only (bigints become decimal strings). */
export interface CodedErrorJson<Code extends string = string> {
  code: Code;
  message: string;
  retryable: boolean;
  details: unknown;
}

// Any subclass, whatever its constructor parameters; used to type the static `hasCode` by the class it is called on.
type CodedErrorClass = abstract new (...args: any[]) => CodedError<string, unknown>;

export class CodedError<Code extends string = string, Details = undefined> extends Error {
  readonly code: Code;
  readonly retryable: boolean;
  readonly details: Details;

  constructor(code: Code, message: string, options?: CodedErrorOptions<Details>) {
    // Only pass `cause` on when given, so `'cause' in error` stays false for errors without one (as with plain Error).
    super(message, options !== undefined && 'cause' in options ? { cause: options.cause } : undefined);
    this.name = new.target.name;
    this.code = code;
    this.retryable = options?.retryable ?? false;
    this.details = options?.details as Details;
  }

  /**
   * Whether `error` is an instance of the class this is called on with one of `codes` (any code when none are given);
   * narrows both the class and the code.
   *
   * @example
   * if (RunnerError.hasCode(error, 'EngineTimeout', 'EngineUnreachable')) retry(); // error: RunnerError & { code: ... }
   * if (CodedError.hasCode(error)) console.log(error.code); // any coded error
   */
  static hasCode<T extends CodedErrorClass, C extends InstanceType<T>['code']>(
    this: T,
    error: unknown,
    ...codes: C[]
  ): error is InstanceType<T> & { readonly code: C } {
    return error instanceof this && (codes.length === 0 || (codes as string[]).includes(error.code));
  }

  /** Whether this error has one of `codes`; narrows `code`. */
  hasCode<C extends Code>(...codes: C[]): this is this & { readonly code: C } {
    return (codes as string[]).includes(this.code);
  }

  /** `{ code, message, retryable, details }`, safe for `JSON.stringify` (bigints as decimal strings). */
  toJSON(): CodedErrorJson<Code> {
    return { code: this.code, message: this.message, retryable: this.retryable, details: toJsonValue(this.details, new Set()) };
  }
}

/** A JSON-safe copy: bigint → decimal string, byte arrays → number arrays, nested errors → their JSON, cycles cut. */
export function toJsonValue(value: unknown, seen: Set<object> = new Set()): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') {
    return typeof value === 'function' || typeof value === 'symbol' ? undefined : value;
  }
  if (seen.has(value)) return '[Circular]';
  seen.add(value);
  try {
    if (value instanceof CodedError) return value.toJSON();
    if (value instanceof Error) return { name: value.name, message: value.message };
    if (ArrayBuffer.isView(value)) return Array.from(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
    if ('toJSON' in value && typeof value.toJSON === 'function') return toJsonValue((value.toJSON as () => unknown)(), seen);
    if (Array.isArray(value)) return value.map((item) => toJsonValue(item, seen));
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      const converted = toJsonValue(item, seen);
      if (converted !== undefined) out[key] = converted;
    }
    return out;
  } finally {
    seen.delete(value);
  }
}
