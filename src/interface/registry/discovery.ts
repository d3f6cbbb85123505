import { IDL } from '@dfinity/candid';
import type { Principal } from '@dfinity/principal';

import { Nat32, Nat64, typed, type Opt } from '../candid.js';

/** The registry's model cards, runners and discovery: each wire value beside its Candid type. */

export interface InitArgs {
  admins: Principal[];
  heartbeat_interval_seconds: Opt<bigint>;
  heartbeat_ttl_seconds: Opt<bigint>;
}
export const InitArgs = typed<InitArgs>(
  IDL.Record({ admins: IDL.Vec(IDL.Principal), heartbeat_interval_seconds: IDL.Opt(Nat64), heartbeat_ttl_seconds: IDL.Opt(Nat64) })
);

export interface ModelRef {
  id: string;
  digest: string;
}
export const ModelRef = typed<ModelRef>(IDL.Record({ id: IDL.Text, digest: IDL.Text }));

export interface Deprecation {
  reason: string;
  at_ns: bigint;
}
export const Deprecation = typed<Deprecation>(IDL.Record({ reason: IDL.Text, at_ns: Nat64 }));

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
  deprecated: Opt<Deprecation>;
  manifest_json: string;
}
export const CardView = typed<CardView>(
  IDL.Record({
    id: IDL.Text,
    digest: IDL.Text,
    version: IDL.Text,
    family: IDL.Text,
    architecture: IDL.Text,
    format: IDL.Text,
    quantization: IDL.Text,
    bits: IDL.Float64,
    context_length: Nat64,
    published_by: IDL.Principal,
    published_at_ns: Nat64,
    deprecated: IDL.Opt(Deprecation),
    manifest_json: IDL.Text
  })
);

export interface CardFilter {
  id: Opt<string>;
  family: Opt<string>;
  format: Opt<string>;
  quantization: Opt<string>;
  include_deprecated: Opt<boolean>;
}
export const CardFilter = typed<CardFilter>(
  IDL.Record({
    id: IDL.Opt(IDL.Text),
    family: IDL.Opt(IDL.Text),
    format: IDL.Opt(IDL.Text),
    quantization: IDL.Opt(IDL.Text),
    include_deprecated: IDL.Opt(IDL.Bool)
  })
);

export interface PageRequest {
  after: Opt<string>;
  limit: Opt<number>;
}
export const PageRequest = typed<PageRequest>(IDL.Record({ after: IDL.Opt(IDL.Text), limit: IDL.Opt(Nat32) }));

/** One page of a listing; `next` is the cursor of the following page. */
export interface Page<T> {
  items: T[];
  next: Opt<string>;
}

export interface HeartbeatView {
  state: string;
  busy_slots: number;
  queue_depth: number;
  tokens_per_second: number;
  kv_cache_usage: number;
  at_ns: bigint;
}
export const HeartbeatView = typed<HeartbeatView>(
  IDL.Record({
    state: IDL.Text,
    busy_slots: Nat32,
    queue_depth: Nat32,
    tokens_per_second: IDL.Float64,
    kv_cache_usage: IDL.Float64,
    at_ns: Nat64
  })
);

export interface DeploymentView {
  model_id: string;
  model_digest: string;
  engine: string;
  engine_version: string;
  served_context: bigint;
  slots: number;
  input_price_per_million: bigint;
  output_price_per_million: bigint;
}
export const DeploymentView = typed<DeploymentView>(
  IDL.Record({
    model_id: IDL.Text,
    model_digest: IDL.Text,
    engine: IDL.Text,
    engine_version: IDL.Text,
    served_context: Nat64,
    slots: Nat32,
    input_price_per_million: IDL.Nat,
    output_price_per_million: IDL.Nat
  })
);

export interface ConfidentialView {
  kind: string;
  evidence_digest: Opt<string>;
  verified: boolean;
}
export const ConfidentialView = typed<ConfidentialView>(
  IDL.Record({ kind: IDL.Text, evidence_digest: IDL.Opt(IDL.Text), verified: IDL.Bool })
);

export interface RunnerView {
  id: Principal;
  operator: string;
  endpoint: Opt<string>;
  region: string;
  registered_at_ns: bigint;
  updated_at_ns: bigint;
  suspended: Opt<string>;
  live: boolean;
  heartbeat: Opt<HeartbeatView>;
  deployments: DeploymentView[];
  manifest_json: string;
  /** What the runner's bond holds now (none: no bond), its state, and whether its operator accepted being named. */
  bond_e8s: Opt<bigint>;
  bond_state: Opt<string>;
  operator_accepted: Opt<boolean>;
  /** The confidential-computing claim; `verified` is false until the registry verifies its attestation evidence. */
  confidential: ConfidentialView;
}
export const RunnerView = typed<RunnerView>(
  IDL.Record({
    id: IDL.Principal,
    operator: IDL.Text,
    endpoint: IDL.Opt(IDL.Text),
    region: IDL.Text,
    registered_at_ns: Nat64,
    updated_at_ns: Nat64,
    suspended: IDL.Opt(IDL.Text),
    live: IDL.Bool,
    heartbeat: IDL.Opt(HeartbeatView),
    deployments: IDL.Vec(DeploymentView),
    manifest_json: IDL.Text,
    bond_e8s: IDL.Opt(IDL.Nat),
    bond_state: IDL.Opt(IDL.Text),
    operator_accepted: IDL.Opt(IDL.Bool),
    confidential: ConfidentialView
  })
);

export interface RunnerFilter {
  model: Opt<string>;
  live_only: Opt<boolean>;
}
export const RunnerFilter = typed<RunnerFilter>(IDL.Record({ model: IDL.Opt(IDL.Text), live_only: IDL.Opt(IDL.Bool) }));

export interface HeartbeatArgs {
  state: string;
  busy_slots: number;
  queue_depth: number;
  tokens_per_second: number;
  kv_cache_usage: number;
}
export const HeartbeatArgs = typed<HeartbeatArgs>(
  IDL.Record({ state: IDL.Text, busy_slots: Nat32, queue_depth: Nat32, tokens_per_second: IDL.Float64, kv_cache_usage: IDL.Float64 })
);

export interface HeartbeatAck {
  next_heartbeat_in_ns: bigint;
  ttl_ns: bigint;
}
export const HeartbeatAck = typed<HeartbeatAck>(IDL.Record({ next_heartbeat_in_ns: Nat64, ttl_ns: Nat64 }));

export interface FindRequest {
  model: Opt<string>;
  family: Opt<string>;
  min_context: Opt<bigint>;
  quantizations: Opt<string[]>;
  min_bits: Opt<number>;
  input_modality: Opt<string>;
  output_modality: Opt<string>;
  capabilities: Opt<string[]>;
  engine: Opt<string>;
  accelerator_class: Opt<string>;
  region: Opt<string>;
  max_input_price_per_million: Opt<bigint>;
  max_output_price_per_million: Opt<bigint>;
  endpoint_required: Opt<boolean>;
  confidential_required: Opt<boolean>;
  affinity_key: Opt<string>;
  limit: Opt<number>;
  /** Pins the weights: only deployments of one of these digests (added last and optional, so older clients still decode). */
  digests: Opt<string[]>;
}
export const FindRequest = typed<FindRequest>(
  IDL.Record({
    model: IDL.Opt(IDL.Text),
    family: IDL.Opt(IDL.Text),
    min_context: IDL.Opt(Nat64),
    quantizations: IDL.Opt(IDL.Vec(IDL.Text)),
    min_bits: IDL.Opt(IDL.Float64),
    input_modality: IDL.Opt(IDL.Text),
    output_modality: IDL.Opt(IDL.Text),
    capabilities: IDL.Opt(IDL.Vec(IDL.Text)),
    engine: IDL.Opt(IDL.Text),
    accelerator_class: IDL.Opt(IDL.Text),
    region: IDL.Opt(IDL.Text),
    max_input_price_per_million: IDL.Opt(IDL.Nat),
    max_output_price_per_million: IDL.Opt(IDL.Nat),
    endpoint_required: IDL.Opt(IDL.Bool),
    confidential_required: IDL.Opt(IDL.Bool),
    affinity_key: IDL.Opt(IDL.Text),
    limit: IDL.Opt(Nat32),
    digests: IDL.Opt(IDL.Vec(IDL.Text))
  })
);

export interface Breakdown {
  load: number;
  freshness: number;
  price: number;
  reputation: number;
  latency: number;
  efficiency: number;
}
export const Breakdown = typed<Breakdown>(
  IDL.Record({
    load: IDL.Float64,
    freshness: IDL.Float64,
    price: IDL.Float64,
    reputation: IDL.Float64,
    latency: IDL.Float64,
    efficiency: IDL.Float64
  })
);

export interface Candidate {
  runner: Principal;
  /** Empty when the runner publishes no endpoint (find_runners' native encoder cannot type a mixed `opt` column). */
  endpoint: string;
  region: string;
  model: ModelRef;
  engine: string;
  deployment: number;
  input_price_per_million: bigint;
  output_price_per_million: bigint;
  state: string;
  free_slots: number;
  heartbeat_age_ns: bigint;
  score: number;
  breakdown: Breakdown;
  affinity: boolean;
  /** The runner's confidential-computing kind (`none`, `sev-snp`, …) and whether its attestation was verified. */
  confidential_kind: string;
  confidential_verified: boolean;
  /**
   * The context (tokens) the runner serves the model with, as it registered it: a router sends a long request to a runner
   * that fits it. Optional, so clients read the replies of a registry from before it.
   */
  served_context: [] | [bigint];
}
export const Candidate = typed<Candidate>(
  IDL.Record({
    runner: IDL.Principal,
    endpoint: IDL.Text,
    region: IDL.Text,
    model: ModelRef,
    engine: IDL.Text,
    deployment: Nat32,
    input_price_per_million: IDL.Nat,
    output_price_per_million: IDL.Nat,
    state: IDL.Text,
    free_slots: Nat32,
    heartbeat_age_ns: Nat64,
    score: Nat32,
    breakdown: Breakdown,
    affinity: IDL.Bool,
    confidential_kind: IDL.Text,
    confidential_verified: IDL.Bool,
    served_context: IDL.Opt(Nat64)
  })
);

export interface ModelStats {
  model: string;
  ready_runners: number;
  free_slots: number;
  queue_depth: number;
  median_input_price_per_million: bigint;
  median_output_price_per_million: bigint;
}
export const ModelStats = typed<ModelStats>(
  IDL.Record({
    model: IDL.Text,
    ready_runners: Nat32,
    free_slots: Nat32,
    queue_depth: Nat32,
    median_input_price_per_million: IDL.Nat,
    median_output_price_per_million: IDL.Nat
  })
);

export interface ConfigView {
  admins: Principal[];
  heartbeat_interval_ns: bigint;
  heartbeat_ttl_ns: bigint;
  weights: Breakdown;
}
export const ConfigView = typed<ConfigView>(
  IDL.Record({ admins: IDL.Vec(IDL.Principal), heartbeat_interval_ns: Nat64, heartbeat_ttl_ns: Nat64, weights: Breakdown })
);

export type CardPage = Page<CardView>;
export const CardPage = typed<CardPage>(IDL.Record({ items: IDL.Vec(CardView), next: IDL.Opt(IDL.Text) }));
export type RunnerPage = Page<RunnerView>;
export const RunnerPage = typed<RunnerPage>(IDL.Record({ items: IDL.Vec(RunnerView), next: IDL.Opt(IDL.Text) }));

/** Per-caller shares of the global caps (set_quotas, get_quotas). */
export interface QuotasView {
  runners_per_operator: number;
  open_tasks_per_requester: number;
  cards_per_publisher: number;
}
export const QuotasView = typed<QuotasView>(
  IDL.Record({ runners_per_operator: Nat32, open_tasks_per_requester: Nat32, cards_per_publisher: Nat32 })
);

/** set_quotas: a field left out keeps its value. */
export interface QuotasArgs {
  runners_per_operator: Opt<number>;
  open_tasks_per_requester: Opt<number>;
  cards_per_publisher: Opt<number>;
}
export const QuotasArgs = typed<QuotasArgs>(
  IDL.Record({ runners_per_operator: IDL.Opt(Nat32), open_tasks_per_requester: IDL.Opt(Nat32), cards_per_publisher: IDL.Opt(Nat32) })
);
