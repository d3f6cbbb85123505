import { IDL } from '@dfinity/candid';

import { Nat32, Nat64, typed, type Typed, type VariantName, type VariantPayload } from '../candid.js';

/** What a `NotFound` did not find (`ClaimableTask`: no queued task this runner may lease; `id` empty when it asked for any). */
export type NotFoundKind = { Task: null } | { Runner: null } | { ModelCard: null } | { ClaimableTask: null } | { Payout: null };
export const NotFoundKind = typed<NotFoundKind>(
  IDL.Variant({ Task: IDL.Null, Runner: IDL.Null, ModelCard: IDL.Null, ClaimableTask: IDL.Null, Payout: IDL.Null })
);

/**
 * Every expected failure of a registry method: one variant, named, with typed fields. A task's `state` travels as
 * text (as in TaskView); the SDK parses it into `TaskState`.
 */
export type RegistryError =
  | { AnonymousCaller: null }
  | { Unauthorized: { reason: string } }
  | { NotFound: { kind: NotFoundKind; id: string } }
  | { InvalidManifest: { issues: ManifestIssue[] } }
  | { InvalidArgument: { field: string; reason: string } }
  | { AlreadyExists: { what: string } }
  | { CardNotPublished: { model: string } }
  | { CardDeprecated: { model: string; reason: string } }
  | { Suspended: { reason: string } }
  | { LimitExceeded: { what: string; limit: bigint } }
  | { TaskNotClaimable: { task: string; state: string } }
  | { NotServing: { model: string } }
  | { NotInReview: { task: string; state: string } }
  | { ReviewEnded: { task: string; ended_at_ns: bigint } }
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
    NotFound: IDL.Record({ kind: NotFoundKind, id: IDL.Text }),
    InvalidManifest: IDL.Record({ issues: IDL.Vec(ManifestIssue) }),
    InvalidArgument: IDL.Record({ field: IDL.Text, reason: IDL.Text }),
    AlreadyExists: IDL.Record({ what: IDL.Text }),
    CardNotPublished: IDL.Record({ model: IDL.Text }),
    CardDeprecated: IDL.Record({ model: IDL.Text, reason: IDL.Text }),
    Suspended: IDL.Record({ reason: IDL.Text }),
    LimitExceeded: IDL.Record({ what: IDL.Text, limit: IDL.Nat }),
    TaskNotClaimable: IDL.Record({ task: IDL.Text, state: IDL.Text }),
    NotServing: IDL.Record({ model: IDL.Text }),
    NotInReview: IDL.Record({ task: IDL.Text, state: IDL.Text }),
    ReviewEnded: IDL.Record({ task: IDL.Text, ended_at_ns: Nat64 }),
    NoCapacity: IDL.Record({ slots: Nat32 }),
    NotConfigured: IDL.Record({ what: IDL.Text }),
    LedgerError: IDL.Record({ operation: IDL.Text, message: IDL.Text })
  })
);

/** A registry method's reply: `variant { Ok : T; Err : RegistryError }`. */
export type Result<T> = { Ok: T } | { Err: RegistryError };
export const result = <T>(ok: Typed<T>): Typed<Result<T>> => typed<Result<T>>(IDL.Variant({ Ok: ok, Err: RegistryError }));

/** A registry error's variant name: the `code` the SDK and the CLI report. */
export type RegistryErrorCode = VariantName<RegistryError>;
/** The fields of one registry error variant (`RegistryErrorPayload<'NotFound'>` → `{ kind; id }`). */
export type RegistryErrorPayload<K extends RegistryErrorCode> = VariantPayload<RegistryError, K>;
