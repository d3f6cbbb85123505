import { Principal } from '@dfinity/principal';

import type { Reputation } from '../core/registry/types.js';
import { isTaskState, type TaskState } from '../core/tasks/states.js';
import { fromOpt, opt, type Opt } from '../interface/candid.js';
import type {
  Candidate as CandidateView,
  CardFilter,
  CardView,
  FindRequest as FindRequestArgs,
  ModelStats,
  Page as PageView,
  PageRequest,
  ReputationView as ReputationRecordView,
  RewardQuote as RewardQuoteView,
  TaskQuote as TaskQuoteView,
  RunnerFilter as RunnerFilterArgs,
  RunnerView as RunnerRecordView,
  BondConfigView,
  BondView,
  TaskConfigView,
  TaskFilter as TaskFilterArgs,
  TaskListItem,
  TaskResultView,
  TaskView
} from '../interface/registry/index.js';
import { optional } from './convert-ledger.js';
import { DeaiError } from './errors.js';
import type { Task, TaskFilter, TaskResult, TaskSummary } from './task-types.js';
import type {
  AccountLike,
  BondSettings,
  RunnerBond,
  ModelCapacity,
  ModelFilter,
  Page,
  PublishedModel,
  RewardQuote,
  TaskQuote,
  RunnerCandidate,
  RunnerFilter,
  RunnerInfo,
  RunnerRequest
} from './types.js';

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
    limit: opt(request.limit),
    digests: opt(request.digests)
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
    affinity: candidate.affinity,
    heartbeatAgeNs: candidate.heartbeat_age_ns,
    breakdown: { ...candidate.breakdown },
    confidentialKind: candidate.confidential_kind,
    confidentialVerified: candidate.confidential_verified,
    ...(candidate.served_context[0] === undefined ? {} : { servedContext: candidate.served_context[0] })
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
    manifestJson: view.manifest_json,
    ...(view.bond_e8s[0] === undefined ? {} : { bondE8s: view.bond_e8s[0] }),
    ...(view.bond_state[0] === undefined ? {} : { bondState: view.bond_state[0] }),
    operatorAccepted: view.operator_accepted[0] ?? false,
    confidential: {
      kind: view.confidential.kind,
      ...(view.confidential.evidence_digest[0] === undefined ? {} : { evidenceDigest: view.confidential.evidence_digest[0] }),
      verified: view.confidential.verified
    }
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
    atNs: view.at_ns,
    ...optional('measuredMs', fromOpt(view.measured_total_ms) === undefined ? undefined : Number(fromOpt(view.measured_total_ms))),
    ...optional('costE8s', fromOpt(view.cost_e8s))
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

//#region listings: filters, pages and their rows

export function toCardFilter(filter: ModelFilter): CardFilter {
  return {
    id: opt(filter.id),
    family: opt(filter.family),
    format: opt(filter.format),
    quantization: opt(filter.quantization),
    include_deprecated: opt(filter.includeDeprecated)
  };
}

export function toRunnerFilter(filter: RunnerFilter): RunnerFilterArgs {
  return { model: opt(filter.model), live_only: opt(filter.liveOnly) };
}

export function toTaskFilter(filter: TaskFilter): TaskFilterArgs {
  const principal = (text: string | undefined): Opt<Principal> => opt(text === undefined ? undefined : Principal.fromText(text));
  return { requester: principal(filter.requester), runner: principal(filter.runner), state: opt(filter.state) };
}

export function toPageRequest(page: { after?: string; limit?: number }): PageRequest {
  return { after: opt(page.after), limit: opt(page.limit) };
}

export function toPage<W, T>(page: PageView<W>, item: (wire: W) => T): Page<T> {
  return { items: page.items.map(item), ...optional('next', fromOpt(page.next)) };
}

export function toTaskSummary(item: TaskListItem): TaskSummary {
  return {
    id: item.id,
    requester: item.requester.toText(),
    state: parseTaskState(item.state),
    model: item.model,
    rewardE8s: item.reward_e8s,
    redundancy: item.redundancy,
    createdAtNs: item.created_at_ns,
    deadlineNs: item.deadline_ns,
    runners: item.runners.map((r) => r.toText()),
    results: item.results,
    inputTokens: item.input_tokens,
    outputTokens: item.output_tokens,
    ...optional('reviewEndsAtNs', fromOpt(item.review_ends_at_ns)),
    ...optional('outcome', fromOpt(item.outcome))
  };
}

export function toModelCapacity(stats: ModelStats): ModelCapacity {
  return {
    model: stats.model,
    readyRunners: stats.ready_runners,
    freeSlots: stats.free_slots,
    queueDepth: stats.queue_depth,
    medianInputPricePerMillion: stats.median_input_price_per_million,
    medianOutputPricePerMillion: stats.median_output_price_per_million
  };
}

export function toTaskQuote(q: TaskQuoteView): TaskQuote {
  return {
    model: q.model,
    eligibleRunners: q.eligible_runners,
    minCostE8s: q.min_cost_e8s,
    medianCostE8s: q.median_cost_e8s,
    minBudgetE8s: q.min_budget_e8s,
    medianBudgetE8s: q.median_budget_e8s,
    protocolFeeE8s: q.protocol_fee_e8s,
    expectedEmissionE8s: q.expected_emission_e8s
  };
}

export function toRewardQuote(q: RewardQuoteView): RewardQuote {
  return {
    rewardE8s: q.reward_e8s,
    protocolFeeE8s: q.protocol_fee_e8s,
    perRunnerNetE8s: q.per_runner_net_e8s,
    treasuryNetE8s: q.treasury_net_e8s,
    refundNetE8s: q.refund_net_e8s,
    ledgerFeeE8s: q.ledger_fee_e8s,
    acceptable: q.acceptable
  };
}

/** The ledger the registry escrows rewards on, as text; absent while the registry has no task config. */
export const toLedgerId = (config: TaskConfigView): string | undefined => fromOpt(config.ledger)?.toText();

//#endregion

export { toLedgerBlock, toLedgerLog } from './convert-ledger.js';

export function toBondSettings(view: BondConfigView): BondSettings {
  return {
    amountE8s: view.amount_e8s,
    cooldownSeconds: view.cooldown_seconds,
    slashBps: view.slash_bps,
    expiredLeaseThreshold: view.expired_lease_threshold
  };
}

export function toRunnerBond(view: BondView): RunnerBond {
  const sub = view.account.subaccount[0];
  return {
    runner: view.runner.toText(),
    owner: view.owner.toText(),
    amountE8s: view.amount_e8s,
    lockedE8s: view.locked_e8s,
    state: view.state,
    ...(view.release_at_ns[0] === undefined ? {} : { releaseAtNs: view.release_at_ns[0] }),
    slashes: view.slashes,
    subaccount: sub === undefined ? '' : [...sub].map((b) => b.toString(16).padStart(2, '0')).join('')
  };
}
