import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import {
  allowanceOf,
  approve,
  balanceOf,
  blockHash,
  certifyPending,
  ErrorCode,
  getBlocks,
  makeLedgerConfig,
  memoryLedgerStore,
  mintInitial,
  transfer,
  transferFrom,
  type Account,
  type ApproveArgs,
  type ApproveError,
  type LedgerResult,
  type TransferError,
  type TransferFromError,
  type Block,
  type LedgerStore,
  type TransferArgs,
  type TransferFromArgs,
  type Tx
} from '../../../src/core/ledger/index.ts';

/**
 * Random sequences of ICRC-1/2 operations against a small reference model written from the standards (balances,
 * allowances, supply, deduplication), checking after every step that the ledger answers the same and stays sound.
 */

const SECOND = 1_000_000_000n;
const START = 1_700_000_000n * SECOND;
const FEE = 10n;
const OWNERS = ['aa'.repeat(10), 'bb'.repeat(10), 'cc'.repeat(10), 'dd'.repeat(10), 'ee'.repeat(10)] as const;
/** OWNERS[MINTER] owns the minting account (its default subaccount). */
const MINTER = 4;
const ZERO_SUB = '00'.repeat(32);
const SUBS = { none: undefined, zero: ZERO_SUB, one: '01'.repeat(32) } as const;
type Sub = keyof typeof SUBS;
type FeeChoice = 'none' | 'right' | 'zero' | 'wrong';
type MemoChoice = 'none' | 'empty' | 'short' | 'long';
const MEMOS: Record<MemoChoice, string | undefined> = { none: undefined, empty: '', short: 'ab', long: '00'.repeat(33) };

type Op =
  | {
      kind: 'transfer';
      caller: number;
      fromSub: Sub;
      to: number;
      toSub: Sub;
      amount: bigint;
      fee: FeeChoice;
      memo: MemoChoice;
      dedup: boolean;
    }
  | {
      kind: 'approve';
      caller: number;
      fromSub: Sub;
      spender: number;
      spenderSub: Sub;
      amount: bigint;
      fee: FeeChoice;
      memo: MemoChoice;
      dedup: boolean;
      expected: 'none' | 'current' | 'wrong';
      expires: 'none' | 'past' | 'now' | 'soon' | 'later';
    }
  | {
      kind: 'transferFrom';
      caller: number;
      spenderSub: Sub;
      from: number;
      fromSub: Sub;
      to: number;
      toSub: Sub;
      amount: bigint;
      fee: FeeChoice;
      memo: MemoChoice;
      dedup: boolean;
      /** Spend the `pick`-th approval the model knows of (live or not) instead of caller/from. */
      useApproval: boolean;
      pick: number;
    }
  | { kind: 'advance'; seconds: bigint }
  | { kind: 'certify'; max: number }
  /** Submits an earlier call again, verbatim or with one field spelled differently (a different transaction). */
  | { kind: 'replay'; pick: number; tweak: Tweak };

type Tweak = 'none' | 'fee' | 'memo' | 'subaccount';

/** A call with every choice resolved, so that it can be submitted again verbatim. */
type Call =
  | { kind: 'transfer'; caller: string; args: TransferArgs }
  | { kind: 'approve'; caller: string; args: ApproveArgs }
  | { kind: 'transferFrom'; caller: string; args: TransferFromArgs };

/** An approval as the model keeps it, with the accounts it was given for. */
interface Approval {
  amount: bigint;
  expiresAt?: bigint;
  from: Account;
  spender: Account;
}

type Outcome = { Ok: bigint } | { Err: Record<string, unknown> };

const account = (owner: number, sub: Sub): Account => {
  const subaccount = SUBS[sub];
  const name = OWNERS[owner] ?? OWNERS[0];
  return subaccount === undefined ? { owner: name } : { owner: name, subaccount };
};
const MINTING: Account = account(MINTER, 'none');

class Model {
  readonly balances = new Map<string, bigint>();
  readonly allowances = new Map<string, Approval>();
  readonly dedup = new Map<string, bigint>();
  supply = 0n;
  blocks = 0n;
  lastTx: { tx: Tx; fee?: bigint } | undefined;

  /** ICRC-1: a null subaccount and 32 zero bytes are the same account. */
  static key(a: Account): string {
    return a.subaccount === undefined || a.subaccount === ZERO_SUB ? a.owner : `${a.owner}/${a.subaccount}`;
  }
  static same(a: Account, b: Account): boolean {
    return Model.key(a) === Model.key(b);
  }
  balance(a: Account): bigint {
    return this.balances.get(Model.key(a)) ?? 0n;
  }
  private add(a: Account, delta: bigint): void {
    const next = this.balance(a) + delta;
    if (next < 0n) throw new Error('model went negative');
    if (next === 0n) this.balances.delete(Model.key(a));
    else this.balances.set(Model.key(a), next);
  }
  allowance(from: Account, spender: Account, now: bigint): { amount: bigint; expiresAt?: bigint } {
    const stored = this.allowances.get(`${Model.key(from)}>${Model.key(spender)}`);
    return stored === undefined || (stored.expiresAt !== undefined && stored.expiresAt <= now) ? { amount: 0n } : stored;
  }
  private setAllowance(from: Account, spender: Account, value: { amount: bigint; expiresAt?: bigint }): void {
    const k = `${Model.key(from)}>${Model.key(spender)}`;
    if (value.amount === 0n) this.allowances.delete(k);
    else
      this.allowances.set(
        k,
        value.expiresAt === undefined
          ? { amount: value.amount, from, spender }
          : { amount: value.amount, expiresAt: value.expiresAt, from, spender }
      );
  }

  /** A transaction is deduplicated on its ICRC-3 `tx`, which holds exactly what the caller stated. */
  private duplicate(tx: Tx): bigint | undefined {
    return tx.ts === undefined ? undefined : this.dedup.get(JSON.stringify(tx, (_, v: unknown) => (typeof v === 'bigint' ? `${v}` : v)));
  }
  private commit(tx: Tx, fee: bigint | undefined, supplyDelta: bigint): Outcome {
    if (tx.ts !== undefined)
      this.dedup.set(
        JSON.stringify(tx, (_, v: unknown) => (typeof v === 'bigint' ? `${v}` : v)),
        this.blocks
      );
    this.supply += supplyDelta;
    this.lastTx = fee === undefined ? { tx } : { tx, fee };
    return { Ok: this.blocks++ };
  }

  apply(call: Call, now: bigint): Outcome {
    if (call.kind === 'transfer') return this.transfer(call.caller, call.args);
    if (call.kind === 'approve') return this.approve(call.caller, call.args, now);
    return this.transferFrom(call.caller, call.args, now);
  }

  private transfer(caller: string, args: TransferArgs): Outcome {
    const from: Account = args.fromSubaccount === undefined ? { owner: caller } : { owner: caller, subaccount: args.fromSubaccount };
    if (args.memo !== undefined && args.memo.length > 64) return generic(ErrorCode.memoTooLong);
    const mint = Model.same(from, MINTING);
    const burn = Model.same(args.to, MINTING);
    if (mint && burn) return generic(ErrorCode.mintingAccountMisuse);
    const optional = {
      ...(args.memo === undefined ? {} : { memo: args.memo }),
      ...(args.createdAtTime === undefined ? {} : { ts: args.createdAtTime })
    };
    if (mint || burn) {
      if (args.fee !== undefined && args.fee !== 0n) return { Err: { BadFee: { expected_fee: 0n } } };
    } else if (args.fee !== undefined && args.fee !== FEE) return { Err: { BadFee: { expected_fee: FEE } } };
    const balance = this.balance(from);
    if (burn) {
      const min = balance < FEE ? balance : FEE;
      if (args.amount < min) return { Err: { BadBurn: { min_burn_amount: min } } };
    }
    const tx: Tx = mint
      ? { op: 'mint', to: args.to, amt: args.amount, ...optional }
      : burn
        ? { op: 'burn', from, amt: args.amount, ...optional }
        : { op: 'xfer', from, to: args.to, amt: args.amount, ...(args.fee === undefined ? {} : { fee: args.fee }), ...optional };
    const dup = this.duplicate(tx);
    if (dup !== undefined) return { Err: { Duplicate: { duplicate_of: dup } } };
    if (mint) {
      this.add(args.to, args.amount);
      return this.commit(tx, undefined, args.amount);
    }
    const cost = args.amount + (burn ? 0n : FEE);
    if (balance < cost) return { Err: { InsufficientFunds: { balance } } };
    this.add(from, -cost);
    if (burn) return this.commit(tx, undefined, -args.amount);
    this.add(args.to, args.amount);
    return this.commit(tx, args.fee === undefined ? FEE : undefined, -FEE);
  }

  private approve(caller: string, args: ApproveArgs, now: bigint): Outcome {
    const from: Account = args.fromSubaccount === undefined ? { owner: caller } : { owner: caller, subaccount: args.fromSubaccount };
    if (args.memo !== undefined && args.memo.length > 64) return generic(ErrorCode.memoTooLong);
    if (args.spender.owner === caller) return generic(ErrorCode.selfApproval);
    if (Model.same(from, MINTING)) return generic(ErrorCode.mintingAccountMisuse);
    if (args.fee !== undefined && args.fee !== FEE) return { Err: { BadFee: { expected_fee: FEE } } };
    const tx: Tx = {
      op: 'approve',
      from,
      spender: args.spender,
      amt: args.amount,
      ...(args.fee === undefined ? {} : { fee: args.fee }),
      ...(args.memo === undefined ? {} : { memo: args.memo }),
      ...(args.createdAtTime === undefined ? {} : { ts: args.createdAtTime }),
      ...(args.expectedAllowance === undefined ? {} : { expected_allowance: args.expectedAllowance }),
      ...(args.expiresAt === undefined ? {} : { expires_at: args.expiresAt })
    };
    const dup = this.duplicate(tx);
    if (dup !== undefined) return { Err: { Duplicate: { duplicate_of: dup } } };
    // ICRC-2 leaves the order of these three to the ledger; this is the order this ledger documents.
    if (args.expiresAt !== undefined && args.expiresAt <= now) return { Err: { Expired: { ledger_time: now } } };
    const balance = this.balance(from);
    if (balance < FEE) return { Err: { InsufficientFunds: { balance } } };
    const current = this.allowance(from, args.spender, now).amount;
    if (args.expectedAllowance !== undefined && args.expectedAllowance !== current)
      return { Err: { AllowanceChanged: { current_allowance: current } } };
    this.add(from, -FEE);
    this.setAllowance(
      from,
      args.spender,
      args.expiresAt === undefined ? { amount: args.amount } : { amount: args.amount, expiresAt: args.expiresAt }
    );
    return this.commit(tx, args.fee === undefined ? FEE : undefined, -FEE);
  }

  private transferFrom(caller: string, args: TransferFromArgs, now: bigint): Outcome {
    const spender: Account =
      args.spenderSubaccount === undefined ? { owner: caller } : { owner: caller, subaccount: args.spenderSubaccount };
    if (args.memo !== undefined && args.memo.length > 64) return generic(ErrorCode.memoTooLong);
    if (Model.same(args.from, MINTING)) return generic(ErrorCode.mintingAccountMisuse);
    const burn = Model.same(args.to, MINTING);
    const optional = {
      ...(args.memo === undefined ? {} : { memo: args.memo }),
      ...(args.createdAtTime === undefined ? {} : { ts: args.createdAtTime })
    };
    const balance = this.balance(args.from);
    let tx: Tx;
    if (burn) {
      if (args.fee !== undefined && args.fee !== 0n) return { Err: { BadFee: { expected_fee: 0n } } };
      const min = balance < FEE ? balance : FEE;
      if (args.amount < min) return { Err: { BadBurn: { min_burn_amount: min } } };
      tx = { op: 'burn', from: args.from, spender, amt: args.amount, ...optional };
    } else {
      if (args.fee !== undefined && args.fee !== FEE) return { Err: { BadFee: { expected_fee: FEE } } };
      tx = {
        op: 'xfer',
        from: args.from,
        to: args.to,
        spender,
        amt: args.amount,
        ...(args.fee === undefined ? {} : { fee: args.fee }),
        ...optional
      };
    }
    const dup = this.duplicate(tx);
    if (dup !== undefined) return { Err: { Duplicate: { duplicate_of: dup } } };
    const cost = args.amount + (burn ? 0n : FEE);
    const own = Model.same(args.from, spender);
    const allowance = this.allowance(args.from, spender, now);
    if (!own && allowance.amount < cost) return { Err: { InsufficientAllowance: { allowance: allowance.amount } } };
    if (balance < cost) return { Err: { InsufficientFunds: { balance } } };
    this.add(args.from, -cost);
    if (!burn) this.add(args.to, args.amount);
    if (!own)
      this.setAllowance(
        args.from,
        spender,
        allowance.expiresAt === undefined
          ? { amount: allowance.amount - cost }
          : { amount: allowance.amount - cost, expiresAt: allowance.expiresAt }
      );
    return burn ? this.commit(tx, undefined, -args.amount) : this.commit(tx, args.fee === undefined ? FEE : undefined, -FEE);
  }
}

function generic(code: bigint): Outcome {
  return { Err: { GenericError: { error_code: code } } };
}

/** The ledger's answer, with the free-text message of a GenericError left out. */
function outcome(result: LedgerResult<bigint, TransferError | ApproveError | TransferFromError>): Outcome {
  if ('Ok' in result) return { Ok: result.Ok };
  const err = result.Err;
  if ('GenericError' in err) {
    expect(err.GenericError.message).toEqual(expect.any(String));
    return generic(err.GenericError.error_code);
  }
  return { Err: { ...err } };
}

function feeFor(choice: FeeChoice, standard: bigint): bigint | undefined {
  return choice === 'none' ? undefined : choice === 'right' ? standard : choice === 'zero' ? 0n : standard + 1n;
}

/** Resolves an operation's choices against the current state into a concrete call. */
function resolve(op: Exclude<Op, { kind: 'advance' | 'certify' | 'replay' }>, model: Model, now: bigint): Call {
  const memo = MEMOS[op.memo];
  const optional = { ...(memo === undefined ? {} : { memo }), ...(op.dedup ? { createdAtTime: now } : {}) };
  if (op.kind === 'transfer') {
    const from = account(op.caller, op.fromSub);
    const to = account(op.to, op.toSub);
    const zeroFee = Model.same(from, MINTING) || Model.same(to, MINTING);
    // Burning zero from an empty account is asserted in ledger.test.ts (the reference answers min_burn_amount = fee).
    const amount = Model.same(to, MINTING) && op.amount === 0n ? 1n : op.amount;
    const fee = feeFor(op.fee, zeroFee ? 0n : FEE);
    const subaccount = SUBS[op.fromSub];
    return {
      kind: 'transfer',
      caller: from.owner,
      args: {
        ...(subaccount === undefined ? {} : { fromSubaccount: subaccount }),
        to,
        amount,
        ...(fee === undefined ? {} : { fee }),
        ...optional
      }
    };
  }
  if (op.kind === 'approve') {
    const from = account(op.caller, op.fromSub);
    const spender = account(op.spender, op.spenderSub);
    const current = model.allowance(from, spender, now).amount;
    const expected = op.expected === 'none' ? undefined : op.expected === 'current' ? current : current + 1n;
    const expiresAt = { none: undefined, past: now - SECOND, now, soon: now + 60n * SECOND, later: now + 3_600n * SECOND }[op.expires];
    const fee = feeFor(op.fee, FEE);
    const subaccount = SUBS[op.fromSub];
    const args: ApproveArgs = {
      ...(subaccount === undefined ? {} : { fromSubaccount: subaccount }),
      spender,
      amount: op.amount,
      ...(expected === undefined ? {} : { expectedAllowance: expected }),
      ...(expiresAt === undefined ? {} : { expiresAt }),
      ...(fee === undefined ? {} : { fee }),
      ...optional
    };
    return { kind: 'approve', caller: from.owner, args };
  }
  const to = account(op.to, op.toSub);
  const burn = Model.same(to, MINTING);
  const amount = burn && op.amount === 0n ? 1n : op.amount;
  const fee = feeFor(op.fee, burn ? 0n : FEE);
  const approvals = [...model.allowances.values()];
  const approval = op.useApproval ? approvals[op.pick % Math.max(approvals.length, 1)] : undefined;
  const spender = approval?.spender ?? account(op.caller, op.spenderSub);
  const from = approval?.from ?? account(op.from, op.fromSub);
  return {
    kind: 'transferFrom',
    caller: spender.owner,
    args: {
      ...(spender.subaccount === undefined ? {} : { spenderSubaccount: spender.subaccount }),
      from,
      to,
      amount,
      ...(fee === undefined ? {} : { fee }),
      ...optional
    }
  };
}

/** Null and zero subaccounts are one account but two spellings of a transaction. */
const respell = (a: Account): Account =>
  a.subaccount === undefined ? { owner: a.owner, subaccount: ZERO_SUB } : a.subaccount === ZERO_SUB ? { owner: a.owner } : a;
const toggle = <T>(value: T | undefined, stated: T): T | undefined => (value === undefined ? stated : undefined);

function tweak(call: Call, how: Tweak): Call {
  if (how === 'none') return call;
  if (call.kind === 'transfer') {
    const { fee, memo, ...rest } = call.args;
    const from: Account =
      call.args.fromSubaccount === undefined ? { owner: call.caller } : { owner: call.caller, subaccount: call.args.fromSubaccount };
    const nextFee = how === 'fee' ? toggle(fee, Model.same(from, MINTING) || Model.same(rest.to, MINTING) ? 0n : FEE) : fee;
    const nextMemo = how === 'memo' ? toggle(memo, '') : memo;
    const args: TransferArgs = {
      ...rest,
      ...(how === 'subaccount' ? { to: respell(rest.to) } : {}),
      ...(nextFee === undefined ? {} : { fee: nextFee }),
      ...(nextMemo === undefined ? {} : { memo: nextMemo })
    };
    return { kind: 'transfer', caller: call.caller, args };
  }
  if (call.kind === 'approve') {
    const { fee, memo, ...rest } = call.args;
    const nextFee = how === 'fee' ? toggle(fee, FEE) : fee;
    const nextMemo = how === 'memo' ? toggle(memo, '') : memo;
    const args: ApproveArgs = {
      ...rest,
      ...(how === 'subaccount' ? { spender: respell(rest.spender) } : {}),
      ...(nextFee === undefined ? {} : { fee: nextFee }),
      ...(nextMemo === undefined ? {} : { memo: nextMemo })
    };
    return { kind: 'approve', caller: call.caller, args };
  }
  const { fee, memo, ...rest } = call.args;
  const nextFee = how === 'fee' ? toggle(fee, Model.same(rest.to, MINTING) ? 0n : FEE) : fee;
  const nextMemo = how === 'memo' ? toggle(memo, '') : memo;
  const args: TransferFromArgs = {
    ...rest,
    ...(how === 'subaccount' ? { to: respell(rest.to) } : {}),
    ...(nextFee === undefined ? {} : { fee: nextFee }),
    ...(nextMemo === undefined ? {} : { memo: nextMemo })
  };
  return { kind: 'transferFrom', caller: call.caller, args };
}

function submit(store: LedgerStore, call: Call, now: bigint): Outcome {
  if (call.kind === 'transfer') return outcome(transfer(store, call.caller, now, call.args));
  if (call.kind === 'approve') return outcome(approve(store, call.caller, now, call.args));
  return outcome(transferFrom(store, call.caller, now, call.args));
}

const who = fc.integer({ min: 0, max: OWNERS.length - 1 });
// Biased towards what succeeds, so that sequences build up balances and allowances worth spending.
const sub = fc.constantFrom<Sub>('none', 'none', 'none', 'zero', 'one');
const fee = fc.constantFrom<FeeChoice>('none', 'none', 'none', 'none', 'none', 'right', 'zero', 'wrong');
const memo = fc.constantFrom<MemoChoice>('none', 'none', 'none', 'none', 'none', 'none', 'empty', 'short', 'long');
const amount = fc.bigInt({ min: 0n, max: 120n });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('transfer' as const),
      caller: who,
      fromSub: sub,
      to: who,
      toSub: sub,
      amount,
      fee,
      memo,
      dedup: fc.boolean()
    })
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('approve' as const),
      caller: who,
      fromSub: sub,
      spender: who,
      spenderSub: sub,
      amount: fc.bigInt({ min: 0n, max: 400n }),
      fee,
      memo,
      dedup: fc.boolean(),
      expected: fc.constantFrom('none' as const, 'none' as const, 'current' as const, 'wrong' as const),
      expires: fc.constantFrom('none' as const, 'none' as const, 'past' as const, 'now' as const, 'soon' as const, 'later' as const)
    })
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('transferFrom' as const),
      caller: who,
      spenderSub: sub,
      from: who,
      fromSub: sub,
      to: who,
      toSub: sub,
      amount,
      fee,
      memo,
      dedup: fc.boolean(),
      useApproval: fc.constantFrom(true, true, true, false),
      pick: fc.nat()
    })
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('advance' as const), seconds: fc.bigInt({ min: 0n, max: 600n }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('certify' as const), max: fc.integer({ min: 0, max: 4 }) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('replay' as const),
      pick: fc.nat(),
      tweak: fc.constantFrom<Tweak>('none', 'none', 'fee', 'memo', 'subaccount')
    })
  }
);

const ALL_ACCOUNTS: Account[] = OWNERS.flatMap((_, i) => (['none', 'zero', 'one'] as const).map((s) => account(i, s)));

function block(store: LedgerStore, index: bigint): Block {
  const got = getBlocks(store, [{ start: index, length: 1n }]).blocks[0];
  if (got === undefined || got.id !== index) throw new Error(`block ${index} missing`);
  return got.block;
}

function runScenario(ops: Op[]): void {
  const made = makeLedgerConfig({ name: 'Model', symbol: 'MDL', fee: FEE, mintingAccount: MINTING, initialBalances: [], metadata: [] });
  if ('Err' in made) throw new Error(made.Err);
  const store = memoryLedgerStore(made.Ok);
  const model = new Model();
  const initial: Array<[Account, bigint]> = [
    [account(0, 'none'), 1_000n],
    [account(1, 'none'), 1_000n],
    [account(1, 'one'), 300n],
    [account(2, 'zero'), 500n],
    [account(3, 'none'), 200n],
    [account(MINTER, 'one'), 100n]
  ];
  mintInitial(store, START, initial);
  for (const [a, amt] of initial) model.apply({ kind: 'transfer', caller: MINTING.owner, args: { to: a, amount: amt } }, START);
  const hashes: string[] = [];
  for (let i = 0n; i < model.blocks; i++) hashes.push(blockHash(block(store, i)));

  let now = START;
  const history: Call[] = [];
  ops.forEach((op, step) => {
    const where = `step ${step}: ${JSON.stringify(op, (_, v: unknown) => (typeof v === 'bigint' ? `${v}` : v))}`;
    if (op.kind === 'advance') {
      now += op.seconds * SECOND;
      return;
    }
    if (op.kind === 'certify') {
      const before = store.tip().hashedCount;
      const tip = certifyPending(store, op.max);
      const hashed = store.tip().hashedCount;
      expect(hashed, where).toBe(before + BigInt(Math.min(op.max, Number(model.blocks - before))));
      expect(tip, where).toEqual(
        hashed === 0n ? undefined : { lastIndex: hashed - 1n, lastHash: hashes[Number(hashed - 1n)], pending: model.blocks - hashed }
      );
      for (let i = before; i < hashed; i++) expect(store.blocks.getHash(i), where).toBe(hashes[Number(i)]);
      return;
    }
    let call: Call;
    if (op.kind === 'replay') {
      const again = history[op.pick % Math.max(history.length, 1)];
      if (again === undefined) return;
      call = tweak(again, op.tweak);
    } else {
      call = resolve(op, model, now);
      history.push(call);
    }
    const expected = model.apply(call, now);
    const actual = submit(store, call, now);
    expect(actual, where).toEqual(expected);

    const tip = store.tip();
    expect(tip.blockCount, where).toBe(model.blocks);
    expect(tip.totalSupply, where).toBe(model.supply);
    let sum = 0n;
    for (const [, balance] of store.balances.entries()) {
      expect(balance, where).toBeGreaterThan(0n);
      sum += balance;
    }
    expect(sum, where).toBe(tip.totalSupply);
    expect(
      ALL_ACCOUNTS.map((a) => balanceOf(store, a)),
      `${where}: balances`
    ).toEqual(ALL_ACCOUNTS.map((a) => model.balance(a)));
    const pairs = ALL_ACCOUNTS.flatMap((from) => ALL_ACCOUNTS.map((spender): [Account, Account] => [from, spender]));
    const live = (a: { amount: bigint; expiresAt?: bigint }): string => `${a.amount}@${a.expiresAt ?? '-'}`;
    expect(
      pairs.map(([from, spender]) => live(allowanceOf(store, now, from, spender))),
      `${where}: allowances`
    ).toEqual(pairs.map(([from, spender]) => live(model.allowance(from, spender, now))));

    if ('Ok' in actual) {
      // Dense indices; the new block links to the previous one and records what the model expected.
      const index = actual.Ok;
      expect(index, where).toBe(BigInt(hashes.length));
      const got = block(store, index);
      expect(got.phash, where).toBe(hashes[hashes.length - 1]);
      expect(got.ts, where).toBe(now);
      expect(got.tx, where).toEqual(model.lastTx?.tx);
      expect(got.fee, where).toBe(model.lastTx?.fee);
      hashes.push(blockHash(got));
      expect(getBlocks(store, [{ start: index + 1n, length: 5n }]).blocks, where).toEqual([]);
    }
  });

  // The whole chain, read back a response at a time, and its certification from scratch to the end.
  const count = store.tip().blockCount;
  const all: Block[] = [];
  for (let start = 0n; start < count; start += 100n) all.push(...getBlocks(store, [{ start, length: 100n }]).blocks.map((b) => b.block));
  expect(all.map((b) => blockHash(b))).toEqual(hashes);
  all.forEach((b, i) => expect(b.phash).toBe(i === 0 ? undefined : hashes[i - 1]));
  const final = certifyPending(store, 10_000);
  expect(final).toEqual({ lastIndex: count - 1n, lastHash: hashes[hashes.length - 1], pending: 0n });
}

describe('ledger against a reference model (property)', () => {
  it('agrees with the model on every result, balance, allowance and block, keeping supply and the hash chain sound', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 30, size: 'max' }), (ops) => {
        runScenario(ops);
      }),
      { numRuns: 100 }
    );
  });

  it('replays a scenario that exercises every kind of outcome', () => {
    const ops: Op[] = [
      { kind: 'transfer', caller: 0, fromSub: 'none', to: 1, toSub: 'none', amount: 50n, fee: 'none', memo: 'short', dedup: true },
      { kind: 'replay', pick: 0, tweak: 'none' },
      { kind: 'replay', pick: 0, tweak: 'fee' },
      { kind: 'replay', pick: 0, tweak: 'memo' },
      { kind: 'replay', pick: 0, tweak: 'subaccount' },
      { kind: 'transfer', caller: 3, fromSub: 'none', to: 1, toSub: 'none', amount: 5n, fee: 'none', memo: 'none', dedup: false },
      { kind: 'transfer', caller: 0, fromSub: 'none', to: 1, toSub: 'none', amount: 5n, fee: 'wrong', memo: 'none', dedup: false },
      { kind: 'transfer', caller: 0, fromSub: 'none', to: MINTER, toSub: 'zero', amount: 3n, fee: 'none', memo: 'none', dedup: false },
      { kind: 'transfer', caller: MINTER, fromSub: 'zero', to: 3, toSub: 'one', amount: 40n, fee: 'zero', memo: 'none', dedup: true },
      { kind: 'transfer', caller: MINTER, fromSub: 'none', to: MINTER, toSub: 'none', amount: 1n, fee: 'none', memo: 'none', dedup: false },
      { kind: 'transfer', caller: 0, fromSub: 'none', to: 2, toSub: 'none', amount: 1n, fee: 'none', memo: 'long', dedup: false },
      {
        kind: 'approve',
        caller: 0,
        fromSub: 'zero',
        spender: 2,
        spenderSub: 'one',
        amount: 100n,
        fee: 'none',
        memo: 'none',
        dedup: true,
        expected: 'current',
        expires: 'soon'
      },
      {
        kind: 'approve',
        caller: 0,
        fromSub: 'none',
        spender: 2,
        spenderSub: 'one',
        amount: 100n,
        fee: 'none',
        memo: 'none',
        dedup: false,
        expected: 'wrong',
        expires: 'none'
      },
      {
        kind: 'approve',
        caller: 0,
        fromSub: 'none',
        spender: 0,
        spenderSub: 'one',
        amount: 1n,
        fee: 'none',
        memo: 'none',
        dedup: false,
        expected: 'none',
        expires: 'none'
      },
      {
        kind: 'approve',
        caller: 0,
        fromSub: 'none',
        spender: 3,
        spenderSub: 'none',
        amount: 1n,
        fee: 'none',
        memo: 'none',
        dedup: false,
        expected: 'none',
        expires: 'past'
      },
      {
        kind: 'approve',
        caller: 3,
        fromSub: 'none',
        spender: 0,
        spenderSub: 'none',
        amount: 1n,
        fee: 'none',
        memo: 'none',
        dedup: false,
        expected: 'none',
        expires: 'none'
      },
      {
        kind: 'transferFrom',
        caller: 2,
        spenderSub: 'one',
        from: 0,
        fromSub: 'none',
        to: 3,
        toSub: 'none',
        amount: 20n,
        fee: 'none',
        memo: 'none',
        dedup: true,
        useApproval: false,
        pick: 0
      },
      {
        kind: 'transferFrom',
        caller: 2,
        spenderSub: 'one',
        from: 0,
        fromSub: 'none',
        to: MINTER,
        toSub: 'none',
        amount: 60n,
        fee: 'none',
        memo: 'none',
        dedup: false,
        useApproval: false,
        pick: 0
      },
      {
        kind: 'transferFrom',
        caller: 2,
        spenderSub: 'one',
        from: 0,
        fromSub: 'none',
        to: MINTER,
        toSub: 'none',
        amount: 60n,
        fee: 'none',
        memo: 'none',
        dedup: false,
        useApproval: false,
        pick: 0
      },
      {
        kind: 'transferFrom',
        caller: 2,
        spenderSub: 'one',
        from: 0,
        fromSub: 'none',
        to: MINTER,
        toSub: 'none',
        amount: 5n,
        fee: 'none',
        memo: 'none',
        dedup: false,
        useApproval: false,
        pick: 0
      },
      {
        kind: 'transferFrom',
        caller: 1,
        spenderSub: 'one',
        from: 1,
        fromSub: 'one',
        to: 0,
        toSub: 'none',
        amount: 30n,
        fee: 'right',
        memo: 'none',
        dedup: false,
        useApproval: false,
        pick: 0
      },
      {
        kind: 'transferFrom',
        caller: 2,
        spenderSub: 'none',
        from: MINTER,
        fromSub: 'none',
        to: 0,
        toSub: 'none',
        amount: 1n,
        fee: 'none',
        memo: 'none',
        dedup: false,
        useApproval: false,
        pick: 0
      },
      { kind: 'certify', max: 3 },
      { kind: 'advance', seconds: 60n },
      {
        kind: 'transferFrom',
        caller: 2,
        spenderSub: 'one',
        from: 0,
        fromSub: 'none',
        to: 3,
        toSub: 'none',
        amount: 1n,
        fee: 'none',
        memo: 'none',
        dedup: false,
        useApproval: false,
        pick: 0
      },
      { kind: 'replay', pick: 8, tweak: 'none' },
      { kind: 'certify', max: 4 }
    ];
    runScenario(ops);
  });
});
