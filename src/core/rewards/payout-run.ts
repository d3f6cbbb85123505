import { beginAttempt, duePayouts, recordVerdict } from './outbox.js';
import { planTransfer, type PayoutTransfer } from './payout-policy.js';
import type { RewardStore } from './store.js';
import type { Payout } from './types.js';

/** Ledger calls one payout run makes at most (they go out together, each with its own reply). */
export const PAYOUT_CALLS_PER_RUN = 64;
/** Due payouts one run looks at at most (unpayable ones are marked stuck without a call, so they use no call slot). */
export const PAYOUT_VISITS_PER_RUN = 2_000;

export interface PayoutRunOptions {
  maxCalls?: number;
  maxVisits?: number;
  /** The registry's principal: its default account is the minting account, so a payment there would burn. */
  registryId?: string;
  /** Whether to skip a payout (its call from an earlier run is still awaiting its reply). */
  skip?: (id: string) => boolean;
  /** Whether the run's instruction budget is spent (a performance counter in the canister). */
  outOfBudget?: () => boolean;
}

export interface PayoutRun {
  /** Payouts whose attempt has begun (counted and backed off): the caller makes one ledger call each. */
  calls: Array<{ payout: Payout; transfer: PayoutTransfer }>;
  /** Payouts found unpayable (or out of attempts) and marked stuck in this run, without a call. */
  stuck: number;
  /** Whether due payouts were left for the next run (calls, visits or budget ran out). */
  more: boolean;
}

/**
 * Starts one payout run, before any call: walks the due index (outbox.ts: new payouts first, then retries, earliest
 * first), marks every payout that can never be paid stuck on the spot, and begins an attempt for the others until
 * `maxCalls` calls, `maxVisits` visits or the budget. An unpayable payout costs one write and no call slot, so any
 * number of them ahead of a good payout does not hold it back past the next run; a payout whose calls fail is backed
 * off by beginAttempt and waits in the retry lane, behind new payouts.
 */
export function startPayoutRun<C extends { ledgerFeeE8s: bigint }>(
  store: Pick<RewardStore, 'payouts' | 'payoutQueue'> & { taskConfig(): C; setTaskConfig(config: C): void },
  nowNs: bigint,
  options: PayoutRunOptions = {}
): PayoutRun {
  const maxCalls = options.maxCalls ?? PAYOUT_CALLS_PER_RUN;
  const maxVisits = options.maxVisits ?? PAYOUT_VISITS_PER_RUN;
  const skip = options.skip ?? (() => false);
  const outOfBudget = options.outOfBudget ?? (() => false);
  const run: PayoutRun = { calls: [], stuck: 0, more: false };
  // Payouts passed over (skipped) stay due; they are excluded from the next read of the index, never read twice.
  const seen = new Set<string>();
  let visits = 0;
  for (;;) {
    const batch = duePayouts(store, nowNs, seen.size + maxCalls - run.calls.length).filter((p) => !seen.has(p.id));
    if (batch.length === 0) return run;
    for (const payout of batch) {
      if (run.calls.length >= maxCalls || visits >= maxVisits || outOfBudget()) {
        run.more = true;
        return run;
      }
      visits++;
      seen.add(payout.id);
      if (skip(payout.id)) continue;
      const plan = planTransfer(payout, store.taskConfig().ledgerFeeE8s, options.registryId);
      if (plan.kind === 'stuck') {
        recordVerdict(store, payout.id, plan);
        run.stuck++;
      } else if (beginAttempt(store, payout.id, nowNs)) run.calls.push({ payout, transfer: plan });
      else run.stuck++;
    }
  }
}
