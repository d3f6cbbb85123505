import { Actor, type ActorSubclass, type HttpAgent } from '@dfinity/agent';
import type { Principal } from '@dfinity/principal';

import { registryIdlFactory } from '../../canisters/registry/candid.js';
import type { ResultArgsValue as ResultArgs } from '../../canisters/registry/task-args.js';

/** Typed access to the registry canister for off-chain code (runner, SDK, CLI). Values as @dfinity/candid gives them. */
export type Opt<T> = [] | [T];
export type RegistryErr = Record<string, unknown>;
export type RegistryResult<T> = { Ok: T } | { Err: RegistryErr };

export interface TaskView {
  id: string;
  requester: Principal;
  state: string;
  model: string;
  input: { inline: Opt<string>; digest: Opt<string>; reference: Opt<string> };
  limits: { max_output_tokens: number; temperature: Opt<number>; seed: Opt<bigint> };
  reward_e8s: bigint;
  deadline_ns: bigint;
  redundancy: number;
  created_at_ns: bigint;
  escrow_block: Opt<bigint>;
  leases: Array<{ runner: Principal; claimed_at_ns: bigint; expires_at_ns: bigint }>;
  results: Array<{
    runner: Principal;
    output_digest: string;
    output: Opt<string>;
    reference: Opt<string>;
    input_tokens: bigint;
    output_tokens: bigint;
    first_token_ms: number;
    total_ms: number;
    at_ns: bigint;
  }>;
  failures: Array<{ runner: Principal; reason: string; at_ns: bigint }>;
  review_ends_at_ns: Opt<bigint>;
  paid_runners: Principal[];
  outcome: Opt<string>;
}

export type { ResultArgs };

export interface HeartbeatArgs {
  state: string;
  busy_slots: number;
  queue_depth: number;
  tokens_per_second: number;
  kv_cache_usage: number;
}

export interface RunnerRegistry {
  publish_model_card(json: string): Promise<RegistryResult<{ id: string; digest: string }>>;
  get_model_card(id: string, digest: Opt<string>): Promise<Opt<{ id: string; digest: string }>>;
  register_runner(json: string): Promise<RegistryResult<{ id: Principal }>>;
  update_runner(runner: Principal, json: string): Promise<RegistryResult<{ id: Principal }>>;
  get_runner(runner: Principal): Promise<Opt<{ id: Principal; manifest_json: string }>>;
  heartbeat(args: HeartbeatArgs): Promise<RegistryResult<{ next_heartbeat_in_ns: bigint; ttl_ns: bigint }>>;
  list_claimable(): Promise<
    Array<{ id: string; model: string; reward_e8s: bigint; deadline_ns: bigint; redundancy: number; open_places: number }>
  >;
  claim_task(id: Opt<string>): Promise<RegistryResult<TaskView>>;
  complete_task(id: string, result: ResultArgs): Promise<RegistryResult<TaskView['results'][number]>>;
  fail_task(id: string, reason: string): Promise<RegistryResult<TaskView>>;
  get_task(id: string): Promise<Opt<TaskView>>;
}

export function registryClient(agent: HttpAgent, canisterId: Principal | string): ActorSubclass<RunnerRegistry> {
  return Actor.createActor<RunnerRegistry>(registryIdlFactory, { agent, canisterId });
}

/** The variant name of a registry error (`{ NotFound: {...} }` → `NotFound`). */
export const errorName = (error: RegistryErr): string => Object.keys(error)[0] ?? 'Unknown';
