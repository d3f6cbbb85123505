import type { Principal } from '@dfinity/principal';

import type { FindRequestArgs } from '../../../canisters/registry/candid.js';
import type { TaskView } from '../../../src/ic/registry.js';
import type { CandidateView, CardView, ReputationRecordView, RewardQuoteView, RunnerRecordView } from '../../../src/ic/requester.js';

/** The registry and ledger values the explorer reads, as @dfinity/candid decodes them (checked against the .did). */
export type Opt<T> = [] | [T];
export type Res<T> = { Ok: T } | { Err: Record<string, unknown> };
export interface Page<T> {
  items: T[];
  next: Opt<string>;
}
export interface PageArg {
  after: Opt<string>;
  limit: Opt<number>;
}

/** What the registry's queries return: the off-chain clients' own types (type-only: nothing enters the bundle). */
export type { CardView, TaskView };
export type Candidate = CandidateView;
export type Breakdown = CandidateView['breakdown'];
export type RunnerView = RunnerRecordView;
export type Reputation = ReputationRecordView;
export type RewardQuote = RewardQuoteView;

export interface ModelStats {
  model: string;
  ready_runners: number;
  free_slots: number;
  queue_depth: number;
  median_input_price_per_million: bigint;
  median_output_price_per_million: bigint;
}

/** The find_runners request: the registry's own Candid type (type-only import, nothing enters the bundle). */
export type FindRequest = FindRequestArgs;

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

export interface TaskFilterArg {
  requester: Opt<Principal>;
  runner: Opt<Principal>;
  state: Opt<string>;
}

export interface ExplorerRegistry {
  list_model_cards(
    filter: { id: Opt<string>; family: Opt<string>; format: Opt<string>; quantization: Opt<string>; include_deprecated: Opt<boolean> },
    page: PageArg
  ): Promise<Res<Page<CardView>>>;
  list_runners(filter: { model: Opt<string>; live_only: Opt<boolean> }, page: PageArg): Promise<Res<Page<RunnerView>>>;
  get_runner(id: Principal): Promise<Opt<RunnerView>>;
  find_runners(request: FindRequest): Promise<Res<Candidate[]>>;
  stats(): Promise<ModelStats[]>;
  get_config(): Promise<{ heartbeat_ttl_ns: bigint; weights: Breakdown }>;
  get_task(id: string): Promise<Opt<TaskView>>;
  list_tasks(filter: TaskFilterArg, page: PageArg): Promise<Res<Page<TaskListItem>>>;
  get_reputation(id: Principal): Promise<Opt<Reputation>>;
  quote_reward(reward: bigint, redundancy: number): Promise<RewardQuote>;
  get_task_config(): Promise<{ ledger: Opt<Principal>; escrow: Opt<Account>; protocol_fee_bps: number; ledger_fee_e8s: bigint }>;
}

export interface Account {
  owner: Principal;
  subaccount: Opt<Uint8Array | number[]>;
}

/** ICRC-3 generic value. */
export type Icrc3Value =
  | { Blob: Uint8Array | number[] }
  | { Text: string }
  | { Nat: bigint }
  | { Int: bigint }
  | { Array: Icrc3Value[] }
  | { Map: Array<[string, Icrc3Value]> };

export interface ExplorerLedger {
  icrc1_symbol(): Promise<string>;
  icrc1_decimals(): Promise<number>;
  icrc1_fee(): Promise<bigint>;
  icrc1_total_supply(): Promise<bigint>;
  icrc1_balance_of(account: Account): Promise<bigint>;
  icrc3_get_blocks(
    args: Array<{ start: bigint; length: bigint }>
  ): Promise<{ log_length: bigint; blocks: Array<{ id: bigint; block: Icrc3Value }> }>;
}
