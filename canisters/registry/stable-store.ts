import { CachedKeyValue, StableKeyValue } from '../common/stable-kv.js';
import {
  DEFAULT_BOND_CONFIG,
  restorePayoutQueue,
  type Bond,
  type BondConfig,
  type EpochClose,
  type EpochCreditEntry,
  type PaidVolume,
  type RejectionPair
} from '../../src/core/rewards/index.js';
import { TaskRecords } from './task-records.js';
import {
  DEFAULT_CREDIT_CONFIG,
  type CreditAccount,
  type CreditConfig,
  type CreditLine,
  type CreditStore
} from '../../src/core/credit/index.js';
import {
  DEFAULT_QUOTAS,
  DiscoveryIndex,
  MAX_AFFINITY_BINDINGS,
  SessionAffinity,
  type AffinityBinding,
  type Quotas,
  type RegistryStore
} from '../../src/core/registry/index.js';
import type {
  Heartbeat,
  Namespace,
  NamespaceMigration,
  QuotaBackfill,
  RegistryConfig,
  Reputation,
  StoredCard,
  StoredRunner
} from '../../src/core/registry/index.js';
import {
  defaultTaskConfig,
  OpenTasks,
  type EpochWork,
  type OpenTask,
  type Payout,
  type ReviewVoteMigration,
  type Stores,
  type TaskConfig,
  type TaskSummary
} from '../../src/core/tasks/index.js';

const CONFIG_KEY = 'config';
const TASK_CONFIG_KEY = 'task-config';
const TASK_COUNTER_KEY = 'task-counter';
const EPOCH_WORK_KEY = 'epoch-work';
/** The ended epoch being settled in timer steps (absent: none). */
const EPOCH_CLOSE_KEY = 'epoch-close';
const QUOTAS_KEY = 'quotas';
/** The quota counters' rebuild cursor; `'done'` once they are complete (absent: state older than the counters). */
const QUOTA_BACKFILL_KEY = 'quota-backfill';
const BOND_CONFIG_KEY = 'bond-config';
/** The namespace migration's cursor; `'done'` once it finished (absent: state from before the cursor existed). */
const NAMESPACE_MIGRATION_KEY = 'namespace-migration';
/** The review-vote migration's cursor; `'done'` once it finished (absent: state from before the recorded vote). */
const REVIEW_VOTE_MIGRATION_KEY = 'review-vote-migration';
const CREDIT_CONFIG_KEY = 'credit-config';
const CREDIT_LINE_COUNTER_KEY = 'credit-line-counter';

type Setting =
  | RegistryConfig
  | TaskConfig
  | EpochWork
  | EpochClose
  | Quotas
  | QuotaBackfill
  | NamespaceMigration
  | ReviewVoteMigration
  | BondConfig
  | CreditConfig
  | 'done'
  | bigint;

/**
 * The registry's durable state: one stable map per collection. Small collections (cards, runners, heartbeats,
 * reputation, open tasks, pending payouts, settings) are also cached in the heap; tasks (large inputs apart, see
 * TaskRecords), their listing summaries and idempotency keys grow without bound and stay in stable memory only. The
 * discovery index is rebuilt in the heap.
 */
export function openStore(): Stores &
  CreditStore & {
    hasConfig(): boolean;
    /** Whether the quota counters' state is recorded (false: state from before the counters, or from before their rebuild). */
    quotaCountersKnown(): boolean;
    /** Whether the namespace migration's state is recorded (false: state from before its cursor). */
    namespaceMigrationKnown(): boolean;
    /** Whether the review-vote migration's state is recorded (false: state from before the recorded vote). */
    reviewVoteMigrationKnown(): boolean;
  } {
  const cards = new CachedKeyValue<StoredCard>(0);
  const runners = new CachedKeyValue<StoredRunner>(1);
  const heartbeats = new CachedKeyValue<Heartbeat>(2);
  const reputation = new CachedKeyValue<Reputation>(3);
  const settings = new CachedKeyValue<Setting>(4);
  const tasks = new TaskRecords(5, 10);
  const summaries = new StableKeyValue<TaskSummary>(9);
  // The claim, wake-up and lease indexes are rebuilt from the open map (at most MAX_OPEN_TASKS) in the heap.
  const open = new OpenTasks(new CachedKeyValue<OpenTask>(6));
  const idempotency = new StableKeyValue<string>(7);
  const payouts = new CachedKeyValue<Payout>(8);
  // Quota counters (`<kind>|<principal>`): one entry per principal holding runners, cards or open tasks.
  const counts = new StableKeyValue<number>(11);
  // The payouts' due index (src/core/rewards/payout-schedule.ts). Memory 20 leaves 11-19 for other indexes.
  const payoutQueue = new CachedKeyValue<string>(20);
  // Lowercase org → owner and delegates (src/core/registry/namespaces.ts). Memory 31: 21-30 are left to other indexes.
  const namespaces = new CachedKeyValue<Namespace>(31);
  // Payouts stored before the index existed get their entry (a no-op once every payout has one).
  restorePayoutQueue({ payouts, payoutQueue });
  // Runner bonds (src/core/rewards/bonds.ts) and their due queue (stale locks, cooldowns). Memories 50+ are bonds'.
  const bonds = new CachedKeyValue<Bond>(50);
  const bondQueue = new CachedKeyValue<string>(51);
  // Credit (src/core/credit): accounts, lines and the by-party index grow with use, so stable only; the queue of work
  // waiting on time (closing lines, lost deposit replies, balances to pay) stays small. Memories 60+ are credit's.
  const creditAccounts = new StableKeyValue<CreditAccount>(60);
  const creditLines = new StableKeyValue<CreditLine>(61);
  const creditIndex = new StableKeyValue<string>(62);
  const creditQueue = new CachedKeyValue<string>(63);
  // The current epoch's emission credits by pair and by size (src/core/rewards/epochs.ts): at most MAX_EPOCH_CREDITS
  // each, cleared when the epoch closes. Memories 70+ are emission's.
  const epochCredits = new CachedKeyValue<EpochCreditEntry>(70);
  const epochCreditOrder = new CachedKeyValue<string>(71);
  // The same credits counted and ordered per runner operator (the per-operator cap), also cleared at each close.
  const epochCreditOperators = new CachedKeyValue<number>(72);
  const epochCreditOperatorOrder = new CachedKeyValue<string>(73);
  // The second bank of the same four maps: consecutive epochs alternate, so an ended epoch is settled from its bank in
  // timer steps while the next one credits the other.
  const epochCreditsAlt = {
    epochCredits: new CachedKeyValue<EpochCreditEntry>(74),
    epochCreditOrder: new CachedKeyValue<string>(75),
    epochCreditOperators: new CachedKeyValue<number>(76),
    epochCreditOperatorOrder: new CachedKeyValue<string>(77)
  };
  // Requester → recent paid volume, and requester|runner → this epoch's accepted tasks and counted rejections (what
  // rejections weigh by and are capped at, src/core/rewards/requester-weight.ts): one entry per paying requester and
  // per pair that dealt, stable only. Memories 90+ are task routing and review's; 90 held paid task counts (superseded
  // by the decaying volume, no longer read).
  const paidVolume = new StableKeyValue<PaidVolume>(91);
  const rejectionPairs = new StableKeyValue<RejectionPair>(92);
  // Affinity bindings (`<requester>\0<key>` → runner) and their binding order (src/core/registry/affinity.ts): at most
  // MAX_AFFINITY_BINDINGS, the least recently bound evicted, stable only so that an upgrade keeps sessions on their runner.
  const affinity = new SessionAffinity(MAX_AFFINITY_BINDINGS, new StableKeyValue<AffinityBinding>(93), new StableKeyValue<string>(94));
  const index = new DiscoveryIndex();
  index.rebuild(
    runners.entries(),
    (id) => heartbeats.get(id),
    (id) => reputation.get(id)
  );
  const store: RegistryStore = {
    cards,
    namespaces,
    runners,
    heartbeats,
    reputation,
    index,
    affinity,
    counts,
    quotas: () => ({ ...DEFAULT_QUOTAS, ...(settings.get(QUOTAS_KEY) as Quotas | undefined) }),
    setQuotas: (quotas) => settings.set(QUOTAS_KEY, quotas),
    quotaBackfill: () => {
      const progress = settings.get(QUOTA_BACKFILL_KEY);
      return progress === undefined || progress === 'done' ? undefined : (progress as QuotaBackfill);
    },
    setQuotaBackfill: (progress) => settings.set(QUOTA_BACKFILL_KEY, progress ?? 'done'),
    namespaceMigration: () => {
      const progress = settings.get(NAMESPACE_MIGRATION_KEY);
      return progress === undefined || progress === 'done' ? undefined : (progress as NamespaceMigration);
    },
    setNamespaceMigration: (progress) => settings.set(NAMESPACE_MIGRATION_KEY, progress ?? 'done'),
    config: () => {
      const config = settings.get(CONFIG_KEY);
      if (config === undefined) throw new Error('registry used before init');
      return config as RegistryConfig;
    },
    setConfig: (config) => settings.set(CONFIG_KEY, config)
  };
  return {
    ...store,
    hasConfig: () => settings.has(CONFIG_KEY),
    quotaCountersKnown: () => settings.has(QUOTA_BACKFILL_KEY),
    namespaceMigrationKnown: () => settings.has(NAMESPACE_MIGRATION_KEY),
    reviewVoteMigrationKnown: () => settings.has(REVIEW_VOTE_MIGRATION_KEY),
    reviewVoteMigration: () => {
      const progress = settings.get(REVIEW_VOTE_MIGRATION_KEY);
      return progress === undefined || progress === 'done' ? undefined : (progress as ReviewVoteMigration);
    },
    setReviewVoteMigration: (progress) => settings.set(REVIEW_VOTE_MIGRATION_KEY, progress ?? 'done'),
    tasks,
    taskWithoutInput: (id) => tasks.getWithoutInput(id),
    summaries,
    open,
    idempotency,
    paidVolume,
    rejectionPairs,
    payouts,
    payoutQueue,
    bonds,
    bondQueue,
    bondConfig: () => (settings.get(BOND_CONFIG_KEY) as BondConfig | undefined) ?? { ...DEFAULT_BOND_CONFIG },
    setBondConfig: (config) => settings.set(BOND_CONFIG_KEY, config),
    creditAccounts,
    creditLines,
    creditIndex,
    creditQueue,
    // A config stored before a field existed takes that field's default.
    creditConfig: () => ({ ...DEFAULT_CREDIT_CONFIG, ...(settings.get(CREDIT_CONFIG_KEY) as CreditConfig | undefined) }),
    setCreditConfig: (config) => settings.set(CREDIT_CONFIG_KEY, config),
    nextCreditLineId: () => {
      const next = ((settings.get(CREDIT_LINE_COUNTER_KEY) as bigint | undefined) ?? 0n) + 1n;
      settings.set(CREDIT_LINE_COUNTER_KEY, next);
      return next;
    },
    taskConfig: () => (settings.get(TASK_CONFIG_KEY) as TaskConfig | undefined) ?? defaultTaskConfig(),
    setTaskConfig: (config) => settings.set(TASK_CONFIG_KEY, config),
    lastTaskNumber: () => (settings.get(TASK_COUNTER_KEY) as bigint | undefined) ?? 0n,
    nextTaskNumber: () => {
      const next = ((settings.get(TASK_COUNTER_KEY) as bigint | undefined) ?? 0n) + 1n;
      settings.set(TASK_COUNTER_KEY, next);
      return next;
    },
    epochCredits,
    epochCreditOrder,
    epochCreditOperators,
    epochCreditOperatorOrder,
    epochCreditsAlt,
    epochClose: () => settings.get(EPOCH_CLOSE_KEY) as EpochClose | undefined,
    setEpochClose: (close) => (close === undefined ? settings.delete(EPOCH_CLOSE_KEY) : settings.set(EPOCH_CLOSE_KEY, close)),
    epochWork: () => (settings.get(EPOCH_WORK_KEY) as EpochWork | undefined) ?? { epoch: 0n },
    setEpochWork: (work) => settings.set(EPOCH_WORK_KEY, work)
  };
}
