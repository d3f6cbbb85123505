import { IDL } from '@dfinity/candid';

import { Nat32, Nat64, typed, type Typed, type VariantName, type VariantPayload } from '../candid.js';

import type { NotFoundKind as NotFoundKindValue, RegistryErrorOf } from '../../core/registry/errors.js';

export type NotFoundKind = NotFoundKindValue;
export const NotFoundKind = typed<NotFoundKind>(
  IDL.Variant({
    Task: IDL.Null,
    Runner: IDL.Null,
    ModelCard: IDL.Null,
    ClaimableTask: IDL.Null,
    Payout: IDL.Null,
    Namespace: IDL.Null,
    CreditLine: IDL.Null
  })
);

/** Every expected failure of a registry method (defined once, in src/core/registry/errors.ts); a task's state is text here. */
export type RegistryError = RegistryErrorOf<string>;

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
    NamespaceOwned: IDL.Record({ namespace: IDL.Text, owner: IDL.Text }),
    CardImmutable: IDL.Record({ model: IDL.Text, version: IDL.Text, digest: IDL.Text }),
    CardDeprecated: IDL.Record({ model: IDL.Text, reason: IDL.Text }),
    Suspended: IDL.Record({ reason: IDL.Text }),
    LimitExceeded: IDL.Record({ what: IDL.Text, limit: IDL.Nat }),
    TaskNotClaimable: IDL.Record({ task: IDL.Text, state: IDL.Text }),
    NotServing: IDL.Record({ model: IDL.Text }),
    NotInReview: IDL.Record({ task: IDL.Text, state: IDL.Text }),
    ReviewEnded: IDL.Record({ task: IDL.Text, ended_at_ns: Nat64 }),
    NoCapacity: IDL.Record({ slots: Nat32 }),
    NotConfigured: IDL.Record({ what: IDL.Text }),
    LedgerError: IDL.Record({ operation: IDL.Text, message: IDL.Text }),
    BondRequired: IDL.Record({ amount_e8s: IDL.Nat, reason: IDL.Text }),
    ImplausibleUsage: IDL.Record({ field: IDL.Text, limit: IDL.Nat }),
    PriceAboveBudget: IDL.Record({ task: IDL.Text, max_cost_e8s: IDL.Nat, cap_e8s: IDL.Nat }),
    InsufficientCredit: IDL.Record({ available_e8s: IDL.Nat, needed_e8s: IDL.Nat }),
    CreditLineNotOpen: IDL.Record({ line: Nat64, state: IDL.Text }),
    ReserveBelowMinimum: IDL.Record({ minimum_e8s: IDL.Nat, amount_e8s: IDL.Nat }),
    DisputeWindowOpen: IDL.Record({ line: Nat64, until_ns: Nat64 }),
    OwedBelowSettled: IDL.Record({ line: Nat64, owed_e8s: IDL.Nat, settled_e8s: IDL.Nat }),
    InvalidReceipt: IDL.Record({ reason: IDL.Text }),
    ReceiptCooldown: IDL.Record({ line: Nat64, until_ns: Nat64 })
  })
);

/** A registry method's reply: `variant { Ok : T; Err : RegistryError }`. */
export type Result<T> = { Ok: T } | { Err: RegistryError };
export const result = <T>(ok: Typed<T>): Typed<Result<T>> => typed<Result<T>>(IDL.Variant({ Ok: ok, Err: RegistryError }));

/** A registry error's variant name: the `code` the SDK and the CLI report. */
export type RegistryErrorCode = VariantName<RegistryError>;
/** The fields of one registry error variant (`RegistryErrorPayload<'NotFound'>` → `{ kind; id }`). */
export type RegistryErrorPayload<K extends RegistryErrorCode> = VariantPayload<RegistryError, K>;
