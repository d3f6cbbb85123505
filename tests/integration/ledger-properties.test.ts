import {
  Certificate,
  HttpAgent,
  lookupResultToBuffer,
  reconstruct,
  type ActorSubclass,
  type HashTree,
  type NodeHash,
  type NodeLabel,
  type NodeValue
} from '@dfinity/agent';
import { decode as decodeCbor } from '@dfinity/cbor';
import { Ed25519KeyIdentity } from '@dfinity/identity';
import type { Principal } from '@dfinity/principal';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  ledgerUpgradeArg,
  type Account,
  type ApproveArgs,
  type TransferArgs,
  type TransferFromArgs
} from '../../src/interface/ledger/index.ts';
import { hashValue, leb128 } from '../../src/core/ledger/index.ts';
import { Localnet } from '../../src/localnet/localnet.ts';
import {
  FEE,
  account,
  approveArgs,
  ledgerActor,
  ledgerInit,
  ledgerWasm,
  transferArgs,
  transferFromArgs,
  type LedgerActor,
  type LedgerResult,
  type Value
} from '../support/ledger.ts';
import { agentFor } from '../support/probe.ts';

/**
 * Random sequences of ICRC-1/2 calls against the built ledger Wasm, each checked step by step against a small
 * reference model written from the ICRC-1/2/3 standards (balances, allowances with expiry, supply, deduplication,
 * the block each success appends). The order in which errors win when several apply follows the canister's
 * documented order (common checks, fee, created_at_time, then funds/allowance).
 */

const MINUTE_NS = 60_000_000_000n;
const HOUR_NS = 60n * MINUTE_NS;
const DAY_NS = 24n * HOUR_NS;
const MAX_MEMO_BYTES = 32;
/** GenericError codes the ledger documents (src/core/ledger/limits.ts). */
const MEMO_TOO_LONG = 3n;
const MINTING_ACCOUNT_MISUSE = 4n;
const SELF_APPROVAL = 5n;

// ---------------------------------------------------------------- generated operations

type Sub = 'none' | 'zero' | 'one' | 'two';
/** An account by identity (0 is the minter) and subaccount spelling; 'none' and 'zero' are one balance. */
interface Ref {
  who: number;
  sub: Sub;
}
interface Extras {
  fee: 'omit' | 'exact' | 'wrong';
  time: 'omit' | 'now' | 'old' | 'future';
  memo: 'omit' | 'short' | 'long';
}
type Op =
  | ({ kind: 'transfer'; from: Ref; to: Ref; amount: bigint } & Extras)
  | ({ kind: 'mint'; zeroSub: boolean; to: Ref; amount: bigint } & Extras)
  | ({ kind: 'burn'; from: Ref; zeroSub: boolean; amount: bigint } & Extras)
  | ({
      kind: 'approve';
      from: Ref;
      spender: { offset: number; sub: Sub };
      amount: bigint;
      expected: 'omit' | 'current' | 'wrong';
      expiry: 'omit' | 'past' | 'soon' | 'later';
    } & Extras)
  | ({
      kind: 'transfer_from';
      spender: Ref;
      from: Ref;
      to: Ref;
      amount: bigint;
      spend: 'amount' | 'half' | 'all';
      useApproval: number | null;
    } & Extras)
  | { kind: 'repeat'; back: number }
  | { kind: 'advance'; hours: number };

type Call =
  | { method: 'icrc1_transfer'; caller: number; args: TransferArgs }
  | { method: 'icrc2_approve'; caller: number; args: ApproveArgs }
  | { method: 'icrc2_transfer_from'; caller: number; args: TransferFromArgs };

/** One of `choices`, each as likely as its weight. */
const weighted = <T>(...choices: Array<[number, T]>): fc.Arbitrary<T> =>
  fc.oneof(...choices.map(([weight, value]) => ({ weight, arbitrary: fc.constant(value) })));
/** Identity 0 is the minter, whose default account is the minting account. */
const refArb = (whoMin = 0): fc.Arbitrary<Ref> =>
  fc.record({
    who: whoMin === 0 ? weighted([1, 0], [3, 1], [3, 2], [3, 3]) : fc.integer({ min: whoMin, max: 3 }),
    sub: weighted<Sub>([6, 'none'], [3, 'one'], [2, 'zero'], [1, 'two'])
  });
// Mostly valid calls, so that state builds up; each way of failing stays frequent enough to meet every few runs.
const extras = {
  fee: weighted<Extras['fee']>([8, 'omit'], [3, 'exact'], [1, 'wrong']),
  time: weighted<Extras['time']>([6, 'omit'], [4, 'now'], [1, 'old'], [1, 'future']),
  memo: weighted<Extras['memo']>([12, 'omit'], [3, 'short'], [1, 'long'])
};
const fundsArb = fc.oneof({ weight: 1, arbitrary: fc.constant(0n) }, { weight: 5, arbitrary: fc.bigInt(50n * FEE, 1000n * FEE) });
const allowanceArb = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom(0n, 1n, FEE) },
  { weight: 4, arbitrary: fc.bigInt(2n * FEE, 100n * FEE) }
);
const amountArb = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(0n, 1n, FEE - 1n, FEE, FEE + 1n) },
  { weight: 5, arbitrary: fc.bigInt(1n, 40n * FEE) },
  { weight: 1, arbitrary: fc.bigInt(1n, 10n ** 12n) }
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('transfer'), from: refArb(), to: refArb(), amount: amountArb, ...extras }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('mint'), zeroSub: fc.boolean(), to: refArb(), amount: fc.bigInt(0n, 200n * FEE), ...extras })
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('burn'), from: refArb(), zeroSub: fc.boolean(), amount: amountArb, ...extras }) },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('approve'),
      from: refArb(),
      // The spender's identity is `offset` after the approver's; 0, approving oneself, is refused (GenericError).
      spender: fc.record({
        offset: weighted([1, 0], [3, 1], [3, 2], [3, 3]),
        sub: weighted<Sub>([6, 'none'], [3, 'one'], [2, 'zero'], [1, 'two'])
      }),
      amount: allowanceArb,
      expected: weighted<'omit' | 'current' | 'wrong'>([6, 'omit'], [3, 'current'], [1, 'wrong']),
      expiry: weighted<'omit' | 'past' | 'soon' | 'later'>([6, 'omit'], [1, 'past'], [2, 'soon'], [2, 'later']),
      ...extras
    })
  },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('transfer_from'),
      spender: refArb(),
      from: refArb(),
      to: refArb(),
      amount: amountArb,
      // 'half' and 'all' (allowance minus the fee) spend from the current allowance instead of `amount`.
      spend: weighted<'amount' | 'half' | 'all'>([3, 'amount'], [2, 'half'], [1, 'all']),
      useApproval: fc.option(fc.nat(), { freq: 4 }),
      ...extras
    })
  },
  // Mostly one of the last few calls, so that a call with created_at_time meets its Duplicate.
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('repeat'), back: fc.oneof({ weight: 2, arbitrary: fc.constant(0) }, fc.nat(3), fc.nat()) })
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('advance'), hours: fc.integer({ min: 1, max: 2 }) }) }
);
/** Install-time balances: each user's default and 'one' accounts (none when 0), then a few more, repeats allowed. */
const initialArb = fc
  .tuple(fc.array(fundsArb, { minLength: 6, maxLength: 6 }), fc.array(fc.tuple(refArb(1), fundsArb), { maxLength: 3 }))
  .map(([funded, others]): Array<[Ref, bigint]> => [
    ...funded.map((amount, i): [Ref, bigint] => [{ who: (i % 3) + 1, sub: i < 3 ? 'none' : 'one' }, amount]),
    ...others
  ]);

// ---------------------------------------------------------------- the reference model

const hex = (bytes: Uint8Array | number[]): string => Buffer.from(bytes).toString('hex');
const SUBACCOUNTS: Record<Sub, Uint8Array | undefined> = {
  none: undefined,
  zero: new Uint8Array(32),
  one: new Uint8Array(32).fill(1),
  two: new Uint8Array(32).fill(2)
};

/** The ICRC-1 account identity: a missing subaccount and 32 zero bytes are the same account. */
function keyOf(a: Account): string {
  const sub = a.subaccount[0];
  return sub === undefined || sub.every((b) => b === 0) ? a.owner.toText() : `${a.owner.toText()}.${hex(sub)}`;
}
/** An account as ICRC-3 writes it in a block, spelled exactly as the caller gave it. */
const accountPlain = (a: Account): string[] => [hex(a.owner.toUint8Array()), ...a.subaccount.map(hex)];

type Plain = Record<string, unknown>;
interface ExpectedBlock {
  tx: Plain;
  fee?: bigint;
  afterNs: bigint;
}
type Outcome = LedgerResult;
// The model names variants by string; the union type is what the ledger's replies are compared with.
const err = (variant: string, payload: unknown = null): Outcome => ({ Err: { [variant]: payload } }) as Outcome;
const generic = (code: bigint): Outcome => err('GenericError', { error_code: code, message: '' });

class LedgerModel {
  readonly balances = new Map<string, bigint>();
  readonly allowances = new Map<string, { amount: bigint; expiresAt?: bigint }>();
  readonly blocks: ExpectedBlock[] = [];
  readonly dedup = new Map<string, bigint>();
  /** Every (from, spender) pair ever approved, for transfer_from to pick from and for the allowance checks. */
  readonly approvedPairs: Array<[Account, Account]> = [];
  supply = 0n;

  /** `now` reads the ledger's clock, which the test moves with the localnet's advanceTime. */
  constructor(
    private readonly minting: Account,
    initial: Array<[Account, bigint]>,
    readonly now: () => bigint
  ) {
    for (const [to, amount] of initial) {
      if (amount === 0n) continue;
      this.credit(to, amount);
      this.supply += amount;
      this.blocks.push({ tx: { op: 'mint', to: accountPlain(to), amt: amount }, afterNs: this.now() });
    }
  }

  balance(a: Account): bigint {
    return this.balances.get(keyOf(a)) ?? 0n;
  }
  allowance(from: Account, spender: Account, now: bigint): { amount: bigint; expiresAt?: bigint } {
    const stored = this.allowances.get(`${keyOf(from)}|${keyOf(spender)}`);
    return stored === undefined || (stored.expiresAt !== undefined && stored.expiresAt <= now) ? { amount: 0n } : stored;
  }
  isMinting(a: Account): boolean {
    return keyOf(a) === keyOf(this.minting);
  }

  apply(caller: Principal, call: Call, now: bigint): Outcome {
    if (call.method === 'icrc1_transfer') return this.transfer(caller, call.args, now);
    if (call.method === 'icrc2_approve') return this.approve(caller, call.args, now);
    return this.transferFrom(caller, call.args, now);
  }

  private transfer(caller: Principal, a: TransferArgs, now: bigint): Outcome {
    const from = account(caller, a.from_subaccount[0] === undefined ? undefined : Uint8Array.from(a.from_subaccount[0]));
    const isMint = this.isMinting(from);
    const isBurn = this.isMinting(a.to);
    const early =
      this.memoProblem(a.memo) ??
      (isMint && isBurn ? generic(MINTING_ACCOUNT_MISUSE) : undefined) ??
      this.feeProblem(a.fee[0], isMint || isBurn) ??
      (isBurn ? this.burnProblem(from, a.amount) : undefined);
    if (early !== undefined) return early;
    const tx: Plain = isMint
      ? { op: 'mint', to: accountPlain(a.to), amt: a.amount }
      : isBurn
        ? { op: 'burn', from: accountPlain(from), amt: a.amount }
        : { op: 'xfer', from: accountPlain(from), to: accountPlain(a.to), amt: a.amount };
    this.optional(tx, isMint || isBurn ? undefined : a.fee[0], a.memo[0], a.created_at_time[0]);
    const timing = this.timeProblem(tx, now);
    if (timing !== undefined) return timing;
    if (isMint) {
      this.credit(a.to, a.amount);
      return this.append(tx, undefined, a.amount, now);
    }
    const fee = isBurn ? 0n : FEE;
    if (this.balance(from) < a.amount + fee) return err('InsufficientFunds', { balance: this.balance(from) });
    this.credit(from, -(a.amount + fee));
    if (!isBurn) this.credit(a.to, a.amount);
    return this.append(tx, isBurn ? undefined : FEE, isBurn ? -a.amount : -FEE, now);
  }

  private approve(caller: Principal, a: ApproveArgs, now: bigint): Outcome {
    const from = account(caller, a.from_subaccount[0] === undefined ? undefined : Uint8Array.from(a.from_subaccount[0]));
    const early =
      this.memoProblem(a.memo) ??
      (a.spender.owner.toText() === caller.toText() ? generic(SELF_APPROVAL) : undefined) ??
      (this.isMinting(from) ? generic(MINTING_ACCOUNT_MISUSE) : undefined) ??
      this.feeProblem(a.fee[0], false);
    if (early !== undefined) return early;
    const tx: Plain = { op: 'approve', from: accountPlain(from), spender: accountPlain(a.spender), amt: a.amount };
    this.optional(tx, a.fee[0], a.memo[0], a.created_at_time[0]);
    if (a.expected_allowance[0] !== undefined) tx.expected_allowance = a.expected_allowance[0];
    if (a.expires_at[0] !== undefined) tx.expires_at = a.expires_at[0];
    const timing = this.timeProblem(tx, now);
    if (timing !== undefined) return timing;
    const expiresAt = a.expires_at[0];
    if (expiresAt !== undefined && expiresAt <= now) return err('Expired', { ledger_time: now });
    if (this.balance(from) < FEE) return err('InsufficientFunds', { balance: this.balance(from) });
    const current = this.allowance(from, a.spender, now).amount;
    if (a.expected_allowance[0] !== undefined && a.expected_allowance[0] !== current)
      return err('AllowanceChanged', { current_allowance: current });
    this.credit(from, -FEE);
    const key = `${keyOf(from)}|${keyOf(a.spender)}`;
    if (a.amount === 0n) this.allowances.delete(key);
    else this.allowances.set(key, expiresAt === undefined ? { amount: a.amount } : { amount: a.amount, expiresAt });
    if (!this.approvedPairs.some(([f, sp]) => keyOf(f) === keyOf(from) && keyOf(sp) === keyOf(a.spender)))
      this.approvedPairs.push([from, a.spender]);
    return this.append(tx, FEE, -FEE, now);
  }

  private transferFrom(caller: Principal, a: TransferFromArgs, now: bigint): Outcome {
    const spender = account(caller, a.spender_subaccount[0] === undefined ? undefined : Uint8Array.from(a.spender_subaccount[0]));
    const isBurn = this.isMinting(a.to);
    const early =
      this.memoProblem(a.memo) ??
      (this.isMinting(a.from) ? generic(MINTING_ACCOUNT_MISUSE) : undefined) ??
      this.feeProblem(a.fee[0], isBurn) ??
      (isBurn ? this.burnProblem(a.from, a.amount) : undefined);
    if (early !== undefined) return early;
    const tx: Plain = isBurn
      ? { op: 'burn', from: accountPlain(a.from), spender: accountPlain(spender), amt: a.amount }
      : { op: 'xfer', from: accountPlain(a.from), to: accountPlain(a.to), spender: accountPlain(spender), amt: a.amount };
    this.optional(tx, isBurn ? undefined : a.fee[0], a.memo[0], a.created_at_time[0]);
    const timing = this.timeProblem(tx, now);
    if (timing !== undefined) return timing;
    const needed = a.amount + (isBurn ? 0n : FEE);
    // ICRC-2: an account spending its own tokens needs no allowance.
    const allowance = keyOf(a.from) === keyOf(spender) ? undefined : this.allowance(a.from, spender, now);
    if (allowance !== undefined && allowance.amount < needed) return err('InsufficientAllowance', { allowance: allowance.amount });
    if (this.balance(a.from) < needed) return err('InsufficientFunds', { balance: this.balance(a.from) });
    this.credit(a.from, -needed);
    if (!isBurn) this.credit(a.to, a.amount);
    if (allowance !== undefined) {
      const key = `${keyOf(a.from)}|${keyOf(spender)}`;
      const left = allowance.amount - needed;
      if (left === 0n) this.allowances.delete(key);
      else this.allowances.set(key, { ...allowance, amount: left });
    }
    return this.append(tx, isBurn ? undefined : FEE, isBurn ? -a.amount : -FEE, now);
  }

  private memoProblem(memo: [] | [Uint8Array | number[]]): Outcome | undefined {
    return (memo[0]?.length ?? 0) > MAX_MEMO_BYTES ? generic(MEMO_TOO_LONG) : undefined;
  }
  /** ICRC-1: mints and burns are free (fee omitted or 0); every other operation states the ledger's fee or omits it. */
  private feeProblem(fee: bigint | undefined, free: boolean): Outcome | undefined {
    const expected = free ? 0n : FEE;
    return fee !== undefined && fee !== expected ? err('BadFee', { expected_fee: expected }) : undefined;
  }
  /** A burn moves at least the fee, or the whole balance when that is smaller; burning nothing asks for the fee. */
  private burnProblem(from: Account, amount: bigint): Outcome | undefined {
    const min = amount === 0n || FEE < this.balance(from) ? FEE : this.balance(from);
    return amount === 0n || amount < min ? err('BadBurn', { min_burn_amount: min }) : undefined;
  }
  private timeProblem(tx: Plain, now: bigint): Outcome | undefined {
    const ts = tx.ts;
    if (typeof ts !== 'bigint') return undefined;
    if (ts + DAY_NS < now) return err('TooOld');
    if (ts > now + MINUTE_NS) return err('CreatedInFuture', { ledger_time: now });
    const duplicate = this.dedup.get(stableText(tx));
    return duplicate === undefined ? undefined : err('Duplicate', { duplicate_of: duplicate });
  }
  private optional(tx: Plain, fee: bigint | undefined, memo: Uint8Array | number[] | undefined, ts: bigint | undefined): void {
    if (fee !== undefined) tx.fee = fee;
    if (memo !== undefined) tx.memo = hex(memo);
    if (ts !== undefined) tx.ts = ts;
  }
  private credit(a: Account, delta: bigint): void {
    const next = this.balance(a) + delta;
    if (next < 0n) throw new Error(`model bug: negative balance for ${keyOf(a)}`);
    if (next === 0n) this.balances.delete(keyOf(a));
    else this.balances.set(keyOf(a), next);
  }
  private append(tx: Plain, chargedFee: bigint | undefined, supplyDelta: bigint, now: bigint): Outcome {
    const index = BigInt(this.blocks.length);
    this.blocks.push(chargedFee !== undefined && tx.fee === undefined ? { tx, fee: chargedFee, afterNs: now } : { tx, afterNs: now });
    if (tx.ts !== undefined) this.dedup.set(stableText(tx), index);
    this.supply += supplyDelta;
    return { Ok: index };
  }
}

const stableText = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? hex(v) : v));
/** Results compared up to what the model cannot know: the ledger's clock and the wording of GenericError. */
function comparable(value: unknown, key = ''): unknown {
  if (key === 'ledger_time' || key === 'message') return '*';
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, comparable(v, k)]));
}

/** An ICRC-3 Value as plain data: maps as objects, blobs as hex. */
function plain(value: Value): unknown {
  if ('Map' in value) return Object.fromEntries(value.Map.map(([k, v]) => [k, plain(v)]));
  if ('Array' in value) return value.Array.map(plain);
  if ('Blob' in value) return hex(value.Blob);
  if ('Text' in value) return value.Text;
  if ('Nat' in value) return value.Nat;
  return value.Int;
}

/** Validates a CBOR-decoded IC hash tree (interface spec, "Certification") without trusting its shape. */
function parseHashTree(node: unknown): HashTree {
  if (!Array.isArray(node)) throw new Error('hash tree node is not an array');
  const [tag, a, b]: unknown[] = node;
  const bytes = (v: unknown): Uint8Array => {
    if (!(v instanceof Uint8Array)) throw new Error('hash tree field is not a byte string');
    return v;
  };
  // The casts only brand byte strings that `bytes` accepted with the agent's node types.
  if (tag === 0 && node.length === 1) return [0];
  if (tag === 1 && node.length === 3) return [1, parseHashTree(a), parseHashTree(b)];
  if (tag === 2 && node.length === 3) return [2, bytes(a) as NodeLabel, parseHashTree(b)];
  if (tag === 3 && node.length === 2) return [3, bytes(a) as NodeValue];
  if (tag === 4 && node.length === 2) return [4, bytes(a) as NodeHash];
  throw new Error(`malformed hash tree node with tag ${String(tag)}`);
}
function leafOf(tree: HashTree, label: string): Uint8Array | undefined {
  if (tree[0] === 1) return leafOf(tree[1], label) ?? leafOf(tree[2], label);
  if (tree[0] === 2 && new TextDecoder().decode(tree[1]) === label && tree[2][0] === 3) return tree[2][1];
  return undefined;
}

// ---------------------------------------------------------------- the property

describe('ledger canister against a reference model (built Wasm on the localnet, fast-check)', () => {
  let net: Localnet;
  const identities = Array.from({ length: 4 }, (_, i) => Ed25519KeyIdentity.generate(new Uint8Array(32).fill(i + 1)));
  const principals = identities.map((identity) => identity.getPrincipal());
  const principal = (who: number): Principal => {
    const p = principals[who];
    if (p === undefined) throw new Error(`no identity ${who}`);
    return p;
  };
  const acct = (ref: Ref): Account => account(principal(ref.who), SUBACCOUNTS[ref.sub]);
  /** Every spelling of every account the operations can reach: 'zero' checks that it reads as 'none'. */
  const universe = principals.flatMap((_, who) =>
    (['none', 'zero', 'one', 'two'] as const).map((sub) => ({ ref: { who, sub }, account: acct({ who, sub }) }))
  );
  const agents: HttpAgent[] = [];
  let reader: HttpAgent;
  let wasm: Uint8Array;

  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
    wasm = ledgerWasm();
    for (const identity of identities) agents.push(await agentFor(net.url, identity));
    // Balances are read ~20 times a step: skipping the node-signature check on query replies (client CPU only)
    // keeps the test fast and changes nothing about what the ledger answers.
    reader = await HttpAgent.create({ host: net.url, shouldFetchRootKey: true, verifyQuerySignatures: false });
  });
  afterAll(async () => {
    await net.stop();
  });

  /** Turns a generated operation into a concrete call; arguments that depend on time or state come from the model. */
  function materialize(op: Exclude<Op, { kind: 'repeat' | 'advance' }>, model: LedgerModel): Call {
    const now = model.now();
    const ts = { omit: [], now: [now - 1_000_000_000n], old: [now - DAY_NS - HOUR_NS], future: [now + 10n * MINUTE_NS] }[op.time] as
      [] | [bigint];
    const memo = { omit: [], short: [Uint8Array.of(1, 2, 3)], long: [new Uint8Array(MAX_MEMO_BYTES + 1).fill(9)] }[op.memo] as
      [] | [Uint8Array];
    const fee = (free: boolean): [] | [bigint] => (op.fee === 'omit' ? [] : op.fee === 'exact' ? [free ? 0n : FEE] : [free ? FEE : 0n]);
    const common = { memo, created_at_time: ts };
    switch (op.kind) {
      case 'transfer': {
        const to = acct(op.to);
        const free = model.isMinting(acct(op.from)) || model.isMinting(to);
        return {
          method: 'icrc1_transfer',
          caller: op.from.who,
          args: transferArgs(to, op.amount, { ...common, from_subaccount: acct(op.from).subaccount, fee: fee(free) })
        };
      }
      case 'mint':
        return {
          method: 'icrc1_transfer',
          caller: 0,
          args: transferArgs(acct(op.to), op.amount, { ...common, from_subaccount: op.zeroSub ? [new Uint8Array(32)] : [], fee: fee(true) })
        };
      case 'burn':
        return {
          method: 'icrc1_transfer',
          caller: op.from.who,
          args: transferArgs(acct({ who: 0, sub: op.zeroSub ? 'zero' : 'none' }), op.amount, {
            ...common,
            from_subaccount: acct(op.from).subaccount,
            fee: fee(true)
          })
        };
      case 'approve': {
        const spender = acct({ who: (op.from.who + op.spender.offset) % principals.length, sub: op.spender.sub });
        const current = model.allowance(acct(op.from), spender, now).amount;
        const expected = { omit: [], current: [current], wrong: [current + 1n] }[op.expected] as [] | [bigint];
        const expiresAt = { omit: [], past: [now - 10n * MINUTE_NS], soon: [now + 30n * MINUTE_NS], later: [now + 3n * HOUR_NS] }[
          op.expiry
        ] as [] | [bigint];
        return {
          method: 'icrc2_approve',
          caller: op.from.who,
          args: approveArgs(spender, op.amount, {
            ...common,
            from_subaccount: acct(op.from).subaccount,
            fee: fee(false),
            expected_allowance: expected,
            expires_at: expiresAt
          })
        };
      }
      case 'transfer_from': {
        const pair = op.useApproval === null ? undefined : model.approvedPairs[op.useApproval % Math.max(1, model.approvedPairs.length)];
        const from = pair?.[0] ?? acct(op.from);
        const spender = pair?.[1] ?? acct(op.spender);
        const caller = principals.findIndex((p) => p.toText() === spender.owner.toText());
        const to = acct(op.to);
        const allowance = model.allowance(from, spender, now).amount;
        const amount = op.spend === 'amount' ? op.amount : op.spend === 'half' ? allowance / 2n : allowance > FEE ? allowance - FEE : 0n;
        return {
          method: 'icrc2_transfer_from',
          caller,
          args: transferFromArgs(from, to, amount, { ...common, spender_subaccount: spender.subaccount, fee: fee(model.isMinting(to)) })
        };
      }
    }
  }

  async function send(ledger: Principal, call: Call): Promise<Outcome> {
    const agent = agents[call.caller];
    if (agent === undefined) throw new Error(`no agent for identity ${call.caller}`);
    const actor = ledgerActor(agent, ledger);
    if (call.method === 'icrc1_transfer') return actor.icrc1_transfer(call.args);
    if (call.method === 'icrc2_approve') return actor.icrc2_approve(call.args);
    return actor.icrc2_transfer_from(call.args);
  }

  /** Balances, supply, log length and the known allowances agree with the model. */
  async function checkState(ledger: ActorSubclass<LedgerActor>, model: LedgerModel, label: string): Promise<void> {
    const [supply, { log_length }, balances] = await Promise.all([
      ledger.icrc1_total_supply(),
      ledger.icrc3_get_blocks([]),
      Promise.all(universe.map(({ account: a }) => ledger.icrc1_balance_of(a)))
    ]);
    universe.forEach(({ ref, account: a }, i) => {
      expect(balances[i], `${label}: balance of ${ref.who}/${ref.sub}`).toBe(model.balance(a));
      expect(balances[i] ?? -1n, `${label}: balance of ${ref.who}/${ref.sub} is negative`).toBeGreaterThanOrEqual(0n);
    });
    // 'zero' spells the same account as 'none': count it once.
    const sum = universe.reduce((total, { ref }, i) => (ref.sub === 'zero' ? total : total + (balances[i] ?? 0n)), 0n);
    expect(supply, `${label}: total supply`).toBe(model.supply);
    expect(sum, `${label}: sum of balances == total supply`).toBe(supply);
    expect(log_length, `${label}: log length`).toBe(BigInt(model.blocks.length));
    const now = model.now();
    for (const [from, spender] of model.approvedPairs) {
      const { allowance, expires_at } = await ledger.icrc2_allowance({ account: from, spender });
      const expected = model.allowance(from, spender, now);
      expect({ allowance, expires_at }, `${label}: allowance ${keyOf(from)} -> ${keyOf(spender)}`).toEqual({
        allowance: expected.amount,
        expires_at: expected.expiresAt === undefined ? [] : [expected.expiresAt]
      });
    }
  }

  async function allBlocks(ledger: ActorSubclass<LedgerActor>): Promise<Value[]> {
    const blocks: Value[] = [];
    for (;;) {
      const page = await ledger.icrc3_get_blocks([{ start: BigInt(blocks.length), length: 100n }]);
      for (const { id, block } of page.blocks) {
        expect(id, 'block ids are dense').toBe(BigInt(blocks.length));
        blocks.push(block);
      }
      if (BigInt(blocks.length) >= page.log_length || page.blocks.length === 0) return blocks;
    }
  }

  /** The certified tip names the last block: its index and hash, under certified data the root key signs. */
  async function checkTip(ledger: ActorSubclass<LedgerActor>, canisterId: Principal, blocks: Value[], label: string): Promise<void> {
    const [tip] = await ledger.icrc3_get_tip_certificate();
    const last = blocks.at(-1);
    if (last === undefined) {
      expect(tip, `${label}: no tip certificate for an empty log`).toBeUndefined();
      return;
    }
    if (tip === undefined) throw new Error(`${label}: no tip certificate for ${blocks.length} blocks`);
    const tree = parseHashTree(decodeCbor(tip.hash_tree));
    expect(leafOf(tree, 'last_block_index'), `${label}: last_block_index`).toEqual(leb128(BigInt(blocks.length - 1)));
    expect(leafOf(tree, 'last_block_hash'), `${label}: last_block_hash`).toEqual(hashValue(last));
    const certificate = await Certificate.create({ certificate: tip.certificate, rootKey: net.rootKey, canisterId });
    const certified = lookupResultToBuffer(certificate.lookup_path(['canister', canisterId.toUint8Array(), 'certified_data']));
    expect(certified, `${label}: certified data is the hash tree's root`).toEqual(await reconstruct(tree));
  }

  function checkBlocks(blocks: Value[], model: LedgerModel): void {
    expect(blocks.length, 'blocks').toBe(model.blocks.length);
    blocks.forEach((block, i) => {
      const fields = plain(block) as Plain;
      const expected = model.blocks[i];
      expect({ tx: fields.tx, fee: fields.fee }, `block ${i}`).toEqual({ tx: expected?.tx, fee: expected?.fee });
      const previous = blocks[i - 1];
      const previousTs = previous === undefined ? 0n : (plain(previous) as Plain).ts;
      expect(
        typeof fields.ts === 'bigint' &&
          typeof previousTs === 'bigint' &&
          previousTs <= fields.ts &&
          fields.ts <= (expected?.afterNs ?? 0n),
        `block ${i} ts`
      ).toBe(true);
      if (previous === undefined) expect(fields.phash, 'block 0 has no phash').toBeUndefined();
      else expect(fields.phash, `phash of block ${i} is the hash of block ${i - 1}`).toBe(hex(hashValue(previous)));
    });
  }

  async function runSequence(initial: Array<[Ref, bigint]>, firstHalf: Op[], secondHalf: Op[]): Promise<void> {
    const initialAccounts = initial.map(([ref, amount]): [Account, bigint] => [acct(ref), amount]);
    const ledger = await net.installCanister({ wasm, arg: ledgerInit(principal(0), { initial_balances: initialAccounts }) });
    const query = ledgerActor(reader, ledger);
    const model = new LedgerModel(account(principal(0)), initialAccounts, () => net.engine.now());
    const history: Call[] = [];
    await checkState(query, model, 'after install');

    const step = async (op: Op, label: string): Promise<void> => {
      if (op.kind === 'advance') {
        await net.advanceTime(op.hours * 3_600_000);
        await checkState(query, model, `${label} advance ${op.hours} h`);
        return;
      }
      const call = op.kind === 'repeat' ? history[history.length - 1 - (op.back % Math.max(1, history.length))] : materialize(op, model);
      if (call === undefined) return;
      history.push(call);
      const before = BigInt(model.blocks.length);
      const described = `${label} ${call.method} by ${call.caller} ${stableText(call.args)}`;
      const actual = await send(ledger, call);
      const expected = model.apply(principal(call.caller), call, model.now());
      expect(comparable(actual), described).toEqual(comparable(expected));
      if ('Ok' in actual) expect(actual.Ok, `${described}: index == previous log length`).toBe(before);
      await checkState(query, model, described);
    };

    for (const [i, op] of firstHalf.entries()) await step(op, `step ${i}`);
    const snapshot = async (): Promise<string> =>
      stableText({
        blocks: await allBlocks(query),
        balances: await Promise.all(universe.map(({ account: a }) => query.icrc1_balance_of(a))),
        metadata: await query.icrc1_metadata(),
        minting: await query.icrc1_minting_account()
      });
    const before = await snapshot();
    await net.installCode(ledger, 'upgrade', wasm, ledgerUpgradeArg());
    expect(await snapshot(), 'blocks, balances and settings survive the upgrade').toBe(before);
    await checkState(query, model, 'after upgrade');
    // post_upgrade certifies whatever the lost timer had not.
    await checkTip(query, ledger, await allBlocks(query), 'after upgrade');
    for (const [i, op] of secondHalf.entries()) await step(op, `step ${firstHalf.length + i} (after upgrade)`);

    await net.tick();
    const blocks = await allBlocks(query);
    checkBlocks(blocks, model);
    await checkTip(query, ledger, blocks, 'end');
  }

  it('agrees with the model after every step, across an upgrade, with a verifiable ICRC-3 chain', async () => {
    await fc.assert(
      fc.asyncProperty(
        initialArb,
        fc.array(opArb, { minLength: 4, maxLength: 12, size: 'max' }),
        fc.array(opArb, { minLength: 4, maxLength: 12, size: 'max' }),
        runSequence
      ),
      // Each run installs a fresh ledger, so shrinking is slow: stop it after a while and report the smallest found.
      { numRuns: 6, interruptAfterTimeLimit: 150_000 }
    );
  }, 300_000);
});
