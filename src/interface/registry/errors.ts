import { IDL } from '@dfinity/candid';

import { Nat32, typed, type Typed } from '../candid.js';

/** Every expected failure of a registry method: one variant, named, with typed fields. */
export type RegistryError =
  | { AnonymousCaller: null }
  | { Unauthorized: { reason: string } }
  | { NotFound: { what: string } }
  | { InvalidManifest: { issues: ManifestIssue[] } }
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

export interface ManifestIssue {
  path: string;
  message: string;
}
export const ManifestIssue = typed<ManifestIssue>(IDL.Record({ path: IDL.Text, message: IDL.Text }));

export const RegistryError = typed<RegistryError>(
  IDL.Variant({
    AnonymousCaller: IDL.Null,
    Unauthorized: IDL.Record({ reason: IDL.Text }),
    NotFound: IDL.Record({ what: IDL.Text }),
    InvalidManifest: IDL.Record({ issues: IDL.Vec(ManifestIssue) }),
    InvalidArgument: IDL.Record({ field: IDL.Text, reason: IDL.Text }),
    AlreadyExists: IDL.Record({ what: IDL.Text }),
    CardNotPublished: IDL.Record({ model: IDL.Text }),
    CardDeprecated: IDL.Record({ model: IDL.Text, reason: IDL.Text }),
    Suspended: IDL.Record({ reason: IDL.Text }),
    LimitExceeded: IDL.Record({ what: IDL.Text, limit: IDL.Nat }),
    InvalidState: IDL.Record({ state: IDL.Text, expected: IDL.Text }),
    NoCapacity: IDL.Record({ slots: Nat32 }),
    NotConfigured: IDL.Record({ what: IDL.Text }),
    LedgerError: IDL.Record({ operation: IDL.Text, message: IDL.Text })
  })
);

/** A registry method's reply: `variant { Ok : T; Err : RegistryError }`. */
export type Result<T> = { Ok: T } | { Err: RegistryError };
export const result = <T>(ok: Typed<T>): Typed<Result<T>> => typed<Result<T>>(IDL.Variant({ Ok: ok, Err: RegistryError }));

/** The variant name of a registry error (`{ NotFound: {...} }` → `NotFound`). */
export const errorName = (error: RegistryError | Record<string, unknown>): string => Object.keys(error)[0] ?? 'Unknown';
