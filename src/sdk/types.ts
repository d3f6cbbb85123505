import type { Principal } from '@dfinity/principal';

import type { FindRequest } from '../core/registry/discovery.js';
import type { Breakdown } from '../core/registry/ranking.js';
import type { Reputation } from '../core/registry/types.js';
import type { RewardQuote } from '../core/rewards/economics.js';
import type { TaskQuote } from '../core/tasks/quote.js';

/** The registry's own types, as the SDK hands them out. */
export type { Reputation, RewardQuote, TaskQuote };
/** How a candidate's score was made: each ranking component in [0, 1]. */
export type ScoreBreakdown = Breakdown;

/** One page of a registry listing; `next` is the cursor of the following page (absent on the last). */
export interface Page<T> {
  items: T[];
  next?: string;
}

/** Live capacity of one model across its ready runners (the registry's `stats`). */
export interface ModelCapacity {
  model: string;
  readyRunners: number;
  freeSlots: number;
  queueDepth: number;
  medianInputPricePerMillion: bigint;
  medianOutputPricePerMillion: bigint;
}

export interface RunnerFilter {
  model?: string;
  liveOnly?: boolean;
}

/** A model card as the registry publishes it, camelCase (the manifest itself is core's ModelCard, in `manifestJson`). */
export interface PublishedModel {
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
  heartbeatAgeNs: bigint;
  breakdown: ScoreBreakdown;
  /** The runner's confidential-computing claim (`none`, `sev-snp`, …); unverified claims do not pass `confidentialRequired`. */
  confidentialKind: string;
  confidentialVerified: boolean;
  /** The context (tokens) the runner serves the model with, as it registered it (absent from an older registry). */
  servedContext?: bigint;
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
  /** The confidential-computing claim; `verified` is false until the registry verifies its attestation evidence. */
  confidential: { kind: string; evidenceDigest?: string; verified: boolean };
  /** What the runner's bond holds (absent: no bond, bonds were off when it registered) and its state. */
  bondE8s?: bigint;
  bondState?: string;
  /** Whether the operator it names accepted being named; until then its pay goes to the runner itself. */
  operatorAccepted: boolean;
}

/** The registry's runner bond settings (`amountE8s` is locked at registration while a ledger is configured; 0 = off). */
export interface BondSettings {
  amountE8s: bigint;
  cooldownSeconds: bigint;
  slashBps: number;
  expiredLeaseThreshold: number;
}

/** A runner's bond: `locking`, `locked`, or `unbonding` until `releaseAtNs`; what it holds after slashes. */
export interface RunnerBond {
  runner: string;
  owner: string;
  amountE8s: bigint;
  lockedE8s: bigint;
  state: string;
  releaseAtNs?: bigint;
  slashes: number;
  /** The registry subaccount (hex) that holds it. */
  subaccount: string;
}

/** A ledger account: a principal (object or text), or an owner with a 32-byte subaccount. */
export type AccountLike = Principal | string | { owner: Principal | string; subaccount?: Uint8Array };

/** One ICRC-3 block, decoded from the ICRC-1/2 block schema (btype, ts, tx.{from,to,spender,amt,fee,memo}). */
export interface LedgerBlock {
  id: bigint;
  /** transfer, mint, burn, approve, transfer_from, or the block type as written. */
  kind: string;
  atNs?: bigint;
  /** Account text: the principal, then `.` and the subaccount in hex when it is not the default one. */
  from?: string;
  to?: string;
  amountE8s?: bigint;
  feeE8s?: bigint;
  /** The memo as text when it is printable ASCII, else hex. */
  memo?: string;
}

/** The newest blocks of a ledger's ICRC-3 log. */
export interface LedgerLog {
  length: bigint;
  blocks: LedgerBlock[];
}
