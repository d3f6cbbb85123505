import type { FindRequest } from '../registry/discovery.js';
import type { Prices } from '../rewards/pricing.js';
import type { PayAccount, RewardConfig } from '../rewards/types.js';

// Payouts, accounts and epoch work belong to rewards; a task names the account its refund goes to.
export type { EpochWork, PayAccount, Payout, PayoutKind } from '../rewards/types.js';

import type { TaskState } from './states.js';

export { TASK_STATES, TERMINAL_STATES, isTaskState, type TaskState } from './states.js';

export interface TaskInput {
  /** The prompt itself (bounded), or … */
  inline?: string;
  /** … its sha256 (`sha256:<hex>`) and where to fetch it. */
  digest?: string;
  reference?: string;
}

export interface GenerationLimits {
  maxOutputTokens: number;
  /** Required (0) with redundancy > 1, so that honest runners agree. */
  temperature?: number;
  seed?: bigint;
}

export interface Lease {
  runner: string;
  claimedAtNs: bigint;
  expiresAtNs: bigint;
  /** The prices the leased deployment posted at the claim: the runner is paid by them (leases before pricing: none). */
  prices?: Prices;
  /** The leased deployment's served context, which bounds the input tokens the runner may report. */
  servedContext?: number;
  /**
   * The runner's effective operator when it leased: a redundant task counts it once per operator even if the runner
   * later leaves (and so becomes its own operator) or names another one (leases before it existed: none).
   */
  operator?: string;
}

export interface TaskResult {
  runner: string;
  /** `sha256:<hex>` of the output; redundant results are compared by it. */
  outputDigest: string;
  output?: string;
  reference?: string;
  inputTokens: bigint;
  outputTokens: bigint;
  /** Time to first token and total generation time, as the runner reported them: informational only. */
  firstTokenMs: number;
  totalMs: number;
  atNs: bigint;
  /** Lease to completion on the registry's clock, in ms: the latency reputation and ranking use. */
  measuredMs?: number;
  /** Metered tokens × the lease's prices (src/core/rewards/pricing.ts); results before pricing: none. */
  costE8s?: bigint;
  /** The prices the lease fixed (absent on results stored before they were kept: paid `costE8s`). */
  prices?: Prices;
  /** The lease's operator (Lease.operator): the vote counts it besides the runner's operator at settlement. */
  operator?: string;
}

/** A vote's outcome: the winning digest and the runners of its results, or no majority (and how the results voted). */
export interface ReviewVote {
  digest?: string;
  winners: string[];
  /** Without a majority: each digest's operators, bond and weight, for the escalation's or dispute's outcome. */
  votes?: string;
}

export interface TaskFailure {
  runner: string;
  reason: string;
  atNs: bigint;
  /** The lease's operator (Lease.operator). */
  operator?: string;
}

export interface Task {
  id: string;
  requester: string;
  refundTo: PayAccount;
  idempotencyKey: string;
  request: FindRequest & { model: string };
  input: TaskInput;
  limits: GenerationLimits;
  /** The requester's budget (README "Pricing"): escrowed whole, the metered cost is paid from it, the rest refunded. */
  rewardE8s: bigint;
  /** The most input tokens the input can be (src/core/tasks/usage.ts), fixed at submit; absent: by reference. */
  inputTokenBound?: number;
  deadlineNs: bigint;
  redundancy: number;
  /**
   * Results asked for beyond `redundancy` by escalations (src/core/tasks/escalation.ts): results that agreed on no
   * majority reopen the task for more, bounded; absent until the first escalation.
   */
  extraResults?: number;
  state: TaskState;
  createdAtNs: bigint;
  escrowBlock?: bigint;
  leases: Lease[];
  results: TaskResult[];
  failures: TaskFailure[];
  reviewEndsAtNs?: bigint;
  /**
   * The vote as it stood when the task entered review, which is when the requester may first read the majority's
   * output: accept, reject and the review's end settle by it, never by weights recomputed at decision time
   * (settlement.ts `enterReview`). Absent outside review, and on tasks that entered review before it was recorded.
   */
  reviewVote?: ReviewVote;
  /** Runners whose result is paid (the majority digest), once settled as accepted. */
  paidRunners?: string[];
  settledAtNs?: bigint;
  /** Why the task ended, for terminal states; while an escalation runs, why it was escalated. */
  outcome?: string;
  /**
   * The best-ranked eligible runners at submit (affinity first): until `openToAllAtNs` only they may lease the task
   * (src/core/tasks/routing.ts).
   */
  preferred?: string[];
  openToAllAtNs?: bigint;
}

/**
 * What a task listing shows, kept beside each task so that listing never reads a task's input or outputs (a task
 * with a 256 KiB input costs ~450M instructions to read back in the canister; its summary, a few hundred bytes).
 */
export interface TaskSummary {
  id: string;
  requester: string;
  state: TaskState;
  model: string;
  rewardE8s: bigint;
  redundancy: number;
  createdAtNs: bigint;
  deadlineNs: bigint;
  /** Runners that leased, completed or failed the task, in first-seen order. */
  runners: string[];
  results: number;
  inputTokens: bigint;
  outputTokens: bigint;
  reviewEndsAtNs?: bigint;
  outcome?: string;
}

/** What the task queue keeps in the heap for claims and timers (the full task stays in stable memory). */
export interface OpenTask {
  model: string;
  state: TaskState;
  deadlineNs: bigint;
  /** The results the task waits for: its redundancy plus what escalations asked for (escalation.ts `neededResults`). */
  redundancy: number;
  leases: Lease[];
  /** Runners that already returned a result or failed: they may not lease the task again. */
  done: string[];
  /** The operators those runners had when they leased (Lease.operator): no other runner of theirs may lease it. */
  doneOperators?: string[];
  /** Results in so far (a task needs `redundancy` of them). */
  results: number;
  reviewEndsAtNs?: bigint;
  /**
   * While escrowing: when to retry the escrow if its reply never came back (a trap, an upgrade in between). Set at
   * submission (created + STALE_ESCROW_NS) and pushed back before each retry; tasks stored before it existed have none
   * (retried at once).
   */
  escrowRetryAtNs?: bigint;
  /**
   * The request's other requirements (engine, context, prices, …), so that a claim matches a task against the runner's
   * deployment without reading the task (and its input). Open tasks stored before this field existed have none.
   */
  filters?: Omit<FindRequest, 'model'>;
  /** While queued: the runners offered the task first, and when it opens to every eligible runner. */
  preferred?: string[];
  openToAllAtNs?: bigint;
  /** What a claim checks a runner's prices against without reading the task (tasks stored before pricing: none). */
  pricing?: OpenPricing;
  /**
   * While an escalation is queued: the requester (the owner of its refund account too). No runner that is it or whose
   * operator is it may claim the escalation's places (escalation.ts `excludedOperators`).
   */
  excluded?: string[];
}

export interface OpenPricing {
  inputTokenBound?: number;
  maxOutputTokens: number;
  /** The most one runner may charge (src/core/rewards/pricing.ts `perRunnerCostCapE8s`). */
  costCapE8s: bigint;
}

/** The task settings: the reward settings (treasury, fees, minimum reward, emission) and the queue's. */
export interface TaskConfig extends RewardConfig {
  /** Ledger canister id; tasks are disabled until it is set. */
  ledger?: string;
  leaseNs: bigint;
  reviewWindowNs: bigint;
  /** How long a queued task is offered only to its `preferred` runners (absent in configs stored before it existed). */
  routingWindowNs?: bigint;
}

/** The review-vote migration's cursor (review-vote-migration.ts): the last open task id it looked at; absent: none yet. */
export interface ReviewVoteMigration {
  after?: string;
}
