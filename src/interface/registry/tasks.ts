import { IDL } from '@dfinity/candid';
import type { Principal } from '@dfinity/principal';

import { Nat16, Nat32, Nat64, Nat8, typed, type Opt } from '../candid.js';
import { FindRequest, type Page } from './discovery.js';

/** The registry's tasks and rewards: each wire value beside its Candid type. */

/** `vec nat8`: decoded as a Uint8Array, encoded from either. */
export type Blob = Uint8Array | number[];

export interface Account {
  owner: Principal;
  subaccount: Opt<Blob>;
}
export const Account = typed<Account>(IDL.Record({ owner: IDL.Principal, subaccount: IDL.Opt(IDL.Vec(IDL.Nat8)) }));

export interface TaskInput {
  inline: Opt<string>;
  digest: Opt<string>;
  reference: Opt<string>;
}
export const TaskInput = typed<TaskInput>(
  IDL.Record({ inline: IDL.Opt(IDL.Text), digest: IDL.Opt(IDL.Text), reference: IDL.Opt(IDL.Text) })
);

export interface GenerationLimits {
  max_output_tokens: number;
  temperature: Opt<number>;
  seed: Opt<bigint>;
}
export const GenerationLimits = typed<GenerationLimits>(
  IDL.Record({ max_output_tokens: Nat32, temperature: IDL.Opt(IDL.Float64), seed: IDL.Opt(Nat64) })
);

export interface SubmitTaskArgs {
  idempotency_key: string;
  request: FindRequest;
  input: TaskInput;
  limits: GenerationLimits;
  reward_e8s: bigint;
  deadline_ns: bigint;
  redundancy: Opt<number>;
  refund_subaccount: Opt<Blob>;
}
export const SubmitTaskArgs = typed<SubmitTaskArgs>(
  IDL.Record({
    idempotency_key: IDL.Text,
    request: FindRequest,
    input: TaskInput,
    limits: GenerationLimits,
    reward_e8s: IDL.Nat,
    deadline_ns: Nat64,
    redundancy: IDL.Opt(Nat8),
    refund_subaccount: IDL.Opt(IDL.Vec(IDL.Nat8))
  })
);

export interface ResultArgs {
  output_digest: string;
  output: Opt<string>;
  reference: Opt<string>;
  input_tokens: bigint;
  output_tokens: bigint;
  first_token_ms: number;
  total_ms: number;
}
export const ResultArgs = typed<ResultArgs>(
  IDL.Record({
    output_digest: IDL.Text,
    output: IDL.Opt(IDL.Text),
    reference: IDL.Opt(IDL.Text),
    input_tokens: Nat64,
    output_tokens: Nat64,
    first_token_ms: IDL.Float64,
    total_ms: IDL.Float64
  })
);

/**
 * A result as the registry keeps it. `first_token_ms` / `total_ms` are the runner's own report (informational);
 * `measured_total_ms` is lease to completion on the registry's clock (what reputation and ranking use) and `cost_e8s`
 * the metered tokens times the prices the lease fixed (what the runner is paid, capped by the budget).
 */
export interface TaskResultView extends ResultArgs {
  runner: Principal;
  at_ns: bigint;
  measured_total_ms: Opt<bigint>;
  cost_e8s: Opt<bigint>;
}
export const TaskResultView = typed<TaskResultView>(
  IDL.Record({
    runner: IDL.Principal,
    output_digest: IDL.Text,
    output: IDL.Opt(IDL.Text),
    reference: IDL.Opt(IDL.Text),
    input_tokens: Nat64,
    output_tokens: Nat64,
    first_token_ms: IDL.Float64,
    total_ms: IDL.Float64,
    at_ns: Nat64,
    measured_total_ms: IDL.Opt(Nat64),
    cost_e8s: IDL.Opt(IDL.Nat)
  })
);

export interface Lease {
  runner: Principal;
  claimed_at_ns: bigint;
  expires_at_ns: bigint;
}
export const Lease = typed<Lease>(IDL.Record({ runner: IDL.Principal, claimed_at_ns: Nat64, expires_at_ns: Nat64 }));

export interface TaskFailure {
  runner: Principal;
  reason: string;
  at_ns: bigint;
}
export const TaskFailure = typed<TaskFailure>(IDL.Record({ runner: IDL.Principal, reason: IDL.Text, at_ns: Nat64 }));

export interface TaskView {
  id: string;
  requester: Principal;
  state: string;
  model: string;
  request: FindRequest;
  input: TaskInput;
  limits: GenerationLimits;
  reward_e8s: bigint;
  deadline_ns: bigint;
  redundancy: number;
  created_at_ns: bigint;
  escrow_block: Opt<bigint>;
  leases: Lease[];
  results: TaskResultView[];
  failures: TaskFailure[];
  review_ends_at_ns: Opt<bigint>;
  paid_runners: Principal[];
  outcome: Opt<string>;
}
export const TaskView = typed<TaskView>(
  IDL.Record({
    id: IDL.Text,
    requester: IDL.Principal,
    state: IDL.Text,
    model: IDL.Text,
    request: FindRequest,
    input: TaskInput,
    limits: GenerationLimits,
    reward_e8s: IDL.Nat,
    deadline_ns: Nat64,
    redundancy: Nat8,
    created_at_ns: Nat64,
    escrow_block: IDL.Opt(IDL.Nat),
    leases: IDL.Vec(Lease),
    results: IDL.Vec(TaskResultView),
    failures: IDL.Vec(TaskFailure),
    review_ends_at_ns: IDL.Opt(Nat64),
    paid_runners: IDL.Vec(IDL.Principal),
    outcome: IDL.Opt(IDL.Text)
  })
);

/** One row of list_claimable: a queued task this runner may lease, and how many places it still has. */
export interface ClaimableTask {
  id: string;
  model: string;
  reward_e8s: bigint;
  deadline_ns: bigint;
  redundancy: number;
  open_places: number;
}
export const ClaimableTask = typed<ClaimableTask>(
  IDL.Record({ id: IDL.Text, model: IDL.Text, reward_e8s: IDL.Nat, deadline_ns: Nat64, redundancy: Nat8, open_places: Nat8 })
);

export interface RewardQuote {
  reward_e8s: bigint;
  protocol_fee_e8s: bigint;
  per_runner_net_e8s: bigint;
  treasury_net_e8s: bigint;
  refund_net_e8s: bigint;
  ledger_fee_e8s: bigint;
  acceptable: boolean;
}
export const RewardQuote = typed<RewardQuote>(
  IDL.Record({
    reward_e8s: IDL.Nat,
    protocol_fee_e8s: IDL.Nat,
    per_runner_net_e8s: IDL.Int,
    treasury_net_e8s: IDL.Nat,
    refund_net_e8s: IDL.Int,
    ledger_fee_e8s: IDL.Nat,
    acceptable: IDL.Bool
  })
);

/** quote_task's request: the model and filters, the input's size and the output limit of a task to price. */
export interface QuoteTaskArgs {
  request: FindRequest;
  /** UTF-8 bytes of the input; none: an input by reference (each runner's served context bounds it). */
  input_bytes: Opt<number>;
  max_output_tokens: number;
  redundancy: Opt<number>;
}
export const QuoteTaskArgs = typed<QuoteTaskArgs>(
  IDL.Record({ request: FindRequest, input_bytes: IDL.Opt(Nat32), max_output_tokens: Nat32, redundancy: IDL.Opt(Nat8) })
);

/** A task priced at the live runners' posted prices (README "Pricing"). */
export interface TaskQuote {
  model: string;
  eligible_runners: number;
  min_cost_e8s: bigint;
  median_cost_e8s: bigint;
  min_budget_e8s: bigint;
  median_budget_e8s: bigint;
  protocol_fee_e8s: bigint;
  expected_emission_e8s: bigint;
}
export const TaskQuote = typed<TaskQuote>(
  IDL.Record({
    model: IDL.Text,
    eligible_runners: Nat32,
    min_cost_e8s: IDL.Nat,
    median_cost_e8s: IDL.Nat,
    min_budget_e8s: IDL.Nat,
    median_budget_e8s: IDL.Nat,
    protocol_fee_e8s: IDL.Nat,
    expected_emission_e8s: IDL.Nat
  })
);

export interface TaskConfigArgs {
  ledger: Opt<Principal>;
  treasury: Opt<Account>;
  protocol_fee_bps: Opt<number>;
  ledger_fee_e8s: Opt<bigint>;
  lease_seconds: Opt<bigint>;
  review_window_seconds: Opt<bigint>;
  min_reward_e8s: Opt<bigint>;
  emission_per_epoch_e8s: Opt<bigint>;
  epoch_seconds: Opt<bigint>;
  /** The per-requester share cap of an epoch's emission, in basis points (1 to 10,000). */
  emission_requester_cap_bps: Opt<number>;
  /** How long a queued task is offered only to its best-ranked runners before any eligible runner may claim it. */
  routing_window_seconds: Opt<bigint>;
  /** The protocol fee's floor per accepted task, e8s (default 20,000; always above the ledger fee). */
  min_protocol_fee_e8s: Opt<bigint>;
}
export const TaskConfigArgs = typed<TaskConfigArgs>(
  IDL.Record({
    ledger: IDL.Opt(IDL.Principal),
    treasury: IDL.Opt(Account),
    protocol_fee_bps: IDL.Opt(Nat16),
    ledger_fee_e8s: IDL.Opt(IDL.Nat),
    lease_seconds: IDL.Opt(Nat64),
    review_window_seconds: IDL.Opt(Nat64),
    min_reward_e8s: IDL.Opt(IDL.Nat),
    emission_per_epoch_e8s: IDL.Opt(IDL.Nat),
    epoch_seconds: IDL.Opt(Nat64),
    emission_requester_cap_bps: IDL.Opt(Nat16),
    routing_window_seconds: IDL.Opt(Nat64),
    min_protocol_fee_e8s: IDL.Opt(IDL.Nat)
  })
);

export interface TaskConfigView {
  ledger: Opt<Principal>;
  treasury: Opt<Account>;
  escrow: Opt<Account>;
  protocol_fee_bps: number;
  ledger_fee_e8s: bigint;
  lease_ns: bigint;
  review_window_ns: bigint;
  min_reward_e8s: bigint;
  emission_per_epoch_e8s: bigint;
  epoch_ns: bigint;
  emission_requester_cap_bps: number;
  routing_window_ns: bigint;
  min_protocol_fee_e8s: Opt<bigint>;
}
export const TaskConfigView = typed<TaskConfigView>(
  IDL.Record({
    ledger: IDL.Opt(IDL.Principal),
    treasury: IDL.Opt(Account),
    escrow: IDL.Opt(Account),
    protocol_fee_bps: Nat16,
    ledger_fee_e8s: IDL.Nat,
    lease_ns: Nat64,
    review_window_ns: Nat64,
    min_reward_e8s: IDL.Nat,
    emission_per_epoch_e8s: IDL.Nat,
    epoch_ns: Nat64,
    emission_requester_cap_bps: Nat16,
    routing_window_ns: Nat64,
    min_protocol_fee_e8s: IDL.Opt(IDL.Nat)
  })
);

/**
 * A payout owed. `state` is `pending` (retried with backoff until `next_attempt_ns`) or `stuck` (never retried
 * automatically; `retry_payout`). `to` of an account whose owner text is not a principal (stored before such
 * operators were refused) reads as the anonymous principal, and `last_error` names the text.
 */
export interface PayoutView {
  id: string;
  kind: string;
  task_id: Opt<string>;
  to: Account;
  amount_e8s: bigint;
  created_at_ns: bigint;
  attempts: number;
  last_error: Opt<string>;
  state: string;
  next_attempt_ns: Opt<bigint>;
}
export const PayoutView = typed<PayoutView>(
  IDL.Record({
    id: IDL.Text,
    kind: IDL.Text,
    task_id: IDL.Opt(IDL.Text),
    to: Account,
    amount_e8s: IDL.Nat,
    created_at_ns: Nat64,
    attempts: Nat32,
    last_error: IDL.Opt(IDL.Text),
    state: IDL.Text,
    next_attempt_ns: IDL.Opt(Nat64)
  })
);

/** list_payouts' filter: `state` = `pending` or `stuck` (none: both). */
export interface PayoutFilter {
  state: Opt<string>;
}
export const PayoutFilter = typed<PayoutFilter>(IDL.Record({ state: IDL.Opt(IDL.Text) }));

export type PayoutPage = Page<PayoutView>;
export const PayoutPage = typed<PayoutPage>(IDL.Record({ items: IDL.Vec(PayoutView), next: IDL.Opt(IDL.Text) }));

export interface ReputationView {
  completed: number;
  failed: number;
  rejected: number;
  expired_leases: number;
  latency_ms_ema: number;
}
export const ReputationView = typed<ReputationView>(
  IDL.Record({ completed: Nat32, failed: Nat32, rejected: Nat32, expired_leases: Nat32, latency_ms_ema: IDL.Float64 })
);

export interface TaskFilter {
  requester: Opt<Principal>;
  runner: Opt<Principal>;
  state: Opt<string>;
}
export const TaskFilter = typed<TaskFilter>(
  IDL.Record({ requester: IDL.Opt(IDL.Principal), runner: IDL.Opt(IDL.Principal), state: IDL.Opt(IDL.Text) })
);

/** One row of list_tasks: what a listing shows, without the (up to 256 KiB) input and outputs of get_task. */
export interface TaskListItem {
  id: string;
  requester: Principal;
  state: string;
  model: string;
  reward_e8s: bigint;
  redundancy: number;
  created_at_ns: bigint;
  deadline_ns: bigint;
  runners: Principal[];
  results: number;
  input_tokens: bigint;
  output_tokens: bigint;
  review_ends_at_ns: Opt<bigint>;
  outcome: Opt<string>;
}
export const TaskListItem = typed<TaskListItem>(
  IDL.Record({
    id: IDL.Text,
    requester: IDL.Principal,
    state: IDL.Text,
    model: IDL.Text,
    reward_e8s: IDL.Nat,
    redundancy: Nat8,
    created_at_ns: Nat64,
    deadline_ns: Nat64,
    runners: IDL.Vec(IDL.Principal),
    results: Nat32,
    input_tokens: Nat64,
    output_tokens: Nat64,
    review_ends_at_ns: IDL.Opt(Nat64),
    outcome: IDL.Opt(IDL.Text)
  })
);

export type TaskPage = Page<TaskListItem>;
export const TaskPage = typed<TaskPage>(IDL.Record({ items: IDL.Vec(TaskListItem), next: IDL.Opt(IDL.Text) }));
