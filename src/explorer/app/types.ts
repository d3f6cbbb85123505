import type { Principal } from '@dfinity/principal';

import type { FindRequestArgs } from '../../../canisters/registry/candid.js';
import type { CardView } from '../../../src/ic/requester.js';

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

/** A published card as `list_model_cards` returns it (the off-chain clients' own type). */
export type { CardView };

export interface ModelStats {
  model: string;
  ready_runners: number;
  free_slots: number;
  queue_depth: number;
  median_input_price_per_million: bigint;
  median_output_price_per_million: bigint;
}

export interface DeploymentView {
  model_id: string;
  engine: string;
  engine_version: string;
  served_context: bigint;
  slots: number;
  input_price_per_million: bigint;
  output_price_per_million: bigint;
}

export interface RunnerView {
  id: Principal;
  operator: string;
  endpoint: Opt<string>;
  region: string;
  registered_at_ns: bigint;
  suspended: Opt<string>;
  live: boolean;
  heartbeat: Opt<{ state: string; busy_slots: number; queue_depth: number; tokens_per_second: number; kv_cache_usage: number; at_ns: bigint }>;
  deployments: DeploymentView[];
  manifest_json: string;
}

export interface Breakdown {
  load: number;
  freshness: number;
  price: number;
  reputation: number;
  latency: number;
  efficiency: number;
}

export interface Candidate {
  runner: Principal;
  region: string;
  model: { id: string; digest: string };
  engine: string;
  input_price_per_million: bigint;
  output_price_per_million: bigint;
  state: string;
  free_slots: number;
  heartbeat_age_ns: bigint;
  score: number;
  breakdown: Breakdown;
}

/** The find_runners request: the registry's own Candid type (type-only import, nothing enters the bundle). */
export type FindRequest = FindRequestArgs;

export interface Reputation {
  completed: number;
  failed: number;
  rejected: number;
  expired_leases: number;
  latency_ms_ema: number;
}

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

export interface TaskView {
  id: string;
  requester: Principal;
  state: string;
  model: string;
  reward_e8s: bigint;
  deadline_ns: bigint;
  redundancy: number;
  created_at_ns: bigint;
  escrow_block: Opt<bigint>;
  limits: { max_output_tokens: number; temperature: Opt<number>; seed: Opt<bigint> };
  leases: Array<{ runner: Principal; claimed_at_ns: bigint; expires_at_ns: bigint }>;
  results: Array<{ runner: Principal; output_digest: string; output: Opt<string>; input_tokens: bigint; output_tokens: bigint; first_token_ms: number; total_ms: number; at_ns: bigint }>;
  failures: Array<{ runner: Principal; reason: string; at_ns: bigint }>;
  review_ends_at_ns: Opt<bigint>;
  paid_runners: Principal[];
  outcome: Opt<string>;
}

export interface RewardQuote {
  reward_e8s: bigint;
  protocol_fee_e8s: bigint;
  per_runner_net_e8s: bigint;
  treasury_net_e8s: bigint;
  ledger_fee_e8s: bigint;
}

export interface TaskFilterArg {
  requester: Opt<Principal>;
  runner: Opt<Principal>;
  state: Opt<string>;
}

export interface ExplorerRegistry {
  list_model_cards(filter: { id: Opt<string>; family: Opt<string>; format: Opt<string>; quantization: Opt<string>; include_deprecated: Opt<boolean> }, page: PageArg): Promise<Res<Page<CardView>>>;
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
  icrc3_get_blocks(args: Array<{ start: bigint; length: bigint }>): Promise<{ log_length: bigint; blocks: Array<{ id: bigint; block: Icrc3Value }> }>;
}
