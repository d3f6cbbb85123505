import type { KeyValue } from '../kv.js';
import type { RegistryStore } from '../registry/store.js';
import type { BondStore, EpochClose, EpochCreditEntry, EpochWork, Payout, RewardConfig } from './types.js';

/** One bank of an epoch's keyed credits (epochs.ts): consecutive epochs alternate between two banks. */
export interface EpochCreditMaps {
  /** The epoch's credits: `<requester>|<runner>` → fee (at most MAX_EPOCH_CREDITS; epochs.ts). */
  epochCredits: KeyValue<EpochCreditEntry>;
  /** The same credits by size, `<fee, 30 digits>|<seq, 20 digits>` → pair key: the first is the one to replace. */
  epochCreditOrder: KeyValue<string>;
  /** Pairs credited per runner and per runner operator this epoch: id → count (at most MAX_OPERATOR_CREDITS each). */
  epochCreditOperators: KeyValue<number>;
  /** The same credits by runner or operator and size, `<id>|<fee, 30 digits>|<seq, 20 digits>` → pair key. */
  epochCreditOperatorOrder: KeyValue<string>;
}

/** What rewards keep: the payout outbox (payouts still owed, small) and the current epoch's accepted work. */
export interface RewardStore extends BondStore, EpochCreditMaps {
  payouts: KeyValue<Payout>;
  /**
   * The due index of payouts not stuck: `<lane>|<nextAttemptNs, 20 digits>|<id>` → id, lane `a` for payouts never
   * attempted and `b` for retries (payout-schedule.ts), so a pass reads only what is due, earliest first.
   */
  payoutQueue: KeyValue<string>;
  /**
   * The second bank of credit maps (the store's own maps are bank 0): an epoch that ended is settled from its bank in
   * timer steps while the next epoch credits the other (epochs.ts).
   */
  epochCreditsAlt: EpochCreditMaps;
  epochWork(): EpochWork;
  setEpochWork(work: EpochWork): void;
  /** The ended epoch being settled in timer steps, with its cursor (absent: none). */
  epochClose(): EpochClose | undefined;
  setEpochClose(close: EpochClose | undefined): void;
}

/** What settling rewards reads besides: operators, cards and reputation from the registry, and the reward settings. */
export type RewardStores = RegistryStore & RewardStore & { taskConfig(): RewardConfig };
