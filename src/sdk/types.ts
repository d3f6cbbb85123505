import { Principal } from '@dfinity/principal';

import type { FindRequest } from '../core/registry/discovery.js';
import type { Reputation } from '../core/registry/types.js';
import type { RewardQuote } from '../core/rewards/economics.js';
import { opt, type Opt } from '../interface/candid.js';
import type {
  Candidate as CandidateView,
  CardView,
  FindRequest as FindRequestArgs,
  ReputationView as ReputationRecordView,
  RunnerView as RunnerRecordView
} from '../interface/registry/index.js';

/** The registry's own types, as the SDK hands them out. */
export type { Reputation, RewardQuote };

/** A published model card, camelCase. */
export interface ModelCard {
  id: string;
  digest: string;
  version: string;
  family: string;
  architecture: string;
  format: string;
  quantization: string;
  bits: number;
  contextLength: bigint;
  publishedBy: string;
  deprecated?: { reason: string; atNs: bigint };
  /** The card's full manifest, as published (JSON). */
  manifestJson: string;
}

export interface ModelFilter {
  id?: string;
  family?: string;
  format?: string;
  quantization?: string;
  includeDeprecated?: boolean;
}

/** What a task needs from a runner; every field is optional (the registry's FindRequest; context in bigint). */
export type RunnerRequest = Omit<FindRequest, 'minContext'> & { minContext?: bigint };

/** A runner that can serve a request, best first. */
export interface RunnerCandidate {
  runner: string;
  endpoint?: string;
  region: string;
  model: { id: string; digest: string };
  engine: string;
  state: string;
  freeSlots: number;
  score: number;
  inputPricePerMillion: bigint;
  outputPricePerMillion: bigint;
  affinity: boolean;
}

/** A registered runner as the registry holds it, camelCase. */
export interface RunnerInfo {
  id: string;
  operator: string;
  endpoint?: string;
  region: string;
  registeredAtNs: bigint;
  updatedAtNs: bigint;
  suspended?: string;
  /** Heartbeat within its time to live, and not suspended. */
  live: boolean;
  heartbeat?: { state: string; busySlots: number; queueDepth: number; tokensPerSecond: number; kvCacheUsage: number; atNs: bigint };
  deployments: Array<{
    modelId: string;
    modelDigest: string;
    engine: string;
    engineVersion: string;
    servedContext: bigint;
    slots: number;
    inputPricePerMillion: bigint;
    outputPricePerMillion: bigint;
  }>;
  manifestJson: string;
}

/** A ledger account: a principal (object or text), or an owner with a 32-byte subaccount. */
export type AccountLike = Principal | string | { owner: Principal | string; subaccount?: Uint8Array };

export function toFindRequest(request: RunnerRequest): FindRequestArgs {
  return {
    model: opt(request.model),
    family: opt(request.family),
    min_context: opt(request.minContext),
    quantizations: opt(request.quantizations),
    min_bits: opt(request.minBits),
    input_modality: opt(request.inputModality),
    output_modality: opt(request.outputModality),
    capabilities: opt(request.capabilities),
    engine: opt(request.engine),
    accelerator_class: opt(request.acceleratorClass),
    region: opt(request.region),
    max_input_price_per_million: opt(request.maxInputPricePerMillion),
    max_output_price_per_million: opt(request.maxOutputPricePerMillion),
    endpoint_required: opt(request.endpointRequired),
    confidential_required: opt(request.confidentialRequired),
    affinity_key: opt(request.affinityKey),
    limit: opt(request.limit)
  };
}

export function toModelCard(card: CardView): ModelCard {
  const deprecated = card.deprecated[0];
  return {
    id: card.id,
    digest: card.digest,
    version: card.version,
    family: card.family,
    architecture: card.architecture,
    format: card.format,
    quantization: card.quantization,
    bits: card.bits,
    contextLength: card.context_length,
    publishedBy: card.published_by.toText(),
    ...(deprecated === undefined ? {} : { deprecated: { reason: deprecated.reason, atNs: deprecated.at_ns } }),
    manifestJson: card.manifest_json
  };
}

export function toCandidate(candidate: CandidateView): RunnerCandidate {
  return {
    runner: candidate.runner.toText(),
    ...(candidate.endpoint === '' ? {} : { endpoint: candidate.endpoint }),
    region: candidate.region,
    model: { id: candidate.model.id, digest: candidate.model.digest },
    engine: candidate.engine,
    state: candidate.state,
    freeSlots: candidate.free_slots,
    score: candidate.score,
    inputPricePerMillion: candidate.input_price_per_million,
    outputPricePerMillion: candidate.output_price_per_million,
    affinity: candidate.affinity
  };
}

export function toAccount(account: AccountLike): { owner: Principal; subaccount: Opt<Uint8Array> } {
  const principal = (p: Principal | string): Principal => (typeof p === 'string' ? Principal.fromText(p) : p);
  if (typeof account === 'string' || !('owner' in account)) return { owner: principal(account), subaccount: [] };
  return { owner: principal(account.owner), subaccount: opt(account.subaccount) };
}

export function toRunnerInfo(view: RunnerRecordView): RunnerInfo {
  const heartbeat = view.heartbeat[0];
  return {
    id: view.id.toText(),
    operator: view.operator,
    ...(view.endpoint[0] === undefined ? {} : { endpoint: view.endpoint[0] }),
    region: view.region,
    registeredAtNs: view.registered_at_ns,
    updatedAtNs: view.updated_at_ns,
    ...(view.suspended[0] === undefined ? {} : { suspended: view.suspended[0] }),
    live: view.live,
    ...(heartbeat === undefined
      ? {}
      : {
          heartbeat: {
            state: heartbeat.state,
            busySlots: heartbeat.busy_slots,
            queueDepth: heartbeat.queue_depth,
            tokensPerSecond: heartbeat.tokens_per_second,
            kvCacheUsage: heartbeat.kv_cache_usage,
            atNs: heartbeat.at_ns
          }
        }),
    deployments: view.deployments.map((d) => ({
      modelId: d.model_id,
      modelDigest: d.model_digest,
      engine: d.engine,
      engineVersion: d.engine_version,
      servedContext: d.served_context,
      slots: d.slots,
      inputPricePerMillion: d.input_price_per_million,
      outputPricePerMillion: d.output_price_per_million
    })),
    manifestJson: view.manifest_json
  };
}

export function toReputation(view: ReputationRecordView): Reputation {
  return {
    completed: view.completed,
    failed: view.failed,
    rejected: view.rejected,
    expiredLeases: view.expired_leases,
    latencyMsEma: view.latency_ms_ema
  };
}
