import { addPaidFees, isSelfDealing } from '../rewards/epochs.js';
import { minProtocolFeeOf } from '../rewards/pricing.js';
import { ANONYMOUS_PRINCIPAL, err, ok, type Result } from '../registry/errors.js';
import type { Reputation } from '../registry/types.js';
import type { UsageSettlement } from './api.js';
import { queueIfDue } from './accounts.js';
import { MAX_PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from './signature.js';
import { MAX_REQUESTS_PER_ITEM, MAX_SETTLE_ITEMS, MAX_U64, MIN_PAID_REQUEST_E8S, RECEIPT_COOLDOWN_NS } from './limits.js';
import { getLine, lineNotOpen, notFoundLine } from './lines.js';
import { receiptProblem, type SignedReceipt } from './receipt.js';
import { accountOf, lineKey, lineRemainingE8s, TREASURY_OWNER, type CreditLine, type CreditStores } from './state.js';

/**
 * Settlement of metered usage (README "Paid direct path: credit and settlement"). Totals are cumulative, so settling
 * is idempotent: a line moves `owed − settled` (never below 0) to its runner, capped by what the line still holds
 * after the protocol fee. The highest owed any settlement claimed binds: a payer settling a newer sequence number with
 * a smaller total is refused (OwedBelowSettled), and a receipt the payer signed for more than was settled still
 * settles the difference, whatever sequence number came before it. Replays and older receipts move nothing.
 */

const BPS = 10_000n;

export interface Settled {
  line: CreditLine;
  movedE8s: bigint;
  feeE8s: bigint;
}

/** The protocol fee on `movedE8s` moved to a runner: its share rounded up; 0 without a treasury. No floor (README). */
export function creditFeeE8s(store: CreditStores, movedE8s: bigint): bigint {
  const config = store.taskConfig();
  if (config.treasury === undefined || movedE8s <= 0n) return 0n;
  return (movedE8s * BigInt(config.protocolFeeBps) + BPS - 1n) / BPS;
}

/** The most a line holding `remainingE8s` can move to its runner with the fee on it: the largest m with m + fee(m) ≤ remaining. */
export function movableE8s(store: CreditStores, remainingE8s: bigint): bigint {
  if (remainingE8s <= 0n) return 0n;
  const config = store.taskConfig();
  if (config.treasury === undefined) return remainingE8s;
  const m = (remainingE8s * BPS) / (BPS + BigInt(config.protocolFeeBps));
  return m + 1n + creditFeeE8s(store, m + 1n) <= remainingE8s ? m + 1n : m;
}

function itemProblem(item: UsageSettlement): Result<never> | undefined {
  const bad = (field: string, reason: string) => err({ InvalidArgument: { field, reason } });
  if (item.seq < 1n || item.seq > MAX_U64) return bad('seq', 'must be 1 to 2^64 - 1');
  if (item.owedE8s < 0n || item.owedE8s >= 1n << 128n) return bad('owed_e8s', 'must be below 2^128');
  for (const [field, value] of [
    ['input_tokens', item.inputTokens],
    ['output_tokens', item.outputTokens],
    ['requests', item.requests]
  ] as const)
    if (value < 0n || value > MAX_U64) return bad(field, 'must be below 2^64');
  return undefined;
}

/** What a batch changes besides the lines, written once at its end (one write per account touched). */
class Effects {
  readonly debits = new Map<string, bigint>();
  readonly accrued = new Map<string, bigint>();
  readonly fees = new Map<string, Map<string, bigint>>();
  readonly requests = new Map<string, { completed: bigint; independent: bigint }>();
  treasury = 0n;

  constructor(private readonly store: CreditStores) {}

  add(line: CreditLine, movedE8s: bigint, feeE8s: bigint, requests: bigint): void {
    const plus = (map: Map<string, bigint>, key: string, n: bigint) => map.set(key, (map.get(key) ?? 0n) + n);
    plus(this.debits, line.payer, movedE8s + feeE8s);
    plus(this.accrued, line.runner, movedE8s);
    this.treasury += feeE8s;
    const fees = this.fees.get(line.payer) ?? new Map<string, bigint>();
    this.fees.set(line.payer, fees);
    plus(fees, line.runner, feeE8s);
    // A payer could claim any count: requests count as completed only as far as what moved paid
    // MIN_PAID_REQUEST_E8S each, and weigh in votes only as far as their fee paid the task floor each; self-dealing
    // counts for neither.
    const min = (a: bigint, b: bigint) => (a < b ? a : b);
    const counted = min(requests, MAX_REQUESTS_PER_ITEM);
    const selfDealing = isSelfDealing(this.store, line.payer, line.runner);
    const completed = selfDealing ? 0n : min(counted, movedE8s / MIN_PAID_REQUEST_E8S);
    const independent = selfDealing ? 0n : min(counted, feeE8s / minProtocolFeeOf(this.store.taskConfig()));
    const r = this.requests.get(line.runner) ?? { completed: 0n, independent: 0n };
    this.requests.set(line.runner, { completed: r.completed + completed, independent: r.independent + independent });
  }

  commit(now: bigint): void {
    const store = this.store;
    for (const [payer, debit] of this.debits) {
      if (debit === 0n) continue;
      const account = accountOf(store, payer);
      store.creditAccounts.set(payer, { ...account, reservedE8s: account.reservedE8s - debit });
    }
    const credit = (owner: string, amount: bigint) => {
      if (amount === 0n) return;
      const account = accountOf(store, owner);
      const next = { ...account, accruedE8s: account.accruedE8s + amount };
      store.creditAccounts.set(owner, next);
      queueIfDue(store, next);
    };
    for (const [runner, amount] of this.accrued) credit(runner, amount);
    credit(TREASURY_OWNER, this.treasury);
    for (const [runner, r] of this.requests) {
      if (r.completed === 0n && r.independent === 0n) continue;
      const current: Reputation = store.reputation.get(runner) ?? {
        completed: 0,
        failed: 0,
        rejected: 0,
        expiredLeases: 0,
        latencyMsEma: 0
      };
      const next: Reputation = {
        ...current,
        completed: current.completed + Number(r.completed),
        independentAccepted: (current.independentAccepted ?? 0) + Number(r.independent)
      };
      store.reputation.set(runner, next);
      store.index.noteRecord(runner, next);
    }
    for (const [payer, fees] of this.fees) if ([...fees.values()].some((f) => f > 0n)) addPaidFees(store, now, payer, fees);
  }
}

/** Applies one item to its line (already authorized): the line is written, the rest goes to `effects`. */
function apply(store: CreditStores, now: bigint, line: CreditLine, item: UsageSettlement, effects: Effects): Result<Settled> {
  if (line.state === 'closed' || (line.closingUntilNs !== undefined && now >= line.closingUntilNs)) return lineNotOpen(line);
  let movedE8s = 0n;
  if (item.owedE8s > line.settledE8s) {
    const owed = item.owedE8s - line.settledE8s;
    const movable = movableE8s(store, lineRemainingE8s(line));
    movedE8s = owed < movable ? owed : movable;
  } else if (item.seq > line.settledSeq && item.owedE8s < line.settledE8s)
    return err({ OwedBelowSettled: { line: line.id, owed_e8s: item.owedE8s, settled_e8s: line.settledE8s } });
  const max = (a: bigint, b: bigint) => (a > b ? a : b);
  const requests = item.requests > line.requests ? item.requests - line.requests : 0n;
  if (movedE8s === 0n && item.seq <= line.settledSeq && requests === 0n) return ok({ line, movedE8s: 0n, feeE8s: 0n });
  const feeE8s = creditFeeE8s(store, movedE8s);
  const next: CreditLine = {
    ...line,
    settledE8s: line.settledE8s + movedE8s,
    feesE8s: line.feesE8s + feeE8s,
    settledSeq: max(line.settledSeq, item.seq),
    inputTokens: max(line.inputTokens, item.inputTokens),
    outputTokens: max(line.outputTokens, item.outputTokens),
    requests: max(line.requests, item.requests)
  };
  store.creditLines.set(lineKey(line.id), next);
  effects.add(next, movedE8s, feeE8s, requests);
  return ok({ line: next, movedE8s, feeE8s });
}

/**
 * settle_usage (the payer): each item settles one of the caller's lines on its own (its own Ok or Err); the accounts,
 * reputation and emission they change are written once for the batch.
 */
export function settleUsage(
  store: CreditStores,
  caller: string,
  now: bigint,
  items: readonly UsageSettlement[]
): Result<Array<Result<Settled>>> {
  if (caller === ANONYMOUS_PRINCIPAL) return err({ AnonymousCaller: null });
  if (items.length > MAX_SETTLE_ITEMS) return err({ LimitExceeded: { what: 'settlements per batch', limit: BigInt(MAX_SETTLE_ITEMS) } });
  const effects = new Effects(store);
  const outcomes = items.map((item): Result<Settled> => {
    const bad = itemProblem(item);
    if (bad) return bad;
    const line = getLine(store, item.lineId);
    if (line === undefined) return notFoundLine(item.lineId);
    if (line.payer !== caller) return err({ Unauthorized: { reason: `line ${item.lineId} is not the caller's` } });
    return apply(store, now, line, item, effects);
  });
  effects.commit(now);
  return ok(outcomes);
}

/**
 * settle_receipt (the runner): settles alone with the payer's latest signed receipt, within what the line holds. The
 * signature (billions of instructions) is verified only when the receipt would move money: it claims more than was
 * settled and the line can still pay something; any other receipt is answered with the line unchanged, unverified. A
 * receipt that fails verification puts the line in a cooldown (RECEIPT_COOLDOWN_NS) during which settle_receipt
 * verifies nothing on it (`Err ReceiptCooldown`), so a runner cannot make the registry verify junk in a loop.
 */
export function settleReceipt(store: CreditStores, caller: string, now: bigint, signed: SignedReceipt): Result<Settled> {
  if (caller === ANONYMOUS_PRINCIPAL) return err({ AnonymousCaller: null });
  if (signed.publicKey.length > MAX_PUBLIC_KEY_BYTES || signed.signature.length !== SIGNATURE_BYTES)
    return err({ InvalidReceipt: { reason: 'BadSignature' } });
  const r = signed.receipt;
  const bad = itemProblem(r);
  if (bad) return bad;
  const line = getLine(store, r.lineId);
  if (line === undefined) return notFoundLine(r.lineId);
  if (line.runner !== caller) return err({ Unauthorized: { reason: `only line ${r.lineId}'s runner may settle its receipts` } });
  if (r.payer !== line.payer || r.runner !== line.runner) return err({ InvalidReceipt: { reason: "not this line's payer and runner" } });
  if (line.state === 'closed' || (line.closingUntilNs !== undefined && now >= line.closingUntilNs)) return lineNotOpen(line);
  const movesMoney = r.owedE8s > line.settledE8s && movableE8s(store, lineRemainingE8s(line)) > 0n;
  if (!movesMoney) return ok({ line, movedE8s: 0n, feeE8s: 0n });
  if (line.receiptCooldownUntilNs !== undefined && now < line.receiptCooldownUntilNs)
    return err({ ReceiptCooldown: { line: line.id, until_ns: line.receiptCooldownUntilNs } });
  const problem = receiptProblem(signed);
  if (problem !== undefined) {
    store.creditLines.set(lineKey(line.id), { ...line, receiptCooldownUntilNs: now + RECEIPT_COOLDOWN_NS });
    return err({ InvalidReceipt: { reason: problem } });
  }
  const effects = new Effects(store);
  const settled = apply(store, now, line, r, effects);
  effects.commit(now);
  return settled;
}
