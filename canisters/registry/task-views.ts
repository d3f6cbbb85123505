import { Principal } from 'azle';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils';

import { principalOf } from '../common/principals.js';

import type { FindRequest, Reputation } from '../../src/core/registry/index.js';
import type { PayAccount, Payout, RewardQuote, Task, TaskConfig, TaskResult } from '../../src/core/tasks/index.js';
import { routingWindowNs } from '../../src/core/tasks/index.js';
import {
  accountProblem,
  DEFAULT_REQUESTER_CAP_BPS,
  minProtocolFeeOf,
  nextAttemptOf,
  normalizePayout,
  payoutState
} from '../../src/core/rewards/index.js';
import { fromOpt as some, opt, type Opt } from '../../src/interface/candid.js';
import type {
  Account,
  FindRequest as FindRequestArgs,
  PayoutView,
  ReputationView,
  RewardQuote as RewardQuoteView,
  TaskConfigView,
  TaskResultView,
  TaskView
} from '../../src/interface/registry/index.js';

/** Core task records ↔ the Candid values of src/interface/registry. */

export function accountOut(account: PayAccount): { owner: Principal; subaccount: Opt<Uint8Array> } {
  return { owner: Principal.fromText(account.owner), subaccount: account.subaccount === undefined ? [] : [hexToBytes(account.subaccount)] };
}

export function accountIn(account: Account): PayAccount {
  const sub = some(account.subaccount);
  return sub === undefined
    ? { owner: account.owner.toText() }
    : { owner: account.owner.toText(), subaccount: bytesToHex(Uint8Array.from(sub)) };
}

export function findRequestOf(request: FindRequestArgs): FindRequest {
  const minContext = some(request.min_context);
  return {
    model: some(request.model),
    family: some(request.family),
    minContext: minContext === undefined ? undefined : Number(minContext),
    quantizations: some(request.quantizations),
    minBits: some(request.min_bits),
    inputModality: some(request.input_modality),
    outputModality: some(request.output_modality),
    capabilities: some(request.capabilities),
    engine: some(request.engine),
    acceleratorClass: some(request.accelerator_class),
    region: some(request.region),
    maxInputPricePerMillion: some(request.max_input_price_per_million),
    maxOutputPricePerMillion: some(request.max_output_price_per_million),
    endpointRequired: some(request.endpoint_required),
    confidentialRequired: some(request.confidential_required),
    affinityKey: some(request.affinity_key),
    limit: some(request.limit),
    digests: some(request.digests ?? [])
  };
}

export function findRequestArgsOf(r: FindRequest): FindRequestArgs {
  return {
    model: opt(r.model),
    family: opt(r.family),
    min_context: opt(r.minContext === undefined ? undefined : BigInt(r.minContext)),
    quantizations: opt(r.quantizations),
    min_bits: opt(r.minBits),
    input_modality: opt(r.inputModality),
    output_modality: opt(r.outputModality),
    capabilities: opt(r.capabilities),
    engine: opt(r.engine),
    accelerator_class: opt(r.acceleratorClass),
    region: opt(r.region),
    max_input_price_per_million: opt(r.maxInputPricePerMillion),
    max_output_price_per_million: opt(r.maxOutputPricePerMillion),
    endpoint_required: opt(r.endpointRequired),
    confidential_required: opt(r.confidentialRequired),
    affinity_key: opt(r.affinityKey),
    limit: opt(r.limit),
    digests: opt(r.digests)
  };
}

export function taskResultView(r: TaskResult): TaskResultView {
  return {
    runner: principalOf(r.runner),
    output_digest: r.outputDigest,
    output: opt(r.output),
    reference: opt(r.reference),
    input_tokens: r.inputTokens,
    output_tokens: r.outputTokens,
    first_token_ms: r.firstTokenMs,
    total_ms: r.totalMs,
    at_ns: r.atNs,
    measured_total_ms: opt(r.measuredMs === undefined ? undefined : BigInt(r.measuredMs)),
    cost_e8s: opt(r.costE8s)
  };
}

export function taskView(task: Task): TaskView {
  return {
    id: task.id,
    requester: principalOf(task.requester),
    state: task.state,
    model: task.request.model,
    request: findRequestArgsOf(task.request),
    input: { inline: opt(task.input.inline), digest: opt(task.input.digest), reference: opt(task.input.reference) },
    limits: { max_output_tokens: task.limits.maxOutputTokens, temperature: opt(task.limits.temperature), seed: opt(task.limits.seed) },
    reward_e8s: task.rewardE8s,
    deadline_ns: task.deadlineNs,
    redundancy: task.redundancy,
    created_at_ns: task.createdAtNs,
    escrow_block: opt(task.escrowBlock),
    leases: task.leases.map((l) => ({ runner: principalOf(l.runner), claimed_at_ns: l.claimedAtNs, expires_at_ns: l.expiresAtNs })),
    results: task.results.map(taskResultView),
    failures: task.failures.map((f) => ({ runner: principalOf(f.runner), reason: f.reason, at_ns: f.atNs })),
    review_ends_at_ns: opt(task.reviewEndsAtNs),
    paid_runners: (task.paidRunners ?? []).map((r) => principalOf(r)),
    outcome: opt(task.outcome)
  };
}

export function quoteView(q: RewardQuote): RewardQuoteView {
  return {
    reward_e8s: q.rewardE8s,
    protocol_fee_e8s: q.protocolFeeE8s,
    per_runner_net_e8s: q.perRunnerNetE8s,
    treasury_net_e8s: q.treasuryNetE8s,
    refund_net_e8s: q.refundNetE8s,
    ledger_fee_e8s: q.ledgerFeeE8s,
    acceptable: q.acceptable
  };
}

export function taskConfigView(c: TaskConfig, escrow: PayAccount | undefined): TaskConfigView {
  return {
    ledger: opt(c.ledger === undefined ? undefined : Principal.fromText(c.ledger)),
    treasury: opt(c.treasury === undefined ? undefined : accountOut(c.treasury)),
    escrow: opt(escrow === undefined ? undefined : accountOut(escrow)),
    protocol_fee_bps: c.protocolFeeBps,
    ledger_fee_e8s: c.ledgerFeeE8s,
    lease_ns: c.leaseNs,
    review_window_ns: c.reviewWindowNs,
    min_reward_e8s: c.minRewardE8s,
    emission_per_epoch_e8s: c.emissionPerEpochE8s,
    epoch_ns: c.epochNs,
    emission_requester_cap_bps: c.emissionRequesterCapBps ?? DEFAULT_REQUESTER_CAP_BPS,
    routing_window_ns: routingWindowNs(c),
    min_protocol_fee_e8s: [minProtocolFeeOf(c)]
  };
}

/**
 * Never throws, so a listing cannot trap: an account that cannot be encoded (a bad owner text stored before operators
 * were checked) reads as the anonymous principal; its payout is stuck with a last error that names the text.
 */
function safeAccountOut(account: PayAccount): { owner: Principal; subaccount: Opt<Uint8Array> } {
  if (accountProblem(account) !== undefined) return { owner: Principal.anonymous(), subaccount: [] };
  return accountOut(account);
}

export function payoutView(stored: Payout): PayoutView {
  const p = normalizePayout(stored);
  return {
    id: p.id,
    kind: p.kind,
    task_id: opt(p.taskId),
    to: safeAccountOut(p.to),
    amount_e8s: p.amountE8s,
    created_at_ns: p.createdAtNs,
    attempts: p.attempts,
    last_error: opt(p.lastError),
    state: payoutState(p),
    next_attempt_ns: p.stuck === true ? [] : [nextAttemptOf(p)]
  };
}

export function reputationView(r: Reputation): ReputationView {
  return {
    completed: r.completed,
    failed: r.failed,
    rejected: r.rejected,
    expired_leases: r.expiredLeases,
    latency_ms_ema: r.latencyMsEma
  };
}

/** Candid argument values of the task methods, as @dfinity/candid decodes them. */
export const hex = (bytes: Uint8Array | number[]): string => bytesToHex(Uint8Array.from(bytes));
