/**
 * Every expected failure of the registry, as the Candid `Err` variant carries it. Core functions return these;
 * they never throw for a business outcome.
 */
export type RegistryError =
  | { AnonymousCaller: null }
  | { Unauthorized: { reason: string } }
  | { NotFound: { what: string } }
  | { InvalidManifest: { issues: Array<{ path: string; message: string }> } }
  | { InvalidArgument: { field: string; reason: string } }
  | { AlreadyExists: { what: string } }
  | { CardNotPublished: { model: string } }
  | { CardDeprecated: { model: string; reason: string } }
  | { Suspended: { reason: string } }
  | { LimitExceeded: { what: string; limit: bigint } }
  | { InvalidState: { state: string; expected: string } }
  | { NoCapacity: { slots: number } }
  | { NotConfigured: { what: string } }
  | { LedgerError: { operation: string; message: string } };

export type Result<T> = { Ok: T } | { Err: RegistryError };

export const ok = <T>(value: T): Result<T> => ({ Ok: value });
export const err = <T = never>(error: RegistryError): Result<T> => ({ Err: error });

export const ANONYMOUS_PRINCIPAL = '2vxsx-fae';
