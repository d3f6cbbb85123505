import { Principal } from 'azle';

import { stringifyJson } from '../../src/core/json.js';
import {
  confidentialOf,
  isLive,
  operatorAccepted,
  type Confidential,
  WEIGHTS,
  type Candidate,
  type ModelStats,
  type RegistryConfig,
  type RegistryStore,
  type StoredCard,
  type StoredRunner
} from '../../src/core/registry/index.js';
import type { BondStore } from '../../src/core/rewards/index.js';
import { opt } from '../../src/interface/candid.js';
import type {
  Candidate as CandidateView,
  CardView,
  ConfidentialView,
  ConfigView,
  ModelStats as ModelStatsView,
  RunnerView
} from '../../src/interface/registry/index.js';

/** Core records → the Candid values of src/interface/registry. */

export function cardView(stored: StoredCard): CardView {
  const { card } = stored;
  return {
    id: card.id,
    digest: card.digest,
    version: card.version,
    family: card.family,
    architecture: card.architecture,
    format: card.format,
    quantization: card.quantization.method,
    bits: card.quantization.bits,
    context_length: BigInt(card.contextLength),
    published_by: Principal.fromText(stored.publishedBy),
    published_at_ns: stored.publishedAtNs,
    deprecated: opt(stored.deprecated === undefined ? undefined : { reason: stored.deprecated.reason, at_ns: stored.deprecated.atNs }),
    manifest_json: stringifyJson(card)
  };
}

export function runnerView(store: RegistryStore & Pick<BondStore, 'bonds'>, runner: StoredRunner, nowNs: bigint): RunnerView {
  const beat = store.heartbeats.get(runner.id);
  const bond = store.bonds.get(runner.id);
  const m = runner.manifest;
  return {
    id: Principal.fromText(runner.id),
    operator: m.operator,
    endpoint: opt(m.endpoint),
    region: m.region,
    registered_at_ns: runner.registeredAtNs,
    updated_at_ns: runner.updatedAtNs,
    suspended: opt(runner.suspended?.reason),
    live: runner.suspended === undefined && isLive(beat, nowNs, store.config().heartbeatTtlNs),
    heartbeat: opt(
      beat === undefined
        ? undefined
        : {
            state: beat.state,
            busy_slots: beat.busySlots,
            queue_depth: beat.queueDepth,
            tokens_per_second: beat.tokensPerSecond,
            kv_cache_usage: beat.kvCacheUsage,
            at_ns: beat.atNs
          }
    ),
    deployments: m.deployments.map((d) => ({
      model_id: d.model.id,
      model_digest: d.model.digest,
      engine: d.engine,
      engine_version: d.engineVersion,
      served_context: BigInt(d.servedContext),
      slots: d.slots,
      input_price_per_million: d.price.inputPerMillion,
      output_price_per_million: d.price.outputPerMillion
    })),
    manifest_json: stringifyJson(m),
    bond_e8s: opt(bond?.amountE8s),
    bond_state: opt(bond?.state),
    operator_accepted: [operatorAccepted(runner)],
    confidential: confidentialView(confidentialOf(runner))
  };
}

function confidentialView(c: Confidential): ConfidentialView {
  return { kind: c.kind, evidence_digest: opt(c.evidenceDigest), verified: c.verified };
}

export function candidateView(c: Candidate): CandidateView {
  return {
    runner: Principal.fromText(c.runnerId),
    endpoint: c.endpoint ?? '',
    region: c.region,
    model: c.model,
    engine: c.engine,
    deployment: c.deployment,
    input_price_per_million: c.inputPricePerMillion,
    output_price_per_million: c.outputPricePerMillion,
    state: c.state,
    free_slots: c.freeSlots,
    heartbeat_age_ns: c.heartbeatAgeNs,
    score: c.score,
    breakdown: c.breakdown,
    affinity: c.affinity,
    confidential_kind: c.confidentialKind,
    confidential_verified: c.confidentialVerified,
    served_context: [BigInt(c.servedContext)]
  };
}

export function statsView(s: ModelStats): ModelStatsView {
  return {
    model: s.model,
    ready_runners: s.readyRunners,
    free_slots: s.freeSlots,
    queue_depth: s.queueDepth,
    median_input_price_per_million: s.medianInputPricePerMillion,
    median_output_price_per_million: s.medianOutputPricePerMillion
  };
}

export function configView(config: RegistryConfig): ConfigView {
  return {
    admins: config.admins.map((a) => Principal.fromText(a)),
    heartbeat_interval_ns: config.heartbeatIntervalNs,
    heartbeat_ttl_ns: config.heartbeatTtlNs,
    weights: { ...WEIGHTS }
  };
}
