import { ANONYMOUS_OWNER, accountKey, accountProblem, sameAccount } from './account.js';
import { ErrorCode, PERMITTED_DRIFT_NS, PRUNE_PER_CALL, TX_WINDOW_NS } from './limits.js';
import type { LedgerStore } from './store.js';
import type {
  Account,
  Allowance,
  ApproveError,
  GenericError,
  LedgerResult,
  StoredBlock,
  TransferError,
  TransferFromError,
  Tx
} from './types.js';

export interface TransferArgs {
  fromSubaccount?: string;
  to: Account;
  amount: bigint;
  fee?: bigint;
  memo?: string;
  createdAtTime?: bigint;
}

export interface ApproveArgs {
  fromSubaccount?: string;
  spender: Account;
  amount: bigint;
  expectedAllowance?: bigint;
  expiresAt?: bigint;
  fee?: bigint;
  memo?: string;
  createdAtTime?: bigint;
}

export interface TransferFromArgs {
  spenderSubaccount?: string;
  from: Account;
  to: Account;
  amount: bigint;
  fee?: bigint;
  memo?: string;
  createdAtTime?: bigint;
}

const generic = (code: bigint, message: string): GenericError => ({ GenericError: { error_code: code, message } });

export function balanceOf(store: LedgerStore, account: Account): bigint {
  return store.balances.get(accountKey(account)) ?? 0n;
}

export const allowanceKey = (from: Account, spender: Account): string => `${accountKey(from)}|${accountKey(spender)}`;

/** The live allowance: an expired approval reads as none. */
export function allowanceOf(store: LedgerStore, now: bigint, from: Account, spender: Account): Allowance {
  const stored = store.allowances.get(allowanceKey(from, spender));
  if (stored === undefined || (stored.expiresAt !== undefined && stored.expiresAt <= now)) return { amount: 0n };
  return stored;
}

function setBalance(store: LedgerStore, account: Account, balance: bigint): void {
  if (balance < 0n) throw new Error(`invariant broken: negative balance for ${accountKey(account)}`);
  if (balance === 0n) store.balances.delete(accountKey(account));
  else store.balances.set(accountKey(account), balance);
}

/** Checks shared by every mutation: caller, accounts, memo. */
function checkCommon(
  store: LedgerStore,
  caller: string,
  accounts: Array<Account | undefined>,
  memo: string | undefined
): GenericError | undefined {
  if (caller === ANONYMOUS_OWNER) return generic(ErrorCode.anonymousCaller, 'the anonymous principal cannot move tokens');
  for (const account of accounts) {
    if (account === undefined) continue;
    const problem = accountProblem(account);
    if (problem !== undefined)
      return generic(
        account.owner.length > 0 && problem.startsWith('subaccount') ? ErrorCode.badSubaccount : ErrorCode.badAccount,
        problem
      );
  }
  if (memo !== undefined && !/^(?:[0-9a-f]{2})*$/.test(memo)) return generic(ErrorCode.badMemo, 'memo is not hex bytes');
  const maxMemo = store.config().maxMemoLength;
  if (memo !== undefined && memo.length / 2 > maxMemo)
    return generic(ErrorCode.memoTooLong, `memo is ${memo.length / 2} bytes; at most ${maxMemo} allowed`);
  return undefined;
}

type TimeError =
  | { TooOld: null }
  | { CreatedInFuture: { ledger_time: bigint } }
  | { Duplicate: { duplicate_of: bigint } }
  | { TemporarilyUnavailable: null };

/** created_at_time rules of the reference ledger: TooOld, CreatedInFuture, Duplicate, throttling when the window is full. */
function checkTime(store: LedgerStore, now: bigint, createdAt: bigint | undefined, key: string): TimeError | undefined {
  // Forget what left the window first, so that a full window of expired entries never throttles new transactions.
  store.dedup.prune(now - TX_WINDOW_NS - PERMITTED_DRIFT_NS, PRUNE_PER_CALL);
  if (createdAt === undefined) return undefined;
  // ICRC-1: too old only before now − window − drift (a client's clock may lag by the permitted drift).
  if (createdAt + TX_WINDOW_NS + PERMITTED_DRIFT_NS < now) return { TooOld: null };
  if (createdAt > now + PERMITTED_DRIFT_NS) return { CreatedInFuture: { ledger_time: now } };
  const duplicate = store.dedup.get(key);
  if (duplicate !== undefined) return { Duplicate: { duplicate_of: duplicate } };
  if (store.dedup.size() >= store.config().maxTransactionsInWindow) return { TemporarilyUnavailable: null };
  return undefined;
}

const accountText = (a: Account | undefined): string =>
  a === undefined ? '-' : a.subaccount === undefined ? a.owner : `${a.owner}.${a.subaccount}`;
const optText = (v: bigint | string | undefined): string => (v === undefined ? '-' : String(v));

/** Two calls are the same transaction when their `tx` is the same (null and zero subaccounts differ, as in the reference). */
export function dedupKey(tx: Tx): string {
  return [
    tx.op,
    accountText(tx.from),
    accountText(tx.to),
    accountText(tx.spender),
    tx.amt,
    optText(tx.fee),
    optText(tx.memo),
    optText(tx.ts),
    optText(tx.expected_allowance),
    optText(tx.expires_at)
  ].join('|');
}

/**
 * Appends a block, updates the tip and the dedup index; returns the block index. The block is hashed later, with
 * the others of its round, by `certifyPending`: hashing costs the canister more than the whole transfer.
 */
function append(store: LedgerStore, now: bigint, tx: Tx, chargedFee: bigint | undefined, supplyDelta: bigint): bigint {
  const tip = store.tip();
  const block: StoredBlock = { ts: now, tx };
  if (chargedFee !== undefined && tx.fee === undefined) block.fee = chargedFee;
  const index = tip.blockCount;
  store.blocks.put(index, block);
  if (tx.ts !== undefined) store.dedup.add(dedupKey(tx), tx.ts, index);
  store.setTip({ ...tip, totalSupply: tip.totalSupply + supplyDelta, blockCount: index + 1n });
  return index;
}

/**
 * Burns must be at least the fee, or the whole balance when it is smaller; burning nothing is refused with the fee
 * as the minimum, as the reference ledger does.
 */
function burnProblem(store: LedgerStore, from: Account, amount: bigint): { BadBurn: { min_burn_amount: bigint } } | undefined {
  const fee = store.config().fee;
  if (amount === 0n) return { BadBurn: { min_burn_amount: fee } };
  const balance = balanceOf(store, from);
  const minBurn = fee < balance ? fee : balance;
  return amount < minBurn ? { BadBurn: { min_burn_amount: minBurn } } : undefined;
}

function withOptional(tx: Tx, fields: { fee?: bigint; memo?: string; ts?: bigint }): Tx {
  if (fields.fee !== undefined) tx.fee = fields.fee;
  if (fields.memo !== undefined) tx.memo = fields.memo;
  if (fields.ts !== undefined) tx.ts = fields.ts;
  return tx;
}

/** ICRC-1 `icrc1_transfer`: a transfer, a mint (from the minting account) or a burn (to it). */
export function transfer(store: LedgerStore, caller: string, now: bigint, args: TransferArgs): LedgerResult<bigint, TransferError> {
  const from: Account = args.fromSubaccount === undefined ? { owner: caller } : { owner: caller, subaccount: args.fromSubaccount };
  const common = checkCommon(store, caller, [from, args.to], args.memo);
  if (common !== undefined) return { Err: common };
  const config = store.config();
  const isMint = sameAccount(from, config.mintingAccount);
  const isBurn = sameAccount(args.to, config.mintingAccount);
  if (isMint && isBurn) return { Err: generic(ErrorCode.mintingAccountMisuse, 'the minting account cannot transfer to itself') };
  const optional = { memo: args.memo, ts: args.createdAtTime };
  let tx: Tx;
  if (isMint) {
    if (args.fee !== undefined && args.fee !== 0n) return { Err: { BadFee: { expected_fee: 0n } } };
    tx = withOptional({ op: 'mint', to: args.to, amt: args.amount }, optional);
  } else if (isBurn) {
    if (args.fee !== undefined && args.fee !== 0n) return { Err: { BadFee: { expected_fee: 0n } } };
    const badBurn = burnProblem(store, from, args.amount);
    if (badBurn !== undefined) return { Err: badBurn };
    tx = withOptional({ op: 'burn', from, amt: args.amount }, optional);
  } else {
    if (args.fee !== undefined && args.fee !== config.fee) return { Err: { BadFee: { expected_fee: config.fee } } };
    tx = withOptional({ op: 'xfer', from, to: args.to, amt: args.amount }, { ...optional, fee: args.fee });
  }
  const timeError = checkTime(store, now, args.createdAtTime, dedupKey(tx));
  if (timeError !== undefined) return { Err: timeError };

  if (isMint) {
    setBalance(store, args.to, balanceOf(store, args.to) + args.amount);
    return { Ok: append(store, now, tx, undefined, args.amount) };
  }
  const fee = isBurn ? 0n : config.fee;
  const balance = balanceOf(store, from);
  if (balance < args.amount + fee) return { Err: { InsufficientFunds: { balance } } };
  setBalance(store, from, balance - args.amount - fee);
  if (isBurn) return { Ok: append(store, now, tx, undefined, -args.amount) };
  setBalance(store, args.to, balanceOf(store, args.to) + args.amount);
  // The fee is burned (no fee collector), so it leaves the total supply.
  return { Ok: append(store, now, tx, fee, -fee) };
}

/** ICRC-2 `icrc2_approve`: sets (not adds to) the allowance and its expiry; the fee is charged even for 0. */
export function approve(store: LedgerStore, caller: string, now: bigint, args: ApproveArgs): LedgerResult<bigint, ApproveError> {
  const from: Account = args.fromSubaccount === undefined ? { owner: caller } : { owner: caller, subaccount: args.fromSubaccount };
  const common = checkCommon(store, caller, [from, args.spender], args.memo);
  if (common !== undefined) return { Err: common };
  const config = store.config();
  if (args.spender.owner === caller) return { Err: generic(ErrorCode.selfApproval, 'an account cannot approve its own owner') };
  if (sameAccount(from, config.mintingAccount))
    return { Err: generic(ErrorCode.mintingAccountMisuse, 'the minting account cannot approve') };
  if (args.fee !== undefined && args.fee !== config.fee) return { Err: { BadFee: { expected_fee: config.fee } } };
  const tx = withOptional(
    { op: 'approve', from, spender: args.spender, amt: args.amount },
    { fee: args.fee, memo: args.memo, ts: args.createdAtTime }
  );
  if (args.expectedAllowance !== undefined) tx.expected_allowance = args.expectedAllowance;
  if (args.expiresAt !== undefined) tx.expires_at = args.expiresAt;
  const timeError = checkTime(store, now, args.createdAtTime, dedupKey(tx));
  if (timeError !== undefined) return { Err: timeError };
  if (args.expiresAt !== undefined && args.expiresAt <= now) return { Err: { Expired: { ledger_time: now } } };

  const balance = balanceOf(store, from);
  if (balance < config.fee) return { Err: { InsufficientFunds: { balance } } };
  const current = allowanceOf(store, now, from, args.spender).amount;
  if (args.expectedAllowance !== undefined && args.expectedAllowance !== current)
    return { Err: { AllowanceChanged: { current_allowance: current } } };

  setBalance(store, from, balance - config.fee);
  const key = allowanceKey(from, args.spender);
  if (args.amount === 0n) store.allowances.delete(key);
  else
    store.allowances.set(key, args.expiresAt === undefined ? { amount: args.amount } : { amount: args.amount, expiresAt: args.expiresAt });
  return { Ok: append(store, now, tx, config.fee, -config.fee) };
}

/** ICRC-2 `icrc2_transfer_from`: spends an allowance (amount + fee) unless the spender is the source account. */
export function transferFrom(
  store: LedgerStore,
  caller: string,
  now: bigint,
  args: TransferFromArgs
): LedgerResult<bigint, TransferFromError> {
  const spender: Account = args.spenderSubaccount === undefined ? { owner: caller } : { owner: caller, subaccount: args.spenderSubaccount };
  const common = checkCommon(store, caller, [spender, args.from, args.to], args.memo);
  if (common !== undefined) return { Err: common };
  const config = store.config();
  if (sameAccount(args.from, config.mintingAccount))
    return { Err: generic(ErrorCode.mintingAccountMisuse, 'tokens cannot be minted through transfer_from') };
  const isBurn = sameAccount(args.to, config.mintingAccount);
  const optional = { memo: args.memo, ts: args.createdAtTime };
  let tx: Tx;
  if (isBurn) {
    if (args.fee !== undefined && args.fee !== 0n) return { Err: { BadFee: { expected_fee: 0n } } };
    const badBurn = burnProblem(store, args.from, args.amount);
    if (badBurn !== undefined) return { Err: badBurn };
    tx = withOptional({ op: 'burn', from: args.from, spender, amt: args.amount }, optional);
  } else {
    if (args.fee !== undefined && args.fee !== config.fee) return { Err: { BadFee: { expected_fee: config.fee } } };
    tx = withOptional({ op: 'xfer', from: args.from, to: args.to, spender, amt: args.amount }, { ...optional, fee: args.fee });
  }
  const timeError = checkTime(store, now, args.createdAtTime, dedupKey(tx));
  if (timeError !== undefined) return { Err: timeError };

  const fee = isBurn ? 0n : config.fee;
  const needed = args.amount + fee;
  const selfSpend = sameAccount(args.from, spender);
  const allowance = selfSpend ? undefined : allowanceOf(store, now, args.from, spender);
  if (allowance !== undefined && allowance.amount < needed) return { Err: { InsufficientAllowance: { allowance: allowance.amount } } };
  const balance = balanceOf(store, args.from);
  if (balance < needed) return { Err: { InsufficientFunds: { balance } } };

  setBalance(store, args.from, balance - needed);
  if (!isBurn) setBalance(store, args.to, balanceOf(store, args.to) + args.amount);
  if (allowance !== undefined) {
    const key = allowanceKey(args.from, spender);
    const left = allowance.amount - needed;
    if (left === 0n) store.allowances.delete(key);
    else store.allowances.set(key, allowance.expiresAt === undefined ? { amount: left } : { amount: left, expiresAt: allowance.expiresAt });
  }
  return isBurn ? { Ok: append(store, now, tx, undefined, -args.amount) } : { Ok: append(store, now, tx, fee, -fee) };
}

/** Mints the initial balances as mint blocks at install, as the reference ledger does. */
export function mintInitial(store: LedgerStore, now: bigint, balances: Array<[Account, bigint]>): void {
  for (const [account, amount] of balances) {
    if (amount === 0n) continue;
    setBalance(store, account, balanceOf(store, account) + amount);
    append(store, now, { op: 'mint', to: account, amt: amount }, undefined, amount);
  }
}
