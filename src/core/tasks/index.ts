/** Tasks and rewards: pure functions of (store, caller, now, args), shared by the registry canister and tests. */
export {
  claimTask,
  completeTask,
  escrowConfirmed,
  escrowFailed,
  failTask,
  openPlaces,
  saveTask,
  submitTask,
  type ResultArgs,
  type Stores,
  type SubmitArgs
} from './lifecycle.js';
export {
  acceptTask,
  closeEpoch,
  duePayouts,
  majorityDigest,
  payoutDone,
  payoutRetry,
  payoutStuck,
  rejectTask,
  settle,
  tick,
  MAX_TASKS_PER_TICK
} from './settlement.js';
export { quoteReward, splitEmission, splitReward, workUnits, type RewardQuote } from './economics.js';
export { defaultTaskConfig, memoryTaskStore, taskId, type TaskStore } from './store.js';
export * from './limits.js';
export * from './types.js';
export { setTaskConfig, type TaskConfigInput } from './config.js';
export { listTasks, summarizeTask, MAX_TASK_SCAN, type TaskFilter } from './listing.js';
