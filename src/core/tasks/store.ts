import { MemoryKeyValue, type KeyValue } from '../kv.js';
import type { RegistryStore } from '../registry/store.js';
import { DEFAULT_BOND_CONFIG, type BondConfig } from '../rewards/bonds.js';
import type { PaidVolume, RejectionPair } from '../rewards/requester-weight.js';
import type { RewardStore } from '../rewards/store.js';
import { DEFAULT_TASK_CONFIG } from './limits.js';
import { OpenTasks } from './open-tasks.js';
import type { EpochClose } from '../rewards/types.js';
import type { EpochWork, ReviewVoteMigration, Task, TaskConfig, TaskSummary } from './types.js';

/**
 * Task state, with the rewards' (pending payouts, epoch work). Full tasks live in stable memory only; `open`
 * (unsettled tasks) and `payouts` (pending) stay small.
 */
export interface TaskStore extends RewardStore {
  tasks: KeyValue<Task>;
  /** A summary per task, written with it (`saveTask`); tasks stored before summaries existed have none. */
  summaries: KeyValue<TaskSummary>;
  /** Unsettled tasks with their claim, wake-up and lease indexes (src/core/tasks/open-tasks.ts). */
  open: OpenTasks;
  /**
   * A task without its large inline input (kept in a map of its own in the canister), for steps that neither show nor
   * change the input (the timer's): `tasks.set` of what it returns keeps the stored input.
   */
  taskWithoutInput(id: string): Task | undefined;
  /** `<requester>|<idempotency key>` → task id. */
  idempotency: KeyValue<string>;
  /**
   * Requester → the protocol fees of its accepted work for runners it does not deal with itself through, decaying per
   * epoch: the recent paid volume its rejections weigh by (src/core/rewards/requester-weight.ts).
   */
  paidVolume: KeyValue<PaidVolume>;
  /** `<requester>|<runner>` → this epoch's accepted tasks and counted rejections of the pair (requester-weight.ts). */
  rejectionPairs: KeyValue<RejectionPair>;
  taskConfig(): TaskConfig;
  setTaskConfig(config: TaskConfig): void;
  /** Returns the next task number and advances the counter. */
  nextTaskNumber(): bigint;
  /** The number of the newest task (0 before the first); reading it does not advance the counter. */
  lastTaskNumber(): bigint;
  /** Where the review-vote migration stands (review-vote-migration.ts), or undefined when none is running. */
  reviewVoteMigration(): ReviewVoteMigration | undefined;
  setReviewVoteMigration(next: ReviewVoteMigration | undefined): void;
}

/** Everything the task lifecycle reads and writes: the registry (runners, cards, reputation) and the tasks. */
export type Stores = RegistryStore & TaskStore;

export function defaultTaskConfig(): TaskConfig {
  return { ...DEFAULT_TASK_CONFIG };
}

export function memoryTaskStore(): TaskStore {
  let config = defaultTaskConfig();
  let counter = 0n;
  let work: EpochWork = { epoch: 0n };
  let close: EpochClose | undefined;
  let bondConfig: BondConfig = { ...DEFAULT_BOND_CONFIG };
  let reviewVoteMigration: ReviewVoteMigration | undefined;
  const tasks = new MemoryKeyValue<Task>();
  return {
    tasks,
    taskWithoutInput: (id) => tasks.get(id),
    summaries: new MemoryKeyValue(),
    open: new OpenTasks(new MemoryKeyValue()),
    idempotency: new MemoryKeyValue(),
    paidVolume: new MemoryKeyValue(),
    rejectionPairs: new MemoryKeyValue(),
    payouts: new MemoryKeyValue(),
    payoutQueue: new MemoryKeyValue(),
    taskConfig: () => config,
    setTaskConfig: (next) => {
      config = next;
    },
    nextTaskNumber: () => ++counter,
    lastTaskNumber: () => counter,
    reviewVoteMigration: () => reviewVoteMigration,
    setReviewVoteMigration: (next) => {
      reviewVoteMigration = next;
    },
    bonds: new MemoryKeyValue(),
    bondQueue: new MemoryKeyValue(),
    bondConfig: () => bondConfig,
    setBondConfig: (next) => {
      bondConfig = next;
    },
    epochCredits: new MemoryKeyValue(),
    epochCreditOrder: new MemoryKeyValue(),
    epochCreditOperators: new MemoryKeyValue(),
    epochCreditOperatorOrder: new MemoryKeyValue(),
    epochCreditsAlt: {
      epochCredits: new MemoryKeyValue(),
      epochCreditOrder: new MemoryKeyValue(),
      epochCreditOperators: new MemoryKeyValue(),
      epochCreditOperatorOrder: new MemoryKeyValue()
    },
    epochClose: () => close,
    setEpochClose: (next) => {
      close = next;
    },
    epochWork: () => work,
    setEpochWork: (next) => {
      work = next;
    }
  };
}

/** Task ids sort in creation order (fixed width), so the queue is served first come, first served. */
export const taskId = (n: bigint): string => `task-${n.toString().padStart(12, '0')}`;
