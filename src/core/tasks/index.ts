/** The task queue and lifecycle: pure functions of (store, caller, now, args), shared by the registry canister and tests. */
export { submitTask, escrowConfirmed, escrowFailed, type SubmitArgs } from './submit.js';
export { claimTask, claimableFor, openPlaces, MAX_CLAIM_SKIPS } from './claim.js';
export { OpenTasks, indexKeysOf, wakeAtNs, padNs, type IndexKeys } from './open-tasks.js';
export { completeTask, completionLease, failTask, type ResultArgs } from './report.js';
export { acceptTask, majorityDigest, rejectTask, settle, votersOf, type Voter } from './settlement.js';
export { ESCALATION_WINDOW_NS, escalationStep, maxExtraResults, neededResults } from './escalation.js';
export { tick, MAX_TASKS_PER_TICK, type TickReport } from './tick.js';
export { retryRefusalIsFinal, staleEscrows, ESCROW_RETRIES_PER_RUN } from './stale-escrows.js';
export { saveTask } from './save-task.js';
export { migrateReviewVotes, startReviewVoteMigration } from './review-vote-migration.js';
export {
  givenUp,
  offeredTo,
  openOnPreferredFailure,
  preferredCount,
  preferredRunners,
  routingWindowNs,
  MAX_ROUTING_CANDIDATES
} from './routing.js';
export { HIDDEN_DIGEST, redactTask, taskAccess, taskFor, type TaskAccess } from './privacy.js';
export { checkSubmit, checkSubmitBounds } from './submit.js';
export { quoteTask, type QuoteArgs, type TaskQuote } from './quote.js';
export { defaultTaskConfig, memoryTaskStore, taskId, type Stores, type TaskStore } from './store.js';
export * from './limits.js';
export { MAX_BYTES_PER_TOKEN, MIN_REFERENCE_OUTPUT_TOKENS } from './usage.js';
export * from './types.js';
export { setTaskConfig, type TaskConfigInput } from './config.js';
export { listTasks, summarizeTask, MAX_TASK_SCAN, type TaskFilter } from './listing.js';
// The quote a submit is checked against, and what the registry's task methods show of it (src/core/rewards).
export { quoteReward, type RewardQuote } from '../rewards/economics.js';
