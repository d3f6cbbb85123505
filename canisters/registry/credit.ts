import { canisterSelf, Principal, time } from 'azle';
import { hexToBytes } from '@noble/hashes/utils';

import { opt } from '../../src/interface/candid.js';
import type { TransferFromResult } from '../../src/interface/ledger/index.js';
import { transferFromInto } from './ledger-calls.js';
import type {
  CreditAccountView,
  CreditConfigView,
  CreditLineView,
  SettledView,
  SignedReceiptArgs,
  UsageSettlement as UsageArgs,
  WithdrawalView
} from '../../src/interface/registry/index.js';
import {
  accountOf,
  beginDeposit,
  CREDIT_SUBACCOUNT,
  depositMemo,
  depositResolved,
  depositUnknown,
  finalizeDueLines,
  lineRemainingE8s,
  movableE8s,
  payDueBalances,
  staleDeposits,
  type CreditAccount,
  type CreditConfig,
  type CreditLine,
  type CreditStores,
  type Settled,
  type SignedReceipt,
  type UsageSettlement,
  type Withdrawal
} from '../../src/core/credit/index.js';
import { describeLedgerError } from '../../src/core/rewards/index.js';
import type { Result } from '../../src/core/registry/index.js';

/** Credit's adapter (src/core/credit): the deposit's ledger call, maintenance, and Candid views. */

/**
 * Deposits whose transfer_from is awaiting its reply in this instance, with when it went out: maintenance never asks
 * the ledger about one of them (a retry refused before the first call executes would forget a deposit that then
 * lands). An entry left by a callback that trapped counts as lost after IN_FLIGHT_LOST_NS.
 */
const inFlight = new Map<string, bigint>();
const IN_FLIGHT_LOST_NS = 600n * 1_000_000_000n;
const flightKey = (payer: string, createdAtNs: bigint): string => `${payer}|${createdAtNs}`;

/** `unknown`: the ledger can no longer tell (TooOld), the deposit leaves the retry queue as `unknown`. */
type Moved = { moved: true } | { moved: false; known: boolean; unknown?: true; reason: string };

/** The deposit's transfer_from, the same memo and created_at_time on every attempt (the ledger deduplicates). */
async function depositTransfer(store: CreditStores, payer: string, amountE8s: bigint, createdAtNs: bigint): Promise<Moved> {
  const ledger = store.taskConfig().ledger;
  if (ledger === undefined) return { moved: false, known: true, reason: 'no ledger configured' };
  const key = flightKey(payer, createdAtNs);
  inFlight.set(key, time());
  let result: TransferFromResult;
  try {
    result = await transferFromInto(ledger, {
      from: { owner: Principal.fromText(payer), subaccount: [] },
      subaccount: hexToBytes(CREDIT_SUBACCOUNT),
      amount: amountE8s,
      memo: depositMemo(createdAtNs),
      createdAtNs
    });
  } catch (error) {
    // Unknown whether it executed: the deposit stays pending for maintenance to ask again.
    return { moved: false, known: false, reason: `the ledger call failed: ${error instanceof Error ? error.message : String(error)}` };
  } finally {
    inFlight.delete(key);
  }
  if ('Ok' in result || 'Duplicate' in result.Err) return { moved: true };
  // TooOld: the ledger can no longer tell; the deposit becomes `unknown` (listed) rather than be forgotten, credited
  // or retried forever (it would pin the retry queue).
  if ('TooOld' in result.Err) return { moved: false, known: false, unknown: true, reason: describeLedgerError(result.Err) };
  return { moved: false, known: true, reason: describeLedgerError(result.Err) };
}

/** deposit_credit: records the deposit, moves it with transfer_from, credits it once. */
export async function depositCredit(
  store: CreditStores,
  caller: string,
  amountE8s: bigint,
  createdAtNs: bigint | undefined
): Promise<Result<CreditAccount>> {
  if (store.taskConfig().ledger === undefined) return { Err: { NotConfigured: { what: 'ledger' } } };
  const begun = beginDeposit(store, caller, time(), amountE8s, createdAtNs);
  if ('Err' in begun) return begun;
  if ('done' in begun.Ok) return { Ok: begun.Ok.done };
  const deposit = begun.Ok.call;
  const moved = await depositTransfer(store, caller, deposit.amountE8s, deposit.createdAtNs);
  if (moved.moved) return { Ok: depositResolved(store, caller, deposit.createdAtNs, true) };
  if (moved.known) depositResolved(store, caller, deposit.createdAtNs, false);
  else if (moved.unknown) depositUnknown(store, caller, deposit.createdAtNs);
  return { Err: { LedgerError: { operation: 'icrc2_transfer_from', message: moved.reason } } };
}

/**
 * One credit maintenance pass (its own timer, so its own messages): closing lines whose window ended are finalized,
 * balances above the threshold are recorded as payouts (the payout timer pays them), and deposits whose reply was
 * lost are asked of the ledger again. Each step reads only the head of its queue.
 */
export async function maintainCredit(store: CreditStores): Promise<void> {
  const now = time();
  finalizeDueLines(store, now);
  payDueBalances(store, now);
  const busy = (payer: string, createdAtNs: bigint) => {
    const since = inFlight.get(flightKey(payer, createdAtNs));
    return since !== undefined && now - since < IN_FLIGHT_LOST_NS;
  };
  const stale = staleDeposits(store, now, busy);
  await Promise.allSettled(
    stale.map(async ({ payer, deposit }) => {
      const moved = await depositTransfer(store, payer, deposit.amountE8s, deposit.createdAtNs);
      if (moved.moved || moved.known) depositResolved(store, payer, deposit.createdAtNs, moved.moved);
      else if (moved.unknown) depositUnknown(store, payer, deposit.createdAtNs);
    })
  );
}

//#region views
export function creditAccountView(account: CreditAccount): CreditAccountView {
  return {
    owner: Principal.fromText(account.owner),
    free_e8s: account.freeE8s,
    reserved_e8s: account.reservedE8s,
    accrued_e8s: account.accruedE8s,
    lines_as_payer: account.linesAsPayer,
    lines_as_runner: account.linesAsRunner,
    pending_deposits: account.deposits.filter((d) => d.state === 'pending').map((d) => d.createdAtNs),
    unknown_deposits: account.deposits.filter((d) => d.state === 'unknown').map((d) => d.createdAtNs),
    account: { owner: canisterSelf(), subaccount: [hexToBytes(CREDIT_SUBACCOUNT)] }
  };
}

export function creditLineView(store: CreditStores, line: CreditLine): CreditLineView {
  return {
    id: line.id,
    payer: Principal.fromText(line.payer),
    runner: Principal.fromText(line.runner),
    reserved_e8s: line.reservedE8s,
    settled_e8s: line.settledE8s,
    fees_e8s: line.feesE8s,
    available_e8s: line.state === 'closed' ? 0n : movableE8s(store, lineRemainingE8s(line)),
    settled_seq: line.settledSeq,
    input_tokens: line.inputTokens,
    output_tokens: line.outputTokens,
    requests: line.requests,
    state: line.state,
    opened_at_ns: line.openedAtNs,
    closing_until_ns: opt(line.closingUntilNs)
  };
}

export const settledView = (store: CreditStores, s: Settled): SettledView => ({
  line: creditLineView(store, s.line),
  moved_e8s: s.movedE8s,
  fee_e8s: s.feeE8s
});

export const withdrawalView = (w: Withdrawal): WithdrawalView => ({
  payout_id: w.payoutId,
  amount_e8s: w.amountE8s,
  account: creditAccountView(w.account)
});

export const creditConfigView = (c: CreditConfig): CreditConfigView => ({
  dispute_window_seconds: c.disputeWindowNs / 1_000_000_000n,
  auto_payout_threshold_e8s: c.autoPayoutThresholdE8s,
  min_reserve_e8s: c.minReserveE8s
});

export const accountViewOf = (store: CreditStores, owner: string): CreditAccountView | undefined => {
  const account = store.creditAccounts.get(owner);
  return account === undefined ? undefined : creditAccountView(accountOf(store, owner));
};
//#endregion

//#region arguments
export const usageOf = (u: UsageArgs): UsageSettlement => ({
  lineId: u.line_id,
  seq: u.seq,
  owedE8s: u.owed_e8s,
  inputTokens: u.input_tokens,
  outputTokens: u.output_tokens,
  requests: u.requests
});

export const signedReceiptOf = (s: SignedReceiptArgs): SignedReceipt => ({
  receipt: { ...usageOf(s.receipt), payer: s.receipt.payer.toText(), runner: s.receipt.runner.toText() },
  publicKey: Uint8Array.from(s.public_key),
  signature: Uint8Array.from(s.signature)
});
//#endregion
