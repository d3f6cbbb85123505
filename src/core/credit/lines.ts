import { requireAdmin } from '../registry/access.js';
import { ANONYMOUS_PRINCIPAL, err, ok, type Result } from '../registry/errors.js';
import { checkPage, type Page, type PageRequest } from '../registry/pagination.js';
import { CREDIT_WORK_PER_TICK, MAX_CREDIT_E8S, MAX_DISPUTE_WINDOW_NS } from './limits.js';
import {
  accountOf,
  closingKey,
  lineKey,
  lineRemainingE8s,
  openKey,
  partyKey,
  type CreditConfig,
  type CreditLine,
  type CreditStore,
  type CreditStores
} from './state.js';

/** Credit lines: a payer reserves free credit toward one runner; closing returns what was not settled (README). */

export const notFoundLine = (id: bigint): Result<never> => err({ NotFound: { kind: { CreditLine: null }, id: id.toString() } });
export const lineNotOpen = (line: CreditLine): Result<never> => err({ CreditLineNotOpen: { line: line.id, state: line.state } });

export function amountProblem(field: string, amount: bigint): Result<never> | undefined {
  if (amount <= 0n || amount > MAX_CREDIT_E8S) return err({ InvalidArgument: { field, reason: `must be 1 to ${MAX_CREDIT_E8S} e8s` } });
  return undefined;
}

export const getLine = (store: CreditStore, id: bigint): CreditLine | undefined =>
  id < 0n || id >= 1n << 64n ? undefined : store.creditLines.get(lineKey(id));

/** The pair's line that is not closed (open or closing), if any. */
export function findLine(store: CreditStore, payer: string, runner: string): CreditLine | undefined {
  const id = store.creditIndex.get(openKey(payer, runner));
  return id === undefined ? undefined : store.creditLines.get(id);
}

/**
 * reserve_credit: moves `amountE8s` of the caller's free credit into its open line toward `runner`, opening one (a
 * new id) when there is none. A line in its dispute window cannot take more: it is finalized first.
 */
export function reserveCredit(store: CreditStores, caller: string, now: bigint, runner: string, amountE8s: bigint): Result<CreditLine> {
  if (caller === ANONYMOUS_PRINCIPAL) return err({ AnonymousCaller: null });
  const bad = amountProblem('amount_e8s', amountE8s);
  if (bad) return bad;
  if (runner === caller) return err({ InvalidArgument: { field: 'runner', reason: 'a payer cannot open a line toward itself' } });
  if (!store.runners.has(runner)) return err({ NotFound: { kind: { Runner: null }, id: runner } });
  const payer = accountOf(store, caller);
  if (payer.freeE8s < amountE8s) return err({ InsufficientCredit: { available_e8s: payer.freeE8s, needed_e8s: amountE8s } });
  let line = findLine(store, caller, runner);
  if (line !== undefined && line.state !== 'open') return lineNotOpen(line);
  if (line === undefined) {
    // Each line is state kept for good (compacted when closed): a line must hold enough to be worth it.
    const minimum = store.creditConfig().minReserveE8s;
    if (amountE8s < minimum) return err({ ReserveBelowMinimum: { minimum_e8s: minimum, amount_e8s: amountE8s } });
    const id = store.nextCreditLineId();
    line = {
      id,
      payer: caller,
      runner,
      reservedE8s: 0n,
      settledE8s: 0n,
      feesE8s: 0n,
      settledSeq: 0n,
      inputTokens: 0n,
      outputTokens: 0n,
      requests: 0n,
      state: 'open',
      openedAtNs: now
    };
    const runnerAccount = accountOf(store, runner);
    store.creditIndex.set(openKey(caller, runner), lineKey(id));
    store.creditIndex.set(partyKey('p', caller, payer.linesAsPayer), lineKey(id));
    store.creditIndex.set(partyKey('r', runner, runnerAccount.linesAsRunner), lineKey(id));
    payer.linesAsPayer += 1;
    store.creditAccounts.set(runner, { ...runnerAccount, linesAsRunner: runnerAccount.linesAsRunner + 1 });
  }
  line = { ...line, reservedE8s: line.reservedE8s + amountE8s };
  store.creditLines.set(lineKey(line.id), line);
  store.creditAccounts.set(caller, { ...payer, freeE8s: payer.freeE8s - amountE8s, reservedE8s: payer.reservedE8s + amountE8s });
  return ok(line);
}

/** close_credit_line (the payer): the line stops taking reserve; its runner may settle until the window ends. */
export function closeCreditLine(store: CreditStores, caller: string, now: bigint, id: bigint): Result<CreditLine> {
  if (caller === ANONYMOUS_PRINCIPAL) return err({ AnonymousCaller: null });
  const line = getLine(store, id);
  if (line === undefined) return notFoundLine(id);
  if (line.payer !== caller) return err({ Unauthorized: { reason: 'only the payer may close its credit line' } });
  if (line.state === 'closing') return ok(line);
  if (line.state !== 'open') return lineNotOpen(line);
  const closingUntilNs = now + store.creditConfig().disputeWindowNs;
  const next: CreditLine = { ...line, state: 'closing', closingUntilNs };
  store.creditLines.set(lineKey(id), next);
  store.creditQueue.set(closingKey(closingUntilNs, id), lineKey(id));
  return ok(next);
}

/**
 * Ends a closing line whose window has passed: what it still holds goes back to the payer's free credit. The record
 * left is compact (no window, no cooldown); a line that moved nothing is removed with its last by-party positions, so
 * churning lines (reserve, close, finalize, reopen) leaves no state behind.
 */
function finalize(store: CreditStores, line: CreditLine): CreditLine {
  const left = lineRemainingE8s(line);
  const payer = accountOf(store, line.payer);
  store.creditAccounts.set(line.payer, { ...payer, freeE8s: payer.freeE8s + left, reservedE8s: payer.reservedE8s - left });
  const { closingUntilNs: _until, receiptCooldownUntilNs: _cooldown, ...kept } = line;
  const next: CreditLine = { ...kept, state: 'closed' };
  if (line.closingUntilNs !== undefined) store.creditQueue.delete(closingKey(line.closingUntilNs, line.id));
  if (store.creditIndex.get(openKey(line.payer, line.runner)) === lineKey(line.id))
    store.creditIndex.delete(openKey(line.payer, line.runner));
  if (line.settledE8s === 0n && line.feesE8s === 0n) prune(store, line);
  else store.creditLines.set(lineKey(line.id), next);
  return next;
}

/** Removes an unused closed line and its by-party positions where they are each party's last (the usual churn). */
function prune(store: CreditStores, line: CreditLine): void {
  store.creditLines.delete(lineKey(line.id));
  for (const [side, party] of [
    ['p', line.payer],
    ['r', line.runner]
  ] as const) {
    const account = accountOf(store, party);
    const count = side === 'p' ? account.linesAsPayer : account.linesAsRunner;
    const last = partyKey(side, party, count - 1);
    if (count === 0 || store.creditIndex.get(last) !== lineKey(line.id)) continue;
    store.creditIndex.delete(last);
    store.creditAccounts.set(party, side === 'p' ? { ...account, linesAsPayer: count - 1 } : { ...account, linesAsRunner: count - 1 });
  }
}

/** finalize_credit_line (the payer or the runner), after the dispute window; the timer does the same. */
export function finalizeCreditLine(store: CreditStores, caller: string, now: bigint, id: bigint): Result<CreditLine> {
  if (caller === ANONYMOUS_PRINCIPAL) return err({ AnonymousCaller: null });
  const line = getLine(store, id);
  if (line === undefined) return notFoundLine(id);
  if (line.payer !== caller && line.runner !== caller)
    return err({ Unauthorized: { reason: "only the line's payer or runner may finalize it" } });
  if (line.state === 'closed') return ok(line);
  if (line.state !== 'closing' || line.closingUntilNs === undefined) return lineNotOpen(line);
  if (now < line.closingUntilNs) return err({ DisputeWindowOpen: { line: id, until_ns: line.closingUntilNs } });
  return ok(finalize(store, line));
}

/** Closing lines whose window ended, at most `max`, finalized (the timer; reads only the due queue's head). */
export function finalizeDueLines(store: CreditStores, now: bigint, max = CREDIT_WORK_PER_TICK): number {
  // The due keys first: finalizing deletes them, which must not happen under the walk.
  const due: Array<[string, string]> = [];
  for (const [key, id] of store.creditQueue.entries('c|')) {
    if (!key.startsWith('c|') || due.length >= max || BigInt(key.slice(2, 22)) > now) break;
    due.push([key, id]);
  }
  for (const [key, id] of due) {
    const line = store.creditLines.get(id);
    if (line?.state === 'closing') finalize(store, line);
    else store.creditQueue.delete(key);
  }
  return due.length;
}

/** One party's lines, oldest first: direct reads of its positions (`after` is the last position seen). */
export function listLines(store: CreditStore, side: 'payer' | 'runner', party: string, page: PageRequest): Result<Page<CreditLine>> {
  const checked = checkPage(page);
  if ('Err' in checked) return checked;
  const account = store.creditAccounts.get(party);
  const count = account === undefined ? 0 : side === 'payer' ? account.linesAsPayer : account.linesAsRunner;
  let from = 0;
  if (page.after !== undefined) {
    if (!/^\d{1,10}$/.test(page.after))
      return err({ InvalidArgument: { field: 'after', reason: 'must be a position from a previous page' } });
    from = Number(page.after) + 1;
  }
  const items: CreditLine[] = [];
  let position = from;
  // Positions of pruned lines may be holes: a page reads at most four times its size of positions.
  const until = Math.min(count, from + checked.Ok * 4);
  for (; position < until && items.length < checked.Ok; position++) {
    const id = store.creditIndex.get(partyKey(side === 'payer' ? 'p' : 'r', party, position));
    const line = id === undefined ? undefined : store.creditLines.get(id);
    if (line !== undefined) items.push(line);
  }
  return ok(position < count ? { items, next: (position - 1).toString() } : { items });
}

/** Admins change the credit settings; absent fields keep their value. */
export function setCreditConfig(
  store: CreditStore & Parameters<typeof requireAdmin>[0],
  caller: string,
  input: { disputeWindowSeconds?: bigint; autoPayoutThresholdE8s?: bigint; minReserveE8s?: bigint }
): Result<CreditConfig> {
  const denied = requireAdmin(store, caller);
  if (denied !== undefined) return err(denied);
  const current = store.creditConfig();
  const next: CreditConfig = {
    disputeWindowNs: input.disputeWindowSeconds === undefined ? current.disputeWindowNs : input.disputeWindowSeconds * 1_000_000_000n,
    autoPayoutThresholdE8s: input.autoPayoutThresholdE8s ?? current.autoPayoutThresholdE8s,
    minReserveE8s: input.minReserveE8s ?? current.minReserveE8s
  };
  if (next.disputeWindowNs < 0n || next.disputeWindowNs > MAX_DISPUTE_WINDOW_NS)
    return err({ InvalidArgument: { field: 'dispute_window_seconds', reason: 'must be at most 30 days' } });
  if (next.autoPayoutThresholdE8s < 0n || next.autoPayoutThresholdE8s > MAX_CREDIT_E8S)
    return err({ InvalidArgument: { field: 'auto_payout_threshold_e8s', reason: `must be 0 to ${MAX_CREDIT_E8S}` } });
  if (next.minReserveE8s < 1n || next.minReserveE8s > MAX_CREDIT_E8S)
    return err({ InvalidArgument: { field: 'min_reserve_e8s', reason: `must be 1 to ${MAX_CREDIT_E8S}` } });
  store.setCreditConfig(next);
  return ok(next);
}
