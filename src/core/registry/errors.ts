import type { TaskState } from '../tasks/states.js';

/**
 * What a `NotFound` did not find. `ClaimableTask`: no queued task this runner may lease (its `id` is empty when the
 * runner asked for any task).
 */
export type NotFoundKind =
  | { Task: null }
  | { Runner: null }
  | { ModelCard: null }
  | { ClaimableTask: null }
  | { Payout: null }
  | { Namespace: null }
  | { CreditLine: null };

/**
 * Every expected failure of the registry, as the Candid `Err` variant carries it: the one definition, generic in how
 * a task's state is typed (core knows it is a `TaskState`; on the wire, src/interface, it is text until parsed).
 * Core functions return these; they never throw for a business outcome.
 */
export type RegistryErrorOf<State extends string> =
  | { AnonymousCaller: null }
  | { Unauthorized: { reason: string } }
  | { NotFound: { kind: NotFoundKind; id: string } }
  | { InvalidManifest: { issues: Array<{ path: string; message: string }> } }
  | { InvalidArgument: { field: string; reason: string } }
  | { AlreadyExists: { what: string } }
  | { CardNotPublished: { model: string } }
  /** Publishing under an org that belongs to someone else (neither its owner nor one of its delegates). */
  | { NamespaceOwned: { namespace: string; owner: string } }
  /** A published version is immutable: `model`'s `version` is `digest`, and `id@digest` keeps its content. */
  | { CardImmutable: { model: string; version: string; digest: string } }
  | { CardDeprecated: { model: string; reason: string } }
  | { Suspended: { reason: string } }
  | { LimitExceeded: { what: string; limit: bigint } }
  /** A runner named a task it may not lease: not queued, already fully leased, or leased by this runner before. */
  | { TaskNotClaimable: { task: string; state: State } }
  /** A runner named a task for a model it has no live deployment of. */
  | { NotServing: { model: string } }
  /** Accept or reject of a task that is not in review (still queued, or already settled). */
  | { NotInReview: { task: string; state: State } }
  /** Reject after the review window closed (the task counts as accepted, even before the timer settles it). */
  | { ReviewEnded: { task: string; ended_at_ns: bigint } }
  | { NoCapacity: { slots: number } }
  | { NotConfigured: { what: string } }
  | { LedgerError: { operation: string; message: string } }
  /** Registration needs a runner bond of `amount_e8s` that the ledger did not move (no allowance, no funds, …). */
  | { BondRequired: { amount_e8s: bigint; reason: string } }
  /** A reported token count above what is possible (the input's size, the served context, the output limit). */
  | { ImplausibleUsage: { field: string; limit: bigint } }
  /** A runner named a task whose budget does not cover its prices for the task's most tokens. */
  | { PriceAboveBudget: { task: string; max_cost_e8s: bigint; cap_e8s: bigint } }
  /** Free credit (or an accrued balance) below what the call moves. */
  | { InsufficientCredit: { available_e8s: bigint; needed_e8s: bigint } }
  /** The credit line is `closing` or `closed`: it takes no more reserve (and no settlement once its window ended). */
  | { CreditLineNotOpen: { line: bigint; state: string } }
  /** reserve_credit opening a line with less than the registry's min_reserve_e8s. */
  | { ReserveBelowMinimum: { minimum_e8s: bigint; amount_e8s: bigint } }
  /** finalize_credit_line before the dispute window ends. */
  | { DisputeWindowOpen: { line: bigint; until_ns: bigint } }
  /** A newer settlement claims less than the line already settled (cumulative totals never go down). */
  | { OwedBelowSettled: { line: bigint; owed_e8s: bigint; settled_e8s: bigint } }
  /** A signed receipt that is not the line payer's: `KeyNotPayer`, `BadSignature`, `OutOfRange`, or not this line's parties. */
  | { InvalidReceipt: { reason: string } }
  /** settle_receipt on a line whose last receipt failed verification, before `until_ns` (the check costs billions). */
  | { ReceiptCooldown: { line: bigint; until_ns: bigint } };

export type RegistryError = RegistryErrorOf<TaskState>;

export type Result<T> = { Ok: T } | { Err: RegistryError };

export const ok = <T>(value: T): Result<T> => ({ Ok: value });
export const err = <T = never>(error: RegistryError): Result<T> => ({ Err: error });

export const ANONYMOUS_PRINCIPAL = '2vxsx-fae';
