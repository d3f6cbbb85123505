import { Actor, type ActorSubclass, type HttpAgent, type Identity } from '@dfinity/agent';
import type { Principal } from '@dfinity/principal';

import { registryIdlFactory, type FindRequestArgs } from '../../canisters/registry/candid.js';
import type { SubmitTaskArgs } from '../../canisters/registry/task-args.js';
import type { Opt, RegistryResult, TaskView } from './registry.js';

/** Types the SDK needs from the agent layer, so that src/sdk never imports @dfinity/agent itself. */
export type { HttpAgent, Identity };
export type { FindRequestArgs, Opt, RegistryResult, TaskView };

export interface CardView {
  id: string;
  digest: string;
  version: string;
  family: string;
  architecture: string;
  format: string;
  quantization: string;
  bits: number;
  context_length: bigint;
  published_by: Principal;
  published_at_ns: bigint;
  deprecated: Opt<{ reason: string; at_ns: bigint }>;
  manifest_json: string;
}

export interface CardFilterArgs {
  id: Opt<string>;
  family: Opt<string>;
  format: Opt<string>;
  quantization: Opt<string>;
  include_deprecated: Opt<boolean>;
}

export interface CandidateView {
  runner: Principal;
  endpoint: string;
  region: string;
  model: { id: string; digest: string };
  engine: string;
  deployment: number;
  input_price_per_million: bigint;
  output_price_per_million: bigint;
  state: string;
  free_slots: number;
  heartbeat_age_ns: bigint;
  score: number;
  breakdown: { load: number; freshness: number; price: number; reputation: number; latency: number; efficiency: number };
  affinity: boolean;
}

export interface RewardQuoteView {
  reward_e8s: bigint;
  protocol_fee_e8s: bigint;
  per_runner_net_e8s: bigint;
  treasury_net_e8s: bigint;
  refund_net_e8s: bigint;
  ledger_fee_e8s: bigint;
  acceptable: boolean;
}

export interface RunnerRecordView {
  id: Principal;
  operator: string;
  endpoint: Opt<string>;
  region: string;
  registered_at_ns: bigint;
  updated_at_ns: bigint;
  suspended: Opt<string>;
  live: boolean;
  heartbeat: Opt<{
    state: string;
    busy_slots: number;
    queue_depth: number;
    tokens_per_second: number;
    kv_cache_usage: number;
    at_ns: bigint;
  }>;
  deployments: Array<{
    model_id: string;
    model_digest: string;
    engine: string;
    engine_version: string;
    served_context: bigint;
    slots: number;
    input_price_per_million: bigint;
    output_price_per_million: bigint;
  }>;
  manifest_json: string;
}

export interface ReputationRecordView {
  completed: number;
  failed: number;
  rejected: number;
  expired_leases: number;
  latency_ms_ema: number;
}

export type { SubmitTaskArgs as SubmitTaskArgsValue } from '../../canisters/registry/task-args.js';

/** The registry methods a dApp (task requester) calls, typed. */
export interface RequesterRegistry {
  publish_model_card(json: string): Promise<RegistryResult<{ id: string; digest: string }>>;
  get_model_card(id: string, digest: Opt<string>): Promise<Opt<CardView>>;
  list_model_cards(
    filter: CardFilterArgs,
    page: { after: Opt<string>; limit: Opt<number> }
  ): Promise<RegistryResult<{ items: CardView[]; next: Opt<string> }>>;
  find_runners(request: FindRequestArgs): Promise<RegistryResult<CandidateView[]>>;
  get_runner(id: Principal): Promise<Opt<RunnerRecordView>>;
  get_reputation(id: Principal): Promise<Opt<ReputationRecordView>>;
  quote_reward(rewardE8s: bigint, redundancy: number): Promise<RewardQuoteView>;
  submit_task(args: SubmitTaskArgs): Promise<RegistryResult<TaskView>>;
  get_task(id: string): Promise<Opt<TaskView>>;
  accept_task(id: string): Promise<RegistryResult<TaskView>>;
  reject_task(id: string, reason: string): Promise<RegistryResult<TaskView>>;
  get_task_config(): Promise<{ ledger: Opt<Principal>; ledger_fee_e8s: bigint; min_reward_e8s: bigint }>;
}

export function requesterRegistry(agent: HttpAgent, canisterId: Principal | string): ActorSubclass<RequesterRegistry> {
  return Actor.createActor<RequesterRegistry>(registryIdlFactory, { agent, canisterId });
}
