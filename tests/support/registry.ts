import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { Actor, type ActorSubclass, type HttpAgent } from '@dfinity/agent';
import type { Principal } from '@dfinity/principal';

import { registryIdlFactory, type FindRequestArgs } from '../../canisters/registry/candid.ts';

type Opt<T> = [] | [T];
export type RegistryErr = Record<string, unknown>;
export type R<T> = { Ok: T } | { Err: RegistryErr };

export interface CardView {
  id: string;
  digest: string;
  version: string;
  family: string;
  format: string;
  quantization: string;
  bits: number;
  context_length: bigint;
  published_by: Principal;
  deprecated: Opt<{ reason: string; at_ns: bigint }>;
  manifest_json: string;
}

export interface RunnerView {
  id: Principal;
  operator: string;
  endpoint: Opt<string>;
  region: string;
  suspended: Opt<string>;
  live: boolean;
  heartbeat: Opt<{ state: string; busy_slots: number; queue_depth: number; at_ns: bigint }>;
  deployments: Array<{ model_id: string; engine: string; slots: number; input_price_per_million: bigint }>;
}

export interface Candidate {
  runner: Principal;
  endpoint: string;
  model: { id: string; digest: string };
  engine: string;
  state: string;
  free_slots: number;
  score: number;
  breakdown: { load: number; freshness: number; price: number; reputation: number; latency: number; efficiency: number };
  affinity: boolean;
  input_price_per_million: bigint;
}

export type FindRequest = FindRequestArgs;

export interface HeartbeatArgs {
  state: string;
  busy_slots: number;
  queue_depth: number;
  tokens_per_second: number;
  kv_cache_usage: number;
}

export interface RegistryActor {
  publish_model_card(json: string): Promise<R<{ id: string; digest: string }>>;
  get_model_card(id: string, digest: Opt<string>): Promise<Opt<CardView>>;
  list_model_cards(
    filter: { id: Opt<string>; family: Opt<string>; format: Opt<string>; quantization: Opt<string>; include_deprecated: Opt<boolean> },
    page: { after: Opt<string>; limit: Opt<number> }
  ): Promise<R<{ items: CardView[]; next: Opt<string> }>>;
  list_runners(
    filter: { model: Opt<string>; live_only: Opt<boolean> },
    page: { after: Opt<string>; limit: Opt<number> }
  ): Promise<R<{ items: RunnerView[]; next: Opt<string> }>>;
  deprecate_model_card(ref: { id: string; digest: string }, reason: string): Promise<R<null>>;
  register_runner(json: string): Promise<R<RunnerView>>;
  update_runner(runner: Principal, json: string): Promise<R<RunnerView>>;
  deregister_runner(runner: Principal): Promise<R<null>>;
  heartbeat(args: HeartbeatArgs): Promise<R<{ next_heartbeat_in_ns: bigint; ttl_ns: bigint }>>;
  get_runner(runner: Principal): Promise<Opt<RunnerView>>;
  find_runners(request: FindRequest): Promise<R<Candidate[]>>;
  stats(): Promise<
    Array<{ model: string; ready_runners: number; free_slots: number; queue_depth: number; median_input_price_per_million: bigint }>
  >;
  suspend_runner(runner: Principal, reason: string): Promise<R<null>>;
  unsuspend_runner(runner: Principal): Promise<R<null>>;
  set_admins(admins: Principal[]): Promise<R<null>>;
  get_config(): Promise<{ admins: Principal[]; heartbeat_interval_ns: bigint; heartbeat_ttl_ns: bigint }>;
}

export function registryWasm(): Uint8Array {
  return new Uint8Array(readFileSync(join(import.meta.dirname, '..', '..', '.azle', 'registry', 'registry.wasm')));
}

export function registryActor(agent: HttpAgent, canisterId: Principal): ActorSubclass<RegistryActor> {
  return Actor.createActor<RegistryActor>(registryIdlFactory, { agent, canisterId });
}

export function findRequest(overrides: Partial<FindRequest> = {}): FindRequest {
  return {
    model: [],
    family: [],
    min_context: [],
    quantizations: [],
    min_bits: [],
    input_modality: [],
    output_modality: [],
    capabilities: [],
    engine: [],
    accelerator_class: [],
    region: [],
    max_input_price_per_million: [],
    max_output_price_per_million: [],
    endpoint_required: [],
    confidential_required: [],
    affinity_key: [],
    limit: [],
    ...overrides
  };
}

export function heartbeatArgs(overrides: Partial<HeartbeatArgs> = {}): HeartbeatArgs {
  return { state: 'ready', busy_slots: 0, queue_depth: 0, tokens_per_second: 40, kv_cache_usage: 0.1, ...overrides };
}

/** The Ok value, or a failed expectation that shows the Err. */
export function okOf<T>(result: R<T>): T {
  if ('Err' in result)
    throw new Error(`expected Ok, got Err ${JSON.stringify(result.Err, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`);
  return result.Ok;
}

export function errOf<T>(result: R<T>): RegistryErr {
  if ('Ok' in result) throw new Error('expected Err, got Ok');
  return result.Err;
}
