import { DEFAULT_MIN_PROTOCOL_FEE_E8S } from '../rewards/pricing.js';

/** Bounds of task inputs; every violation is a typed Err. */
export const MAX_INLINE_INPUT_BYTES = 256 * 1024;
export const MAX_OUTPUT_BYTES = 256 * 1024;
export const MAX_REFERENCE_LENGTH = 512;
export const MAX_IDEMPOTENCY_KEY_LENGTH = 128;
export const MAX_REASON_LENGTH = 512;
export const MAX_REDUNDANCY = 7;
export const MAX_OUTPUT_TOKENS = 1_000_000;
export const MAX_OPEN_TASKS = 10_000;
export const MAX_DEADLINE_NS = 7n * 24n * 3600n * 1_000_000_000n;
export const MAX_CLAIMABLE_PAGE = 50;
export const SECOND_NS = 1_000_000_000n;

export const DEFAULT_TASK_CONFIG = {
  protocolFeeBps: 500,
  ledgerFeeE8s: 10_000n,
  leaseNs: 120n * SECOND_NS,
  reviewWindowNs: 600n * SECOND_NS,
  minRewardE8s: 100_000n,
  /** The protocol fee's floor per accepted task (src/core/rewards/pricing.ts). */
  minProtocolFeeE8s: DEFAULT_MIN_PROTOCOL_FEE_E8S,
  emissionPerEpochE8s: 0n,
  epochNs: 3600n * SECOND_NS,
  /** One requester's work earns at most 20 % of an epoch's emission (README "Emission"). */
  emissionRequesterCapBps: 2_000,
  routingWindowNs: 3n * SECOND_NS
} as const;

/** Longest routing window an admin may set: a preferred runner that does not claim delays the task by at most this. */
export const MAX_ROUTING_WINDOW_NS = 60n * SECOND_NS;
/** Most runners a task is offered to first (at least twice its redundancy, at least 3). */
export const MAX_PREFERRED_RUNNERS = 8;

/** Distinct operators whose failures (reported or expired leases) give up a task that has no result (refunded). */
export const MAX_FAILURES = 3;

/** An escrow still `escrowing` this long after submission (or after its last retry) had its reply lost: it is retried. */
export const STALE_ESCROW_NS = 120n * SECOND_NS;
