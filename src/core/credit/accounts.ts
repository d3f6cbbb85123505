import { addPayout, payAccountOf } from '../rewards/outbox.js';
import type { PayAccount } from '../rewards/types.js';
import { ANONYMOUS_PRINCIPAL, err, ok, type Result } from '../registry/errors.js';
import { amountProblem } from './lines.js';
import {
  CREDIT_WORK_PER_TICK,
  DEPOSIT_MAX_AGE_NS,
  DEPOSIT_MAX_AHEAD_NS,
  DEPOSIT_MEMORY_NS,
  DEPOSIT_RETRY_NS,
  MAX_RECENT_DEPOSITS
} from './limits.js';
import {
  accountOf,
  CREDIT_SUBACCOUNT,
  DEPOSIT_CURSOR_KEY,
  depositKey,
  payoutDueKey,
  TREASURY_OWNER,
  type CreditAccount,
  type CreditDeposit,
  type CreditStores
} from './state.js';

/**
 * Credit accounts: deposits in (ICRC-2 transfer_from into the credit subaccount, exactly once through retries and
 * lost replies), withdrawals of free credit, and payouts of accrued balances through the payout outbox.
 */

/** The memo of a deposit's transfer_from (with its created_at_time, what the ledger deduplicates on). */
export const depositMemo = (createdAtNs: bigint): string => `credit/${createdAtNs}`;

export type DepositStart = { call: CreditDeposit } | { done: CreditAccount };

/**
 * deposit_credit's first step: records the deposit as pending before the ledger call. A retried call (same
 * created_at_time and amount) of a deposit already credited returns the account without a call; one still in flight
 * is refused (AlreadyExists), never asked of the ledger twice at once.
 */
export function beginDeposit(store: CreditStores, caller: string, now: bigint, amountE8s: bigint, createdAtNs = now): Result<DepositStart> {
  if (caller === ANONYMOUS_PRINCIPAL) return err({ AnonymousCaller: null });
  const bad = amountProblem('amount_e8s', amountE8s);
  if (bad) return bad;
  if (createdAtNs > now + DEPOSIT_MAX_AHEAD_NS || createdAtNs < now - DEPOSIT_MAX_AGE_NS)
    return err({ InvalidArgument: { field: 'created_at_time', reason: 'must be within the last 23 hours (and at most 1 minute ahead)' } });
  const account = accountOf(store, caller);
  const deposits = account.deposits.filter((d) => d.state === 'pending' || d.createdAtNs >= now - DEPOSIT_MEMORY_NS);
  const same = deposits.find((d) => d.createdAtNs === createdAtNs);
  if (same !== undefined) {
    if (same.amountE8s !== amountE8s)
      return err({ InvalidArgument: { field: 'created_at_time', reason: 'names an earlier deposit of another amount' } });
    if (same.state === 'credited') return ok({ done: { ...account, deposits } });
    if (same.state === 'unknown') return err({ AlreadyExists: { what: `deposit ${createdAtNs}, its outcome unknown to the ledger` } });
    return err({ AlreadyExists: { what: `deposit ${createdAtNs} in progress` } });
  }
  if (deposits.length >= MAX_RECENT_DEPOSITS)
    return err({ LimitExceeded: { what: 'deposits per day', limit: BigInt(MAX_RECENT_DEPOSITS) } });
  const deposit: CreditDeposit = { createdAtNs, amountE8s, state: 'pending' };
  store.creditAccounts.set(caller, { ...account, deposits: [...deposits, deposit] });
  store.creditQueue.set(depositKey(createdAtNs, caller), caller);
  return ok({ call: deposit });
}

/**
 * The ledger answered a deposit's transfer_from (or a retry of it): `moved` (Ok or Duplicate) credits it, once; a
 * refusal forgets it. A deposit no longer pending (credited by the other of two racing replies) is left alone.
 */
export function depositResolved(store: CreditStores, payer: string, createdAtNs: bigint, moved: boolean): CreditAccount {
  const account = accountOf(store, payer);
  const deposit = account.deposits.find((d) => d.createdAtNs === createdAtNs);
  if (deposit === undefined || deposit.state !== 'pending') return account;
  store.creditQueue.delete(depositKey(createdAtNs, payer));
  const next: CreditAccount = moved
    ? {
        ...account,
        freeE8s: account.freeE8s + deposit.amountE8s,
        deposits: account.deposits.map((d) => (d === deposit ? { ...d, state: 'credited' } : d))
      }
    : { ...account, deposits: account.deposits.filter((d) => d !== deposit) };
  store.creditAccounts.set(payer, next);
  return next;
}

/**
 * A pending deposit the ledger can no longer tell about (TooOld: past its dedup window): out of the retry queue into
 * the terminal `unknown` state (listed in the account's view, never credited), so it cannot pin the queue.
 */
export function depositUnknown(store: CreditStores, payer: string, createdAtNs: bigint): CreditAccount {
  const account = accountOf(store, payer);
  const deposit = account.deposits.find((d) => d.createdAtNs === createdAtNs);
  if (deposit === undefined || deposit.state !== 'pending') return account;
  store.creditQueue.delete(depositKey(createdAtNs, payer));
  const next: CreditAccount = {
    ...account,
    deposits: account.deposits.map((d): CreditDeposit => (d === deposit ? { ...d, state: 'unknown' } : d))
  };
  store.creditAccounts.set(payer, next);
  return next;
}

/**
 * Deposits pending for longer than DEPOSIT_RETRY_NS (their reply was lost), not in flight: at most `max` queue
 * entries visited per pass, starting after the previous pass's last (a rotating cursor), so entries that stay pending
 * at the head cannot starve the others.
 */
export function staleDeposits(
  store: CreditStores,
  now: bigint,
  inFlight: (payer: string, createdAtNs: bigint) => boolean,
  max = CREDIT_WORK_PER_TICK
): Array<{ payer: string; deposit: CreditDeposit }> {
  const due: Array<{ payer: string; deposit: CreditDeposit }> = [];
  const gone: string[] = [];
  const cursor = store.creditQueue.get(DEPOSIT_CURSOR_KEY) ?? 'd|';
  let visited = 0;
  let last: string | undefined;
  /** Walks due entries after `from` (up to `until` if given); true if it stopped for the budget. */
  const walk = (from: string, until?: string): boolean => {
    for (const [key, payer] of store.creditQueue.entries(from)) {
      if (!key.startsWith('d|') || (until !== undefined && key > until)) return false;
      const createdAtNs = BigInt(key.slice(2, 22));
      // Sorted by time: the rest is not due yet.
      if (createdAtNs + DEPOSIT_RETRY_NS > now) return false;
      if (visited >= max) return true;
      visited++;
      last = key;
      const deposit = accountOf(store, payer).deposits.find((d) => d.createdAtNs === createdAtNs && d.state === 'pending');
      if (deposit === undefined) gone.push(key);
      else if (!inFlight(payer, createdAtNs)) due.push({ payer, deposit });
    }
    return false;
  };
  const full = walk(cursor) || (cursor !== 'd|' && walk('d|', cursor));
  // Entries of deposits resolved meanwhile, and the cursor, written after the walk (never under it).
  for (const key of gone) store.creditQueue.delete(key);
  if (full && last !== undefined) store.creditQueue.set(DEPOSIT_CURSOR_KEY, last);
  else store.creditQueue.delete(DEPOSIT_CURSOR_KEY);
  return due;
}

export interface Withdrawal {
  payoutId: string;
  amountE8s: bigint;
  account: CreditAccount;
}

/** Records one payout of `amountE8s` from the credit subaccount (exactly once: its id carries the account's counter). */
function recordWithdrawal(
  store: CreditStores,
  now: bigint,
  account: CreditAccount,
  to: PayAccount,
  kind: 'refund' | 'runner' | 'treasury',
  amountE8s: bigint,
  change: Partial<CreditAccount>
): Withdrawal {
  const n = account.withdrawals + 1;
  const payoutId = `credit/${account.owner}/w/${n}`;
  addPayout(store, now, 0, kind, payoutId, to, amountE8s, `credit-w/${n}`, undefined, CREDIT_SUBACCOUNT);
  const next = { ...account, ...change, withdrawals: n };
  store.creditAccounts.set(account.owner, next);
  return { payoutId, amountE8s, account: next };
}

/** What a payout must exceed: the ledger fee it pays (the recipient gets the amount less the fee). */
const feeFloor = (store: CreditStores): bigint => store.taskConfig().ledgerFeeE8s;

/** withdraw_credit: free credit back to the payer's default account (less the ledger fee), through the outbox. */
export function withdrawCredit(store: CreditStores, caller: string, now: bigint, amountE8s: bigint): Result<Withdrawal> {
  if (caller === ANONYMOUS_PRINCIPAL) return err({ AnonymousCaller: null });
  const bad = amountProblem('amount_e8s', amountE8s);
  if (bad) return bad;
  if (store.taskConfig().ledger === undefined) return err({ NotConfigured: { what: 'ledger' } });
  if (amountE8s <= feeFloor(store))
    return err({ InvalidArgument: { field: 'amount_e8s', reason: `must exceed the ledger fee ${feeFloor(store)}` } });
  const account = accountOf(store, caller);
  if (account.freeE8s < amountE8s) return err({ InsufficientCredit: { available_e8s: account.freeE8s, needed_e8s: amountE8s } });
  return ok(recordWithdrawal(store, now, account, { owner: caller }, 'refund', amountE8s, { freeE8s: account.freeE8s - amountE8s }));
}

/** Pays an owner's whole accrued balance (a runner to its operator's account, the fee account to the treasury). */
function payAccrued(store: CreditStores, now: bigint, account: CreditAccount): Withdrawal | undefined {
  const to = account.owner === TREASURY_OWNER ? store.taskConfig().treasury : payAccountOf(store, account.owner);
  if (to === undefined || account.accruedE8s <= feeFloor(store)) return undefined;
  const kind = account.owner === TREASURY_OWNER ? 'treasury' : 'runner';
  return recordWithdrawal(store, now, account, to, kind, account.accruedE8s, { accruedE8s: 0n });
}

/** withdraw_accrued: the calling runner's accrued balance, in one ledger transfer to who is paid for its work. */
export function withdrawAccrued(store: CreditStores, caller: string, now: bigint): Result<Withdrawal> {
  if (caller === ANONYMOUS_PRINCIPAL) return err({ AnonymousCaller: null });
  if (store.taskConfig().ledger === undefined) return err({ NotConfigured: { what: 'ledger' } });
  const account = accountOf(store, caller);
  const paid = payAccrued(store, now, account);
  if (paid === undefined) return err({ InsufficientCredit: { available_e8s: account.accruedE8s, needed_e8s: feeFloor(store) + 1n } });
  store.creditQueue.delete(payoutDueKey(caller));
  return ok(paid);
}

/** Accrued balances queued at or above the threshold, paid (the timer), at most `max`: reads only the queue's head. */
export function payDueBalances(store: CreditStores, now: bigint, max = CREDIT_WORK_PER_TICK): number {
  if (store.taskConfig().ledger === undefined) return 0;
  const threshold = store.creditConfig().autoPayoutThresholdE8s;
  let paid = 0;
  const keys: string[] = [];
  for (const [key] of store.creditQueue.entries('w|')) {
    if (!key.startsWith('w|') || keys.length >= max) break;
    keys.push(key);
  }
  for (const key of keys) {
    const account = accountOf(store, key.slice(2));
    store.creditQueue.delete(key);
    if (threshold > 0n && account.accruedE8s >= threshold && payAccrued(store, now, account) !== undefined) paid++;
  }
  return paid;
}

/** Queues an owner's accrued balance for the timer's payout once it reaches the threshold. */
export function queueIfDue(store: CreditStores, account: CreditAccount): void {
  const threshold = store.creditConfig().autoPayoutThresholdE8s;
  if (threshold > 0n && account.accruedE8s >= threshold) store.creditQueue.set(payoutDueKey(account.owner), account.owner);
}
