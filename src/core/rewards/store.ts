import type { KeyValue } from '../kv.js';
import type { RegistryStore } from '../registry/store.js';
import type { BondStore, EpochWork, Payout, RewardConfig } from './types.js';

/** What rewards keep: the payout outbox (payouts still owed, small) and the current epoch's accepted work. */
export interface RewardStore extends BondStore {
  payouts: KeyValue<Payout>;
  /**
   * The due index of payouts not stuck: `<lane>|<nextAttemptNs, 20 digits>|<id>` → id, lane `a` for payouts never
   * attempted and `b` for retries (payout-schedule.ts), so a pass reads only what is due, earliest first.
   */
  payoutQueue: KeyValue<string>;
  epochWork(): EpochWork;
  setEpochWork(work: EpochWork): void;
}

/** What settling rewards reads besides: operators, cards and reputation from the registry, and the reward settings. */
export type RewardStores = RegistryStore & RewardStore & { taskConfig(): RewardConfig };
