import { Principal } from '@dfinity/principal';

import type { Reputation } from '../core/registry/types.js';
import { isTaskState, type TaskState } from '../core/tasks/states.js';
import { fromOpt, opt, type Opt } from '../interface/candid.js';
import type {
  Candidate as CandidateView,
  CardView,
  FindRequest as FindRequestArgs,
  ReputationView as ReputationRecordView,
  RunnerView as RunnerRecordView,
  TaskResultView,
  TaskView
} from '../interface/registry/index.js';
import { DeaiError } from './errors.js';
import type { Task, TaskResult } from './task-types.js';
import type { AccountLike, PublishedModel, RunnerCandidate, RunnerInfo, RunnerRequest } from './types.js';

/**
 * Every conversion between the registry's and the ledger's wire values (src/interface: snake_case, `[] | [T]`,
 * Principal objects) and the SDK's public types (camelCase, optional fields, principals as text).
 */

/** A task state from the wire; a state this SDK does not know means a newer registry. */
export function parseTaskState(state: string): TaskState {
  if (isTaskState(state)) return state;
  throw new DeaiError('UnexpectedReply', `The registry answered an unknown task state '${state}': update the SDK`, {
    field: 'state',
    value: state
  });
}

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

export function toPublishedModel(card: CardView): PublishedModel {
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

export function toTaskResult(view: TaskResultView): TaskResult {
  return {
    runner: view.runner.toText(),
    outputDigest: view.output_digest,
    ...optional('output', fromOpt(view.output)),
    ...optional('reference', fromOpt(view.reference)),
    inputTokens: view.input_tokens,
    outputTokens: view.output_tokens,
    firstTokenMs: view.first_token_ms,
    totalMs: view.total_ms,
    atNs: view.at_ns
  };
}

export function toTask(view: TaskView): Task {
  return {
    id: view.id,
    requester: view.requester.toText(),
    state: parseTaskState(view.state),
    model: view.model,
    input: {
      ...optional('inline', fromOpt(view.input.inline)),
      ...optional('digest', fromOpt(view.input.digest)),
      ...optional('reference', fromOpt(view.input.reference))
    },
    limits: {
      maxOutputTokens: view.limits.max_output_tokens,
      ...optional('temperature', fromOpt(view.limits.temperature)),
      ...optional('seed', fromOpt(view.limits.seed))
    },
    rewardE8s: view.reward_e8s,
    deadlineNs: view.deadline_ns,
    redundancy: view.redundancy,
    createdAtNs: view.created_at_ns,
    ...optional('escrowBlock', fromOpt(view.escrow_block)),
    leases: view.leases.map((l) => ({ runner: l.runner.toText(), claimedAtNs: l.claimed_at_ns, expiresAtNs: l.expires_at_ns })),
    results: view.results.map(toTaskResult),
    failures: view.failures.map((f) => ({ runner: f.runner.toText(), reason: f.reason, atNs: f.at_ns })),
    ...optional('reviewEndsAtNs', fromOpt(view.review_ends_at_ns)),
    paidRunners: view.paid_runners.map((p) => p.toText()),
    ...optional('outcome', fromOpt(view.outcome))
  };
}

/** `{ key: value }`, or nothing when the value is absent (exactOptionalPropertyTypes-safe). */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
