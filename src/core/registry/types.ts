import type { ModelCard, RunnerManifest } from '../manifest/index.js';

/** Runner states a heartbeat reports (issue 3). Only `ready` and `busy` runners are discoverable. */
export const RUNNER_STATES = ['loading', 'ready', 'busy', 'draining', 'maintenance'] as const;
export type RunnerState = (typeof RUNNER_STATES)[number];

export function isRunnerState(value: string): value is RunnerState {
  return (RUNNER_STATES as readonly string[]).includes(value);
}

export interface StoredCard {
  card: ModelCard;
  publishedBy: string;
  publishedAtNs: bigint;
  deprecated?: { reason: string; atNs: bigint; by: string };
}

/** Who publishes under an org (src/core/registry/namespaces.ts). */
export interface Namespace {
  /** The org as first spelled (keys are lowercase). */
  name: string;
  owner: string;
  /** Principals the owner lets publish under the namespace too. */
  delegates: string[];
  sinceNs: bigint;
  /** How the owner got it: first to publish, assigned by an admin, or migrated from cards published before namespaces. */
  how: 'published' | 'assigned' | 'migrated';
}

export interface StoredRunner {
  /** Textual principal of the runner's own identity (the key). */
  id: string;
  manifest: RunnerManifest;
  registeredAtNs: bigint;
  updatedAtNs: bigint;
  suspended?: { reason: string; atNs: bigint; by: string };
  /**
   * When the operator the manifest names accepted being named (`accept_operator`). Until then payouts go to the
   * runner itself, and the runner counts as its own operator (quotas, distinct-operator redundancy, votes). A runner
   * that names itself needs no acceptance. Cleared when the manifest names another operator.
   */
  operatorAcceptedAtNs?: bigint;
}

export interface Heartbeat {
  state: RunnerState;
  busySlots: number;
  queueDepth: number;
  tokensPerSecond: number;
  /** Fraction of the KV cache in use, 0..1. */
  kvCacheUsage: number;
  atNs: bigint;
}

/** Per-runner outcome counters, fed by tasks (issue 5); neutral until then. */
export interface Reputation {
  completed: number;
  failed: number;
  rejected: number;
  expiredLeases: number;
  /** Exponential moving average of the latency the registry measured (lease to result), ms; 0 = none measured. */
  latencyMsEma: number;
  /**
   * Results accepted and paid for requesters that are neither the runner, its operator nor a runner of that operator,
   * with a protocol fee paid: the only completions a vote weighs (absent: none yet, or stored before it existed).
   */
  independentAccepted?: number;
  /**
   * Requester rejections not yet counted in `rejected`, in thousandths: each weighs by its requester's paid history
   * (src/core/rewards/reputation.ts `requesterRejectionWeight`), and every full thousand counts one rejection.
   */
  rejectionMilli?: number;
}

export interface RegistryConfig {
  admins: string[];
  /** A runner whose last heartbeat is older than this drops out of discovery. */
  heartbeatTtlNs: bigint;
  /** The interval runners are told to heartbeat at (the TTL allows a few missed beats). */
  heartbeatIntervalNs: bigint;
}

export const DEFAULT_HEARTBEAT_INTERVAL_NS = 60n * 1_000_000_000n;
export const DEFAULT_HEARTBEAT_TTL_NS = 3n * DEFAULT_HEARTBEAT_INTERVAL_NS;

/**
 * Per-caller shares of the registry's global caps (MAX_RUNNERS, MAX_OPEN_TASKS, MAX_CARDS), so that one principal
 * cannot fill a cap for everyone. Counted in stored counters (`counts`), updated where the counted things are
 * created and removed: a check costs one read, never a scan.
 */
export interface Quotas {
  runnersPerOperator: number;
  openTasksPerRequester: number;
  cardsPerPublisher: number;
}

export const DEFAULT_QUOTAS: Readonly<Quotas> = { runnersPerOperator: 50, openTasksPerRequester: 500, cardsPerPublisher: 200 };
