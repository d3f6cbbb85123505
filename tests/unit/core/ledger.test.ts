import { describe, expect, it } from 'vitest';

import {
  ANONYMOUS_OWNER,
  DEFAULT_DECIMALS,
  DEFAULT_MAX_MEMO_LENGTH,
  DEFAULT_MAX_TRANSACTIONS_IN_WINDOW,
  ErrorCode,
  MAX_BLOCK_RANGES,
  MAX_BLOCKS_PER_RESPONSE,
  MAX_INITIAL_BALANCES,
  MAX_METADATA_ENTRIES,
  MAX_METADATA_VALUE_BYTES,
  PERMITTED_DRIFT_NS,
  PRUNE_PER_CALL,
  TX_WINDOW_NS,
  allowanceKey,
  allowanceOf,
  approve,
  balanceOf,
  blockHash,
  certifyPending,
  getBlocks,
  makeLedgerConfig,
  memoryLedgerStore,
  metadataEntries,
  mintInitial,
  transfer,
  transferFrom,
  upgradeLedgerConfig,
  type Account,
  type ApproveArgs,
  type LedgerConfig,
  type LedgerInit,
  type LedgerStore,
  type Block,
  type StoredMetadataValue,
  type TransferArgs,
  type TransferFromArgs
} from '../../../src/core/ledger/index.ts';

const SECOND = 1_000_000_000n;
const NOW = 1_700_000_000n * SECOND;
const U64_MAX = 2n ** 64n - 1n;
const FEE = 10_000n;
const MINTER: Account = { owner: 'ee'.repeat(10) };
const ALICE = 'aa'.repeat(10);
const BOB = 'bb'.repeat(10);
const CAROL = 'cc'.repeat(10);
const SUB = '01'.repeat(32);
const SUB2 = '02'.repeat(32);
const ZERO_SUB = '00'.repeat(32);
/** A moment after which every deduplication entry made at NOW may be forgotten. */
const AFTER_WINDOW = NOW + TX_WINDOW_NS + PERMITTED_DRIFT_NS + 1n;

function init(overrides: Partial<LedgerInit> = {}): LedgerInit {
  return { name: 'Test Token', symbol: 'TST', fee: FEE, mintingAccount: MINTER, initialBalances: [], metadata: [], ...overrides };
}

function config(overrides: Partial<LedgerInit> = {}): LedgerConfig {
  const made = makeLedgerConfig(init(overrides));
  if ('Err' in made) throw new Error(made.Err);
  return made.Ok;
}

/** A fresh ledger with the given balances minted at install, as the canister does. */
function newLedger(balances: Array<[Account, bigint]> = [], overrides: Partial<LedgerInit> = {}): LedgerStore {
  const store = memoryLedgerStore(config(overrides));
  mintInitial(store, NOW, balances);
  expectConsistent(store);
  return store;
}

/** Block `index` as icrc3_get_blocks returns it, with its phash. */
function block(store: LedgerStore, index: bigint): Block {
  const got = getBlocks(store, [{ start: index, length: 1n }]).blocks[0];
  if (got === undefined || got.id !== index) throw new Error(`no block ${index}`);
  return got.block;
}

const hashOf = (store: LedgerStore, index: bigint): string => blockHash(block(store, index));

/** The whole log through icrc3_get_blocks, a response at a time. */
function allBlocks(store: LedgerStore): Block[] {
  const count = store.tip().blockCount;
  const out: Block[] = [];
  const page = BigInt(MAX_BLOCKS_PER_RESPONSE);
  for (let start = 0n; start < count; start += page) {
    const got = getBlocks(store, [{ start, length: page }]);
    expect(got.logLength).toBe(count);
    got.blocks.forEach(({ id }, k) => expect(id).toBe(start + BigInt(k)));
    out.push(...got.blocks.map((b) => b.block));
  }
  expect(out).toHaveLength(Number(count));
  return out;
}

/**
 * Supply equals the sum of positive balances, the minting account holds nothing, every block links to the hash of
 * the one before, and the hashes already certified are those of the blocks.
 */
function expectConsistent(store: LedgerStore): void {
  const tip = store.tip();
  let sum = 0n;
  for (const [key, balance] of store.balances.entries()) {
    expect(balance, key).toBeGreaterThan(0n);
    sum += balance;
  }
  expect(sum).toBe(tip.totalSupply);
  expect(balanceOf(store, store.config().mintingAccount)).toBe(0n);
  const chain = allBlocks(store);
  let previous: string | undefined;
  chain.forEach((b, i) => {
    expect(b.phash, `phash of block ${i}`).toBe(previous);
    previous = blockHash(b);
    expect(store.blocks.get(BigInt(i))).toEqual(i === 0 ? b : { ts: b.ts, tx: b.tx, ...(b.fee === undefined ? {} : { fee: b.fee }) });
    if (BigInt(i) < tip.hashedCount) expect(store.blocks.getHash(BigInt(i)), `stored hash of block ${i}`).toBe(previous);
    else expect(store.blocks.getHash(BigInt(i))).toBeUndefined();
  });
  expect(tip.hashedCount).toBeLessThanOrEqual(tip.blockCount);
  expect(tip.lastHash).toBe(tip.hashedCount === 0n ? undefined : store.blocks.getHash(tip.hashedCount - 1n));
  expect(getBlocks(store, [{ start: tip.blockCount, length: 1n }]).blocks).toEqual([]);
}

function snapshot(store: LedgerStore): unknown {
  return { balances: [...store.balances.entries()], allowances: [...store.allowances.entries()], tip: { ...store.tip() } };
}

/** Runs one operation: Ok appends exactly the returned block; Err leaves the ledger untouched. */
function run<R extends { Ok: bigint } | { Err: unknown }>(store: LedgerStore, op: () => R): R {
  const before = snapshot(store);
  const count = store.tip().blockCount;
  const remembered = store.dedup.size();
  const result = op();
  if ('Ok' in result) {
    expect(result.Ok).toBe(count);
    expect(store.tip().blockCount).toBe(count + 1n);
  } else {
    expect(snapshot(store)).toEqual(before);
    // Forgetting expired deduplication entries is housekeeping, allowed on any call; remembering a failure is not.
    expect(store.dedup.size()).toBeLessThanOrEqual(remembered);
  }
  expectConsistent(store);
  return result;
}

const send = (store: LedgerStore, caller: string, args: TransferArgs, now = NOW) => run(store, () => transfer(store, caller, now, args));
const allow = (store: LedgerStore, caller: string, args: ApproveArgs, now = NOW) => run(store, () => approve(store, caller, now, args));
const spend = (store: LedgerStore, caller: string, args: TransferFromArgs, now = NOW) =>
  run(store, () => transferFrom(store, caller, now, args));

const generic = (code: bigint) => ({ Err: { GenericError: { error_code: code, message: expect.any(String) } } });
const supply = (store: LedgerStore): bigint => store.tip().totalSupply;
const bal = (store: LedgerStore, owner: string, subaccount?: string): bigint =>
  balanceOf(store, subaccount === undefined ? { owner } : { owner, subaccount });

describe('ledger configuration', () => {
  it('fills defaults and validates an install argument', () => {
    const made = makeLedgerConfig(init());
    expect(made).toEqual({
      Ok: {
        name: 'Test Token',
        symbol: 'TST',
        decimals: DEFAULT_DECIMALS,
        fee: FEE,
        mintingAccount: MINTER,
        maxMemoLength: DEFAULT_MAX_MEMO_LENGTH,
        metadata: [],
        maxTransactionsInWindow: DEFAULT_MAX_TRANSACTIONS_IN_WINDOW
      }
    });
  });

  it('accepts every bound exactly', () => {
    const metadata = Array.from({ length: MAX_METADATA_ENTRIES }, (_, i): [string, StoredMetadataValue] => [`k${i}`, { Text: '' }]);
    metadata[0] = ['k'.repeat(128), { Text: 'x'.repeat(MAX_METADATA_VALUE_BYTES) }];
    metadata[1] = ['blob', { Blob: 'ab'.repeat(MAX_METADATA_VALUE_BYTES) }];
    const boundary = init({
      name: 'n'.repeat(128),
      symbol: 's'.repeat(32),
      decimals: 255,
      fee: 0n,
      maxMemoLength: 256,
      maxTransactionsInWindow: 1,
      metadata
    });
    expect(makeLedgerConfig(boundary)).toHaveProperty('Ok');
    expect(makeLedgerConfig(init({ decimals: 0 }))).toHaveProperty('Ok.decimals', 0);
    expect(makeLedgerConfig(init({ mintingAccount: { owner: '00'.repeat(29), subaccount: SUB } }))).toHaveProperty('Ok');
  });

  it('rejects each malformed field with a reason', () => {
    const bad: Array<[string, Partial<LedgerInit>]> = [
      ['empty name', { name: '' }],
      ['long name', { name: 'n'.repeat(129) }],
      ['empty symbol', { symbol: '' }],
      ['long symbol', { symbol: 's'.repeat(33) }],
      ['negative decimals', { decimals: -1 }],
      ['decimals over nat8', { decimals: 256 }],
      ['fractional decimals', { decimals: 1.5 }],
      ['negative fee', { fee: -1n }],
      ['empty minting owner', { mintingAccount: { owner: '' } }],
      ['short minting subaccount', { mintingAccount: { owner: ALICE, subaccount: '01'.repeat(31) } }],
      ['memo limit below 32', { maxMemoLength: 31 }],
      ['memo limit above 256', { maxMemoLength: 257 }],
      ['fractional memo limit', { maxMemoLength: 32.5 }],
      ['empty window', { maxTransactionsInWindow: 0 }],
      [
        'too many metadata entries',
        { metadata: Array.from({ length: MAX_METADATA_ENTRIES + 1 }, (_, i): [string, { Nat: bigint }] => [`k${i}`, { Nat: 0n }]) }
      ],
      ['empty metadata key', { metadata: [['', { Nat: 1n }]] }],
      ['long metadata key', { metadata: [['k'.repeat(129), { Nat: 1n }]] }],
      [
        'duplicate metadata key',
        {
          metadata: [
            ['icrc1:logo', { Text: 'a' }],
            ['icrc1:logo', { Text: 'b' }]
          ]
        }
      ],
      ['large text value', { metadata: [['big', { Text: 'x'.repeat(MAX_METADATA_VALUE_BYTES + 1) }]] }],
      ['large blob value', { metadata: [['big', { Blob: 'ab'.repeat(MAX_METADATA_VALUE_BYTES + 1) }]] }],
      [
        'too many initial balances',
        { initialBalances: Array.from({ length: MAX_INITIAL_BALANCES + 1 }, (): [Account, bigint] => [{ owner: ALICE }, 1n]) }
      ],
      ['bad initial account', { initialBalances: [[{ owner: ALICE, subaccount: '00' }, 1n]] }],
      ['negative initial balance', { initialBalances: [[{ owner: ALICE }, -1n]] }]
    ];
    for (const [why, overrides] of bad) {
      const made = makeLedgerConfig(init(overrides));
      expect(made, why).toEqual({ Err: expect.any(String) });
    }
  });

  it('upgrades name, symbol, fee, memo limit, metadata and window, keeping the rest', () => {
    const current = config({ decimals: 6, metadata: [['icrc1:logo', { Text: 'old' }]] });
    const next = upgradeLedgerConfig(current, {
      name: 'New',
      symbol: 'NEW',
      fee: 5n,
      maxMemoLength: 64,
      metadata: [['icrc1:logo', { Text: 'new' }]],
      maxTransactionsInWindow: 10
    });
    expect(next).toEqual({
      Ok: {
        ...current,
        name: 'New',
        symbol: 'NEW',
        fee: 5n,
        maxMemoLength: 64,
        metadata: [['icrc1:logo', { Text: 'new' }]],
        maxTransactionsInWindow: 10
      }
    });
    expect(upgradeLedgerConfig(current, {})).toEqual({ Ok: current });
  });

  it('never shrinks the memo limit, and validates the upgraded configuration', () => {
    const current = config({ maxMemoLength: 64 });
    expect(upgradeLedgerConfig(current, { maxMemoLength: 63 })).toEqual({ Err: expect.stringContaining('cannot decrease') });
    expect(upgradeLedgerConfig(current, { maxMemoLength: 64 })).toHaveProperty('Ok.maxMemoLength', 64);
    expect(upgradeLedgerConfig(current, { maxMemoLength: 257 })).toHaveProperty('Err');
    expect(upgradeLedgerConfig(current, { name: '' })).toHaveProperty('Err');
    expect(upgradeLedgerConfig(current, { symbol: 's'.repeat(33) })).toHaveProperty('Err');
    expect(upgradeLedgerConfig(current, { fee: -1n })).toHaveProperty('Err');
    expect(upgradeLedgerConfig(current, { maxTransactionsInWindow: 0 })).toHaveProperty('Err');
    expect(
      upgradeLedgerConfig(current, {
        metadata: [
          ['a', { Nat: 1n }],
          ['a', { Nat: 2n }]
        ]
      })
    ).toHaveProperty('Err');
  });

  it('derives the standard metadata keys from the configuration, then adds the other entries once', () => {
    const made = config({
      decimals: 6,
      maxMemoLength: 80,
      metadata: [
        ['icrc1:logo', { Text: 'data:,' }],
        ['icrc1:fee', { Nat: 1n }],
        ['icrc1:name', { Text: 'spoof' }],
        ['x:blob', { Blob: '0102' }]
      ]
    });
    const entries = metadataEntries(made);
    expect(entries).toEqual([
      ['icrc1:name', { Text: 'Test Token' }],
      ['icrc1:symbol', { Text: 'TST' }],
      ['icrc1:decimals', { Nat: 6n }],
      ['icrc1:fee', { Nat: FEE }],
      ['icrc1:max_memo_length', { Nat: 80n }],
      ['icrc1:logo', { Text: 'data:,' }],
      ['x:blob', { Blob: '0102' }]
    ]);
    expect(new Set(entries.map(([key]) => key)).size).toBe(entries.length);
  });
});

describe('mintInitial', () => {
  it('mints one block per non-zero balance, summing repeated accounts', () => {
    const store = newLedger([
      [{ owner: ALICE }, 100n],
      [{ owner: BOB, subaccount: SUB }, 0n],
      [{ owner: ALICE, subaccount: ZERO_SUB }, 50n],
      [{ owner: BOB, subaccount: SUB }, 7n]
    ]);
    expect(store.tip().blockCount).toBe(3n);
    expect(supply(store)).toBe(157n);
    expect(bal(store, ALICE)).toBe(150n);
    expect(bal(store, ALICE, ZERO_SUB)).toBe(150n);
    expect(bal(store, BOB, SUB)).toBe(7n);
    expect(bal(store, BOB)).toBe(0n);
    expect(block(store, 0n)).toEqual({ ts: NOW, tx: { op: 'mint', to: { owner: ALICE }, amt: 100n } });
    expect(block(store, 1n).tx).toEqual({ op: 'mint', to: { owner: ALICE, subaccount: ZERO_SUB }, amt: 50n });
    expect(store.dedup.size()).toBe(0);
  });
});

describe('icrc1_transfer', () => {
  it('moves the amount, burns the fee from the sender and returns the block index', () => {
    const store = newLedger([[{ owner: ALICE }, 1_000_000n]]);
    expect(send(store, ALICE, { to: { owner: BOB }, amount: 300_000n })).toEqual({ Ok: 1n });
    expect(bal(store, ALICE)).toBe(1_000_000n - 300_000n - FEE);
    expect(bal(store, BOB)).toBe(300_000n);
    expect(supply(store)).toBe(1_000_000n - FEE);
    expect(block(store, 1n)).toEqual({
      phash: hashOf(store, 0n),
      ts: NOW,
      fee: FEE,
      tx: { op: 'xfer', from: { owner: ALICE }, to: { owner: BOB }, amt: 300_000n }
    });
  });

  it('accepts the fee stated explicitly and records it in the transaction instead of the block', () => {
    const store = newLedger([[{ owner: ALICE }, 1_000_000n]]);
    expect(send(store, ALICE, { to: { owner: BOB }, amount: 1n, fee: FEE, memo: 'ff'.repeat(32), createdAtTime: NOW })).toEqual({ Ok: 1n });
    expect(block(store, 1n)).toEqual({
      phash: hashOf(store, 0n),
      ts: NOW,
      tx: { op: 'xfer', from: { owner: ALICE }, to: { owner: BOB }, amt: 1n, fee: FEE, memo: 'ff'.repeat(32), ts: NOW }
    });
  });

  it('treats a null and a zero subaccount as one balance, and other subaccounts apart', () => {
    const store = newLedger([[{ owner: ALICE, subaccount: ZERO_SUB }, 1_000_000n]]);
    expect(send(store, ALICE, { to: { owner: BOB, subaccount: ZERO_SUB }, amount: 100n })).toHaveProperty('Ok');
    expect(send(store, ALICE, { fromSubaccount: ZERO_SUB, to: { owner: BOB, subaccount: SUB }, amount: 30_000n })).toHaveProperty('Ok');
    expect(bal(store, BOB)).toBe(100n);
    expect(bal(store, BOB, ZERO_SUB)).toBe(100n);
    expect(bal(store, BOB, SUB)).toBe(30_000n);
    expect(bal(store, ALICE)).toBe(1_000_000n - 30_100n - 2n * FEE);
    expect(send(store, BOB, { fromSubaccount: SUB, to: { owner: CAROL }, amount: 30_000n - FEE + 1n })).toEqual({
      Err: { InsufficientFunds: { balance: 30_000n } }
    });
    expect(send(store, BOB, { fromSubaccount: SUB, to: { owner: CAROL }, amount: 30_000n - FEE })).toHaveProperty('Ok');
    expect(bal(store, BOB, SUB)).toBe(0n);
    expect(store.balances.has(`${BOB}.${SUB}`)).toBe(false);
  });

  it('charges only the fee for a transfer to oneself or of zero tokens', () => {
    const store = newLedger([[{ owner: ALICE }, 100_000n]]);
    expect(send(store, ALICE, { to: { owner: ALICE, subaccount: ZERO_SUB }, amount: 50_000n })).toHaveProperty('Ok');
    expect(send(store, ALICE, { to: { owner: BOB }, amount: 0n })).toHaveProperty('Ok');
    expect(bal(store, ALICE)).toBe(100_000n - 2n * FEE);
    expect(bal(store, BOB)).toBe(0n);
  });

  it('BadFee: a stated fee must equal the ledger fee', () => {
    const store = newLedger([[{ owner: ALICE }, 1_000_000n]]);
    for (const fee of [FEE + 1n, FEE - 1n, 0n])
      expect(send(store, ALICE, { to: { owner: BOB }, amount: 1n, fee })).toEqual({ Err: { BadFee: { expected_fee: FEE } } });
  });

  it('InsufficientFunds: the balance must cover amount + fee', () => {
    const store = newLedger([[{ owner: ALICE }, 100_000n]]);
    expect(send(store, ALICE, { to: { owner: BOB }, amount: 100_000n - FEE + 1n })).toEqual({
      Err: { InsufficientFunds: { balance: 100_000n } }
    });
    expect(send(store, CAROL, { to: { owner: BOB }, amount: 0n })).toEqual({ Err: { InsufficientFunds: { balance: 0n } } });
    expect(send(store, ALICE, { to: { owner: BOB }, amount: 100_000n - FEE })).toHaveProperty('Ok');
    expect(bal(store, ALICE)).toBe(0n);
  });

  it('a fee of zero is still written at the top level of a block when the caller gave none', () => {
    const store = newLedger([[{ owner: ALICE }, 100n]], { fee: 0n });
    expect(send(store, ALICE, { to: { owner: BOB }, amount: 100n })).toHaveProperty('Ok');
    expect(block(store, 1n).fee).toBe(0n);
    expect(supply(store)).toBe(100n);
  });

  describe('mint (from the minting account)', () => {
    it('creates tokens without a fee', () => {
      const store = newLedger();
      expect(send(store, MINTER.owner, { to: { owner: ALICE }, amount: 5_000n })).toEqual({ Ok: 0n });
      expect(send(store, MINTER.owner, { to: { owner: BOB, subaccount: SUB }, amount: 0n, fee: 0n })).toEqual({ Ok: 1n });
      // The minting account with an explicit zero subaccount is still the minting account.
      expect(send(store, MINTER.owner, { fromSubaccount: ZERO_SUB, to: { owner: ALICE }, amount: 1n })).toEqual({ Ok: 2n });
      expect(bal(store, ALICE)).toBe(5_001n);
      expect(supply(store)).toBe(5_001n);
      expect(block(store, 0n)).toEqual({ ts: NOW, tx: { op: 'mint', to: { owner: ALICE }, amt: 5_000n } });
      expect(block(store, 1n).fee).toBeUndefined();
    });

    it('BadFee: a mint takes no fee', () => {
      const store = newLedger();
      expect(send(store, MINTER.owner, { to: { owner: ALICE }, amount: 5n, fee: FEE })).toEqual({ Err: { BadFee: { expected_fee: 0n } } });
      expect(send(store, MINTER.owner, { to: { owner: ALICE }, amount: 5n, fee: 1n })).toEqual({ Err: { BadFee: { expected_fee: 0n } } });
    });

    it('another subaccount of the minting owner is an ordinary account', () => {
      const store = newLedger();
      expect(send(store, MINTER.owner, { fromSubaccount: SUB, to: { owner: ALICE }, amount: 5n })).toEqual({
        Err: { InsufficientFunds: { balance: 0n } }
      });
    });
  });

  describe('burn (to the minting account)', () => {
    it('destroys tokens without a fee, leaving a sender that burns everything at zero', () => {
      const store = newLedger([[{ owner: ALICE }, 30_000n]]);
      expect(send(store, ALICE, { to: MINTER, amount: 20_000n })).toEqual({ Ok: 1n });
      expect(send(store, ALICE, { to: { owner: MINTER.owner, subaccount: ZERO_SUB }, amount: 10_000n, fee: 0n })).toEqual({ Ok: 2n });
      expect(bal(store, ALICE)).toBe(0n);
      expect(supply(store)).toBe(0n);
      expect(block(store, 1n)).toEqual({ phash: hashOf(store, 0n), ts: NOW, tx: { op: 'burn', from: { owner: ALICE }, amt: 20_000n } });
      expect(block(store, 2n).fee).toBeUndefined();
    });

    it('BadBurn: the amount must reach min(fee, balance)', () => {
      const store = newLedger([
        [{ owner: ALICE }, 1_000_000n],
        [{ owner: BOB }, 5n]
      ]);
      expect(send(store, ALICE, { to: MINTER, amount: FEE - 1n })).toEqual({ Err: { BadBurn: { min_burn_amount: FEE } } });
      expect(send(store, ALICE, { to: MINTER, amount: 0n })).toEqual({ Err: { BadBurn: { min_burn_amount: FEE } } });
      expect(send(store, BOB, { to: MINTER, amount: 4n })).toEqual({ Err: { BadBurn: { min_burn_amount: 5n } } });
      // Burning nothing is refused with the fee as the minimum, whatever the balance (reference ledger).
      expect(send(store, BOB, { to: MINTER, amount: 0n })).toEqual({ Err: { BadBurn: { min_burn_amount: FEE } } });
      expect(send(store, BOB, { to: MINTER, amount: 5n })).toHaveProperty('Ok');
      expect(send(store, ALICE, { to: MINTER, amount: FEE })).toHaveProperty('Ok');
    });

    it('BadBurn: burning zero from an empty account names the ledger fee as the minimum (reference ledger)', () => {
      // The reference ledger answers a zero burn with min_burn_amount = transfer_fee; a minimum of 0 would invite
      // the caller to retry with the very amount just refused.
      const store = newLedger();
      expect(send(store, ALICE, { to: MINTER, amount: 0n })).toEqual({ Err: { BadBurn: { min_burn_amount: FEE } } });
    });

    it('BadFee: a burn takes no fee', () => {
      const store = newLedger([[{ owner: ALICE }, 1_000_000n]]);
      expect(send(store, ALICE, { to: MINTER, amount: FEE, fee: FEE })).toEqual({ Err: { BadFee: { expected_fee: 0n } } });
    });

    it('InsufficientFunds: the balance must cover the amount', () => {
      const store = newLedger([[{ owner: ALICE }, 20_000n]]);
      expect(send(store, ALICE, { to: MINTER, amount: 20_001n })).toEqual({ Err: { InsufficientFunds: { balance: 20_000n } } });
    });
  });

  describe('GenericError', () => {
    it('anonymous caller', () => {
      const store = newLedger([[{ owner: ANONYMOUS_OWNER }, 100_000n]]);
      expect(send(store, ANONYMOUS_OWNER, { to: { owner: BOB }, amount: 1n })).toEqual(generic(ErrorCode.anonymousCaller));
      // Receiving is allowed.
      expect(send(store, MINTER.owner, { to: { owner: ANONYMOUS_OWNER }, amount: 1n })).toHaveProperty('Ok');
    });

    it('bad subaccount', () => {
      const store = newLedger([[{ owner: ALICE }, 100_000n]]);
      for (const sub of ['01'.repeat(31), '01'.repeat(33), '', 'AB'.repeat(32), 'zz'.repeat(32), `${'0'.repeat(63)}`]) {
        expect(send(store, ALICE, { fromSubaccount: sub, to: { owner: BOB }, amount: 1n }), `from ${sub}`).toEqual(
          generic(ErrorCode.badSubaccount)
        );
        expect(send(store, ALICE, { to: { owner: BOB, subaccount: sub }, amount: 1n }), `to ${sub}`).toEqual(
          generic(ErrorCode.badSubaccount)
        );
      }
    });

    it('bad account', () => {
      const store = newLedger([[{ owner: ALICE }, 100_000n]]);
      for (const owner of ['', 'AA'.repeat(10), 'abc', 'gg', '00'.repeat(30)]) {
        expect(send(store, ALICE, { to: { owner }, amount: 1n }), `to ${owner}`).toEqual(generic(ErrorCode.badAccount));
      }
      expect(send(store, 'not-hex', { to: { owner: BOB }, amount: 1n })).toEqual(generic(ErrorCode.badAccount));
      expect(send(store, ALICE, { to: { owner: '00'.repeat(29) }, amount: 1n })).toHaveProperty('Ok');
    });

    it('memo too long', () => {
      const store = newLedger([[{ owner: ALICE }, 100_000n]]);
      expect(send(store, ALICE, { to: { owner: BOB }, amount: 1n, memo: '00'.repeat(33) })).toEqual(generic(ErrorCode.memoTooLong));
      expect(send(store, ALICE, { to: { owner: BOB }, amount: 1n, memo: '00'.repeat(32) })).toHaveProperty('Ok');
      const wide = newLedger([[{ owner: ALICE }, 100_000n]], { maxMemoLength: 64 });
      expect(send(wide, ALICE, { to: { owner: BOB }, amount: 1n, memo: '00'.repeat(64) })).toHaveProperty('Ok');
      expect(send(wide, ALICE, { to: { owner: BOB }, amount: 1n, memo: '00'.repeat(65) })).toEqual(generic(ErrorCode.memoTooLong));
    });

    it('minting account misuse: the minting account cannot send to itself', () => {
      const store = newLedger();
      expect(send(store, MINTER.owner, { to: MINTER, amount: 1n })).toEqual(generic(ErrorCode.mintingAccountMisuse));
      expect(
        send(store, MINTER.owner, { fromSubaccount: ZERO_SUB, to: { owner: MINTER.owner, subaccount: ZERO_SUB }, amount: 1n })
      ).toEqual(generic(ErrorCode.mintingAccountMisuse));
    });
  });

  describe('created_at_time', () => {
    it('TooOld: older than the window; the window edge itself is accepted', () => {
      const store = newLedger([[{ owner: ALICE }, 1_000_000n]]);
      expect(send(store, ALICE, { to: { owner: BOB }, amount: 1n, createdAtTime: NOW - TX_WINDOW_NS - PERMITTED_DRIFT_NS - 1n })).toEqual({
        Err: { TooOld: null }
      });
      expect(send(store, ALICE, { to: { owner: BOB }, amount: 1n, createdAtTime: NOW - TX_WINDOW_NS - PERMITTED_DRIFT_NS })).toHaveProperty(
        'Ok'
      );
    });

    it('CreatedInFuture: further ahead than the permitted drift', () => {
      const store = newLedger([[{ owner: ALICE }, 1_000_000n]]);
      expect(send(store, ALICE, { to: { owner: BOB }, amount: 1n, createdAtTime: NOW + PERMITTED_DRIFT_NS + 1n })).toEqual({
        Err: { CreatedInFuture: { ledger_time: NOW } }
      });
      expect(send(store, ALICE, { to: { owner: BOB }, amount: 1n, createdAtTime: U64_MAX })).toEqual({
        Err: { CreatedInFuture: { ledger_time: NOW } }
      });
      expect(send(store, ALICE, { to: { owner: BOB }, amount: 1n, createdAtTime: NOW + PERMITTED_DRIFT_NS })).toHaveProperty('Ok');
    });

    it('Duplicate: the same transaction within the window names the first block', () => {
      const store = newLedger([[{ owner: ALICE }, 1_000_000n]]);
      const args: TransferArgs = { to: { owner: BOB }, amount: 1n, createdAtTime: NOW };
      expect(send(store, ALICE, args)).toEqual({ Ok: 1n });
      expect(send(store, ALICE, args, NOW + 5n * SECOND)).toEqual({ Err: { Duplicate: { duplicate_of: 1n } } });
      expect(send(store, ALICE, { ...args }, NOW + TX_WINDOW_NS + PERMITTED_DRIFT_NS)).toEqual({
        Err: { Duplicate: { duplicate_of: 1n } }
      });
      expect(send(store, ALICE, args, NOW + TX_WINDOW_NS + PERMITTED_DRIFT_NS + 1n)).toEqual({ Err: { TooOld: null } });
    });

    it('explicit fee, memo, created_at_time, amount, and null vs zero subaccounts each make a new transaction', () => {
      const store = newLedger([[{ owner: ALICE }, 1_000_000n]]);
      const base: TransferArgs = { to: { owner: BOB }, amount: 1n, createdAtTime: NOW };
      expect(send(store, ALICE, base)).toEqual({ Ok: 1n });
      const variants: TransferArgs[] = [
        { ...base, fee: FEE },
        { ...base, memo: '00' },
        { ...base, memo: '0000' },
        { ...base, createdAtTime: NOW - 1n },
        { ...base, amount: 2n },
        { ...base, to: { owner: BOB, subaccount: ZERO_SUB } },
        { ...base, fromSubaccount: ZERO_SUB },
        { ...base, to: { owner: CAROL } }
      ];
      variants.forEach((args, i) => expect(send(store, ALICE, args), `variant ${i}`).toEqual({ Ok: BigInt(i + 2) }));
      variants.forEach((args, i) =>
        expect(send(store, ALICE, args), `variant ${i} again`).toEqual({ Err: { Duplicate: { duplicate_of: BigInt(i + 2) } } })
      );
      expect(bal(store, BOB)).toBe(9n);
      expect(bal(store, CAROL)).toBe(1n);
    });

    it('only transactions with created_at_time are deduplicated', () => {
      const store = newLedger([[{ owner: ALICE }, 1_000_000n]]);
      expect(send(store, ALICE, { to: { owner: BOB }, amount: 1n })).toEqual({ Ok: 1n });
      expect(send(store, ALICE, { to: { owner: BOB }, amount: 1n })).toEqual({ Ok: 2n });
      expect(store.dedup.size()).toBe(0);
    });

    it('deduplicates mints and burns too', () => {
      const store = newLedger([[{ owner: ALICE }, 1_000_000n]]);
      expect(send(store, MINTER.owner, { to: { owner: BOB }, amount: 9n, createdAtTime: NOW })).toEqual({ Ok: 1n });
      expect(send(store, MINTER.owner, { to: { owner: BOB }, amount: 9n, createdAtTime: NOW })).toEqual({
        Err: { Duplicate: { duplicate_of: 1n } }
      });
      expect(send(store, ALICE, { to: MINTER, amount: FEE, createdAtTime: NOW })).toEqual({ Ok: 2n });
      expect(send(store, ALICE, { to: MINTER, amount: FEE, createdAtTime: NOW })).toEqual({ Err: { Duplicate: { duplicate_of: 2n } } });
    });

    it('a failed transaction is not remembered, so it can be retried once funded', () => {
      const store = newLedger();
      const args: TransferArgs = { to: { owner: BOB }, amount: 1n, createdAtTime: NOW };
      expect(send(store, ALICE, args)).toEqual({ Err: { InsufficientFunds: { balance: 0n } } });
      expect(send(store, MINTER.owner, { to: { owner: ALICE }, amount: 1n + FEE })).toEqual({ Ok: 0n });
      expect(send(store, ALICE, args)).toEqual({ Ok: 1n });
      expect(send(store, ALICE, args)).toEqual({ Err: { Duplicate: { duplicate_of: 1n } } });
    });

    it('checks in the reference order: memo, fee, TooOld, CreatedInFuture, Duplicate, funds', () => {
      const store = newLedger([[{ owner: ALICE }, 1_000_000n]]);
      expect(send(store, ALICE, { to: { owner: BOB }, amount: 1n, fee: 1n, memo: '00'.repeat(33), createdAtTime: 0n })).toEqual(
        generic(ErrorCode.memoTooLong)
      );
      expect(send(store, ALICE, { to: { owner: BOB }, amount: 1n, fee: 1n, createdAtTime: 0n })).toEqual({
        Err: { BadFee: { expected_fee: FEE } }
      });
      expect(send(store, ALICE, { to: { owner: BOB }, amount: 10n ** 9n, createdAtTime: 0n })).toEqual({ Err: { TooOld: null } });
      expect(send(store, ALICE, { to: { owner: BOB }, amount: 10n ** 9n, createdAtTime: U64_MAX })).toEqual({
        Err: { CreatedInFuture: { ledger_time: NOW } }
      });
      const all: TransferArgs = { to: { owner: BOB }, amount: 1_000_000n - FEE, createdAtTime: NOW };
      expect(send(store, ALICE, all)).toEqual({ Ok: 1n });
      expect(send(store, ALICE, all)).toEqual({ Err: { Duplicate: { duplicate_of: 1n } } });
    });

    it('TemporarilyUnavailable: a full deduplication window refuses new deduplicated transactions only', () => {
      const store = newLedger([[{ owner: ALICE }, 1_000_000n]], { maxTransactionsInWindow: 2 });
      expect(send(store, ALICE, { to: { owner: BOB }, amount: 1n, createdAtTime: NOW })).toEqual({ Ok: 1n });
      expect(send(store, ALICE, { to: { owner: BOB }, amount: 2n, createdAtTime: NOW })).toEqual({ Ok: 2n });
      expect(send(store, ALICE, { to: { owner: BOB }, amount: 3n, createdAtTime: NOW })).toEqual({ Err: { TemporarilyUnavailable: null } });
      expect(send(store, ALICE, { to: { owner: BOB }, amount: 1n, createdAtTime: NOW })).toEqual({
        Err: { Duplicate: { duplicate_of: 1n } }
      });
      expect(send(store, ALICE, { to: { owner: BOB }, amount: 3n })).toEqual({ Ok: 3n });
    });

    it('forgets deduplication entries after the window, at most PRUNE_PER_CALL per call', () => {
      const store = newLedger([[{ owner: ALICE }, 1_000_000n]]);
      const count = PRUNE_PER_CALL + 4;
      for (let i = 1; i <= count; i++)
        expect(send(store, ALICE, { to: { owner: BOB }, amount: BigInt(i), createdAtTime: NOW })).toHaveProperty('Ok');
      expect(store.dedup.size()).toBe(count);
      // Still inside the window (plus drift): nothing is forgotten.
      expect(send(store, ALICE, { to: { owner: BOB }, amount: 0n }, NOW + TX_WINDOW_NS + PERMITTED_DRIFT_NS)).toHaveProperty('Ok');
      expect(store.dedup.size()).toBe(count);
      expect(send(store, ALICE, { to: { owner: BOB }, amount: 0n }, AFTER_WINDOW)).toHaveProperty('Ok');
      expect(store.dedup.size()).toBe(4);
      expect(send(store, ALICE, { to: { owner: BOB }, amount: 0n }, AFTER_WINDOW)).toHaveProperty('Ok');
      expect(store.dedup.size()).toBe(0);
      expect(send(store, ALICE, { to: { owner: BOB }, amount: 1n, createdAtTime: NOW }, AFTER_WINDOW)).toEqual({ Err: { TooOld: null } });
    });

    it('a window full of expired entries admits a new deduplicated transaction (reference ledger purges before throttling)', () => {
      const store = newLedger([[{ owner: ALICE }, 1_000_000n]], { maxTransactionsInWindow: 1 });
      expect(send(store, ALICE, { to: { owner: BOB }, amount: 1n, createdAtTime: NOW })).toEqual({ Ok: 1n });
      expect(send(store, ALICE, { to: { owner: BOB }, amount: 2n, createdAtTime: NOW })).toEqual({ Err: { TemporarilyUnavailable: null } });
      // The only entry is long expired; if nothing else pruned it, a ledger whose clients all set created_at_time
      // would refuse every transaction from now on.
      expect(send(store, ALICE, { to: { owner: BOB }, amount: 2n, createdAtTime: AFTER_WINDOW }, AFTER_WINDOW)).toEqual({ Ok: 2n });
    });
  });
});

describe('icrc2_approve', () => {
  it('sets the allowance and charges the fee', () => {
    const store = newLedger([[{ owner: ALICE }, 1_000_000n]]);
    expect(allow(store, ALICE, { spender: { owner: BOB }, amount: 500n })).toEqual({ Ok: 1n });
    expect(allowanceOf(store, NOW, { owner: ALICE }, { owner: BOB })).toEqual({ amount: 500n });
    expect(allowanceOf(store, NOW, { owner: ALICE, subaccount: ZERO_SUB }, { owner: BOB, subaccount: ZERO_SUB })).toEqual({ amount: 500n });
    expect(bal(store, ALICE)).toBe(1_000_000n - FEE);
    expect(supply(store)).toBe(1_000_000n - FEE);
    expect(block(store, 1n)).toEqual({
      phash: hashOf(store, 0n),
      ts: NOW,
      fee: FEE,
      tx: { op: 'approve', from: { owner: ALICE }, spender: { owner: BOB }, amt: 500n }
    });
  });

  it('replaces rather than adds, resets the expiry, and charges the fee for an approval of zero', () => {
    const store = newLedger([[{ owner: ALICE }, 1_000_000n]]);
    expect(allow(store, ALICE, { spender: { owner: BOB }, amount: 500n, expiresAt: NOW + SECOND })).toHaveProperty('Ok');
    expect(allowanceOf(store, NOW, { owner: ALICE }, { owner: BOB })).toEqual({ amount: 500n, expiresAt: NOW + SECOND });
    expect(allow(store, ALICE, { spender: { owner: BOB }, amount: 300n })).toHaveProperty('Ok');
    expect(allowanceOf(store, NOW + 2n * SECOND, { owner: ALICE }, { owner: BOB })).toEqual({ amount: 300n });
    expect(allow(store, ALICE, { spender: { owner: BOB }, amount: 0n })).toHaveProperty('Ok');
    expect(allowanceOf(store, NOW, { owner: ALICE }, { owner: BOB })).toEqual({ amount: 0n });
    expect(store.allowances.has(allowanceKey({ owner: ALICE }, { owner: BOB }))).toBe(false);
    expect(bal(store, ALICE)).toBe(1_000_000n - 3n * FEE);
  });

  it('keeps one allowance per spender subaccount and per source subaccount', () => {
    const store = newLedger([
      [{ owner: ALICE }, 1_000_000n],
      [{ owner: ALICE, subaccount: SUB }, 1_000_000n]
    ]);
    expect(allow(store, ALICE, { spender: { owner: BOB }, amount: 1n })).toHaveProperty('Ok');
    expect(allow(store, ALICE, { spender: { owner: BOB, subaccount: SUB }, amount: 2n })).toHaveProperty('Ok');
    expect(allow(store, ALICE, { fromSubaccount: SUB, spender: { owner: BOB }, amount: 3n })).toHaveProperty('Ok');
    expect(allowanceOf(store, NOW, { owner: ALICE }, { owner: BOB }).amount).toBe(1n);
    expect(allowanceOf(store, NOW, { owner: ALICE }, { owner: BOB, subaccount: SUB }).amount).toBe(2n);
    expect(allowanceOf(store, NOW, { owner: ALICE, subaccount: SUB }, { owner: BOB }).amount).toBe(3n);
    expect(allowanceOf(store, NOW, { owner: ALICE, subaccount: SUB2 }, { owner: BOB }).amount).toBe(0n);
    expect(bal(store, ALICE, SUB)).toBe(1_000_000n - FEE);
  });

  it('reads an approval as none from its expiry on', () => {
    const store = newLedger([[{ owner: ALICE }, 1_000_000n]]);
    expect(allow(store, ALICE, { spender: { owner: BOB }, amount: 500n, expiresAt: NOW + 10n * SECOND })).toHaveProperty('Ok');
    expect(allowanceOf(store, NOW + 10n * SECOND - 1n, { owner: ALICE }, { owner: BOB })).toEqual({
      amount: 500n,
      expiresAt: NOW + 10n * SECOND
    });
    expect(allowanceOf(store, NOW + 10n * SECOND, { owner: ALICE }, { owner: BOB })).toEqual({ amount: 0n });
    expect(allowanceOf(store, NOW + 11n * SECOND, { owner: ALICE }, { owner: BOB })).toEqual({ amount: 0n });
    expect(allow(store, ALICE, { spender: { owner: BOB }, amount: 1n, expiresAt: U64_MAX })).toHaveProperty('Ok');
    expect(allowanceOf(store, NOW, { owner: ALICE }, { owner: BOB })).toEqual({ amount: 1n, expiresAt: U64_MAX });
  });

  it('AllowanceChanged: expected_allowance must match the live allowance', () => {
    const store = newLedger([[{ owner: ALICE }, 1_000_000n]]);
    expect(allow(store, ALICE, { spender: { owner: BOB }, amount: 100n, expectedAllowance: 1n })).toEqual({
      Err: { AllowanceChanged: { current_allowance: 0n } }
    });
    expect(allow(store, ALICE, { spender: { owner: BOB }, amount: 100n, expectedAllowance: 0n, expiresAt: NOW + SECOND })).toHaveProperty(
      'Ok'
    );
    expect(allow(store, ALICE, { spender: { owner: BOB }, amount: 200n, expectedAllowance: 99n })).toEqual({
      Err: { AllowanceChanged: { current_allowance: 100n } }
    });
    expect(allow(store, ALICE, { spender: { owner: BOB }, amount: 200n, expectedAllowance: 100n })).toHaveProperty('Ok');
    expect(allowanceOf(store, NOW, { owner: ALICE }, { owner: BOB })).toEqual({ amount: 200n });
    expect(allow(store, ALICE, { spender: { owner: CAROL }, amount: 7n, expiresAt: NOW + SECOND })).toHaveProperty('Ok');
    // An expired approval counts as zero.
    expect(allow(store, ALICE, { spender: { owner: CAROL }, amount: 8n, expectedAllowance: 7n }, NOW + SECOND)).toEqual({
      Err: { AllowanceChanged: { current_allowance: 0n } }
    });
    expect(allow(store, ALICE, { spender: { owner: CAROL }, amount: 8n, expectedAllowance: 0n }, NOW + SECOND)).toHaveProperty('Ok');
  });

  it('Expired: expires_at must lie after the ledger time, and the balance is untouched', () => {
    const store = newLedger([[{ owner: ALICE }, 1_000_000n]]);
    expect(allow(store, ALICE, { spender: { owner: BOB }, amount: 1n, expiresAt: NOW })).toEqual({
      Err: { Expired: { ledger_time: NOW } }
    });
    expect(allow(store, ALICE, { spender: { owner: BOB }, amount: 1n, expiresAt: NOW - 1n })).toEqual({
      Err: { Expired: { ledger_time: NOW } }
    });
    expect(allow(store, ALICE, { spender: { owner: BOB }, amount: 1n, expiresAt: NOW + 1n })).toHaveProperty('Ok');
  });

  it('BadFee and InsufficientFunds', () => {
    const store = newLedger([[{ owner: ALICE }, 2n * FEE]]);
    expect(allow(store, ALICE, { spender: { owner: BOB }, amount: 1n, fee: FEE + 1n })).toEqual({ Err: { BadFee: { expected_fee: FEE } } });
    expect(allow(store, ALICE, { spender: { owner: BOB }, amount: 1n, fee: FEE })).toHaveProperty('Ok');
    expect(block(store, 1n).fee).toBeUndefined();
    expect(block(store, 1n).tx.fee).toBe(FEE);
    expect(allow(store, ALICE, { spender: { owner: CAROL }, amount: 10n ** 12n })).toHaveProperty('Ok');
    expect(allow(store, ALICE, { spender: { owner: MINTER.owner }, amount: 1n })).toEqual({ Err: { InsufficientFunds: { balance: 0n } } });
    expect(allow(store, BOB, { spender: { owner: ALICE }, amount: 0n })).toEqual({ Err: { InsufficientFunds: { balance: 0n } } });
    const short = newLedger([
      [{ owner: CAROL }, FEE - 1n],
      [{ owner: CAROL, subaccount: SUB }, FEE]
    ]);
    expect(allow(short, CAROL, { spender: { owner: BOB }, amount: 1n })).toEqual({ Err: { InsufficientFunds: { balance: FEE - 1n } } });
    expect(allow(short, CAROL, { fromSubaccount: SUB, spender: { owner: BOB }, amount: 1n })).toHaveProperty('Ok');
    expect(bal(short, CAROL, SUB)).toBe(0n);
  });

  it('TooOld, CreatedInFuture, Duplicate and TemporarilyUnavailable', () => {
    const store = newLedger([[{ owner: ALICE }, 1_000_000n]], { maxTransactionsInWindow: 3 });
    const args: ApproveArgs = { spender: { owner: BOB }, amount: 5n, createdAtTime: NOW };
    expect(allow(store, ALICE, { ...args, createdAtTime: NOW - TX_WINDOW_NS - PERMITTED_DRIFT_NS - 1n })).toEqual({
      Err: { TooOld: null }
    });
    expect(allow(store, ALICE, { ...args, createdAtTime: NOW + PERMITTED_DRIFT_NS + 1n })).toEqual({
      Err: { CreatedInFuture: { ledger_time: NOW } }
    });
    expect(allow(store, ALICE, args)).toEqual({ Ok: 1n });
    expect(allow(store, ALICE, args)).toEqual({ Err: { Duplicate: { duplicate_of: 1n } } });
    expect(allow(store, ALICE, { ...args, expectedAllowance: 5n })).toEqual({ Ok: 2n });
    expect(allow(store, ALICE, { ...args, expiresAt: U64_MAX })).toEqual({ Ok: 3n });
    expect(allow(store, ALICE, { ...args, spender: { owner: BOB, subaccount: ZERO_SUB } })).toEqual({
      Err: { TemporarilyUnavailable: null }
    });
    expect(allow(store, ALICE, { spender: { owner: BOB }, amount: 6n })).toEqual({ Ok: 4n });
  });

  describe('GenericError', () => {
    it('anonymous caller, bad subaccounts, bad spender, long memo', () => {
      const store = newLedger([
        [{ owner: ALICE }, 1_000_000n],
        [{ owner: ANONYMOUS_OWNER }, 1_000_000n]
      ]);
      expect(allow(store, ANONYMOUS_OWNER, { spender: { owner: BOB }, amount: 1n })).toEqual(generic(ErrorCode.anonymousCaller));
      expect(allow(store, ALICE, { fromSubaccount: '01', spender: { owner: BOB }, amount: 1n })).toEqual(generic(ErrorCode.badSubaccount));
      expect(allow(store, ALICE, { spender: { owner: BOB, subaccount: 'x'.repeat(64) }, amount: 1n })).toEqual(
        generic(ErrorCode.badSubaccount)
      );
      expect(allow(store, ALICE, { spender: { owner: 'B0B' }, amount: 1n })).toEqual(generic(ErrorCode.badAccount));
      expect(allow(store, ALICE, { spender: { owner: BOB }, amount: 1n, memo: '00'.repeat(33) })).toEqual(generic(ErrorCode.memoTooLong));
    });

    it('self approval, whatever the subaccounts', () => {
      const store = newLedger([[{ owner: ALICE }, 1_000_000n]]);
      expect(allow(store, ALICE, { spender: { owner: ALICE }, amount: 1n })).toEqual(generic(ErrorCode.selfApproval));
      expect(allow(store, ALICE, { spender: { owner: ALICE, subaccount: SUB }, amount: 1n })).toEqual(generic(ErrorCode.selfApproval));
      expect(allow(store, ALICE, { fromSubaccount: SUB, spender: { owner: ALICE }, amount: 1n })).toEqual(generic(ErrorCode.selfApproval));
    });

    it('the minting account cannot approve', () => {
      const store = newLedger();
      expect(allow(store, MINTER.owner, { spender: { owner: BOB }, amount: 1n })).toEqual(generic(ErrorCode.mintingAccountMisuse));
      expect(allow(store, MINTER.owner, { fromSubaccount: ZERO_SUB, spender: { owner: BOB }, amount: 1n })).toEqual(
        generic(ErrorCode.mintingAccountMisuse)
      );
    });
  });
});

describe('icrc2_transfer_from', () => {
  function approved(amount: bigint, expiresAt?: bigint, fromBalance = 1_000_000n): LedgerStore {
    const store = newLedger([[{ owner: ALICE }, fromBalance]]);
    expect(
      allow(store, ALICE, expiresAt === undefined ? { spender: { owner: BOB }, amount } : { spender: { owner: BOB }, amount, expiresAt })
    ).toEqual({ Ok: 1n });
    return store;
  }

  it('moves tokens from the approver, spending amount + fee of the allowance and none of the spender balance', () => {
    const store = approved(100n + FEE + 1n);
    const before = bal(store, ALICE);
    expect(spend(store, BOB, { from: { owner: ALICE }, to: { owner: CAROL }, amount: 100n })).toEqual({ Ok: 2n });
    expect(allowanceOf(store, NOW, { owner: ALICE }, { owner: BOB })).toEqual({ amount: 1n });
    expect(bal(store, ALICE)).toBe(before - 100n - FEE);
    expect(bal(store, CAROL)).toBe(100n);
    expect(bal(store, BOB)).toBe(0n);
    expect(supply(store)).toBe(1_000_000n - 2n * FEE);
    expect(block(store, 2n)).toEqual({
      phash: hashOf(store, 1n),
      ts: NOW,
      fee: FEE,
      tx: { op: 'xfer', from: { owner: ALICE }, to: { owner: CAROL }, spender: { owner: BOB }, amt: 100n }
    });
  });

  it('removes an allowance spent exactly, and keeps the expiry of one partly spent', () => {
    const store = approved(2n * (10n + FEE), NOW + 60n * SECOND);
    expect(spend(store, BOB, { from: { owner: ALICE }, to: { owner: BOB }, amount: 10n, fee: FEE })).toHaveProperty('Ok');
    expect(allowanceOf(store, NOW, { owner: ALICE }, { owner: BOB })).toEqual({ amount: 10n + FEE, expiresAt: NOW + 60n * SECOND });
    expect(spend(store, BOB, { from: { owner: ALICE }, to: { owner: BOB }, amount: 10n })).toHaveProperty('Ok');
    expect(store.allowances.has(allowanceKey({ owner: ALICE }, { owner: BOB }))).toBe(false);
    expect(bal(store, BOB)).toBe(20n);
  });

  it('needs no allowance when the spender is the source account', () => {
    const store = newLedger([
      [{ owner: ALICE }, 1_000_000n],
      [{ owner: ALICE, subaccount: SUB }, 1_000_000n]
    ]);
    expect(spend(store, ALICE, { from: { owner: ALICE, subaccount: ZERO_SUB }, to: { owner: BOB }, amount: 5n })).toHaveProperty('Ok');
    expect(
      spend(store, ALICE, { spenderSubaccount: SUB, from: { owner: ALICE, subaccount: SUB }, to: { owner: BOB }, amount: 5n })
    ).toHaveProperty('Ok');
    expect(
      spend(store, ALICE, { spenderSubaccount: SUB2, from: { owner: ALICE, subaccount: SUB }, to: { owner: BOB }, amount: 5n })
    ).toEqual({ Err: { InsufficientAllowance: { allowance: 0n } } });
    expect(bal(store, BOB)).toBe(10n);
    expect(store.allowances.size()).toBe(0);
  });

  it('burns through transfer_from without a fee, spending only the amount of the allowance', () => {
    const store = approved(3n * FEE);
    expect(spend(store, BOB, { from: { owner: ALICE }, to: MINTER, amount: 2n * FEE })).toEqual({ Ok: 2n });
    expect(allowanceOf(store, NOW, { owner: ALICE }, { owner: BOB })).toEqual({ amount: FEE });
    expect(bal(store, ALICE)).toBe(1_000_000n - 3n * FEE);
    expect(supply(store)).toBe(1_000_000n - 3n * FEE);
    expect(block(store, 2n)).toEqual({
      phash: hashOf(store, 1n),
      ts: NOW,
      tx: { op: 'burn', from: { owner: ALICE }, spender: { owner: BOB }, amt: 2n * FEE }
    });
    expect(spend(store, BOB, { from: { owner: ALICE }, to: MINTER, amount: FEE - 1n })).toEqual({
      Err: { BadBurn: { min_burn_amount: FEE } }
    });
    expect(spend(store, BOB, { from: { owner: ALICE }, to: MINTER, amount: FEE, fee: FEE })).toEqual({
      Err: { BadFee: { expected_fee: 0n } }
    });
    expect(spend(store, BOB, { from: { owner: ALICE }, to: MINTER, amount: FEE + 1n })).toEqual({
      Err: { InsufficientAllowance: { allowance: FEE } }
    });
    expect(spend(store, BOB, { from: { owner: ALICE }, to: MINTER, amount: FEE, fee: 0n })).toHaveProperty('Ok');
  });

  it('BadBurn through transfer_from names min(fee, balance) of the source, and the fee for a zero burn', () => {
    const store = newLedger([[{ owner: ALICE }, FEE + 5n]]);
    expect(allow(store, ALICE, { spender: { owner: BOB }, amount: 100n })).toHaveProperty('Ok');
    expect(spend(store, BOB, { from: { owner: ALICE }, to: MINTER, amount: 4n })).toEqual({ Err: { BadBurn: { min_burn_amount: 5n } } });
    expect(spend(store, BOB, { from: { owner: ALICE }, to: MINTER, amount: 5n })).toHaveProperty('Ok');
    expect(spend(store, BOB, { from: { owner: ALICE }, to: MINTER, amount: 0n })).toEqual({ Err: { BadBurn: { min_burn_amount: FEE } } });
  });

  it('InsufficientAllowance: leaves allowance and balances untouched', () => {
    const store = approved(100n + FEE - 1n);
    expect(spend(store, BOB, { from: { owner: ALICE }, to: { owner: CAROL }, amount: 100n })).toEqual({
      Err: { InsufficientAllowance: { allowance: 100n + FEE - 1n } }
    });
    expect(spend(store, CAROL, { from: { owner: ALICE }, to: { owner: CAROL }, amount: 1n })).toEqual({
      Err: { InsufficientAllowance: { allowance: 0n } }
    });
    expect(spend(store, BOB, { spenderSubaccount: SUB, from: { owner: ALICE }, to: { owner: CAROL }, amount: 1n })).toEqual({
      Err: { InsufficientAllowance: { allowance: 0n } }
    });
    expect(allowanceOf(store, NOW, { owner: ALICE }, { owner: BOB }).amount).toBe(100n + FEE - 1n);
  });

  it('InsufficientAllowance: an expired approval allows nothing', () => {
    const store = approved(1_000n + FEE, NOW + SECOND);
    expect(spend(store, BOB, { from: { owner: ALICE }, to: { owner: CAROL }, amount: 1_000n }, NOW + SECOND)).toEqual({
      Err: { InsufficientAllowance: { allowance: 0n } }
    });
    expect(spend(store, BOB, { from: { owner: ALICE }, to: { owner: CAROL }, amount: 1_000n }, NOW + SECOND - 1n)).toHaveProperty('Ok');
  });

  it('InsufficientFunds: leaves the allowance untouched', () => {
    const store = approved(10n ** 12n, undefined, 50_000n);
    const balance = bal(store, ALICE);
    expect(spend(store, BOB, { from: { owner: ALICE }, to: { owner: CAROL }, amount: balance - FEE + 1n })).toEqual({
      Err: { InsufficientFunds: { balance } }
    });
    expect(spend(store, BOB, { from: { owner: ALICE }, to: MINTER, amount: balance + 1n })).toEqual({
      Err: { InsufficientFunds: { balance } }
    });
    expect(allowanceOf(store, NOW, { owner: ALICE }, { owner: BOB }).amount).toBe(10n ** 12n);
    expect(spend(store, BOB, { from: { owner: ALICE }, to: { owner: CAROL }, amount: balance - FEE })).toHaveProperty('Ok');
  });

  it('BadFee', () => {
    const store = approved(1_000_000n);
    expect(spend(store, BOB, { from: { owner: ALICE }, to: { owner: CAROL }, amount: 1n, fee: 0n })).toEqual({
      Err: { BadFee: { expected_fee: FEE } }
    });
    expect(spend(store, BOB, { from: { owner: ALICE }, to: { owner: CAROL }, amount: 1n, fee: FEE + 1n })).toEqual({
      Err: { BadFee: { expected_fee: FEE } }
    });
  });

  it('TooOld, CreatedInFuture, Duplicate and TemporarilyUnavailable', () => {
    const store = newLedger([[{ owner: ALICE }, 1_000_000n]], { maxTransactionsInWindow: 2 });
    expect(allow(store, ALICE, { spender: { owner: BOB }, amount: 500_000n })).toEqual({ Ok: 1n });
    const args: TransferFromArgs = { from: { owner: ALICE }, to: { owner: CAROL }, amount: 1n, createdAtTime: NOW };
    expect(spend(store, BOB, { ...args, createdAtTime: NOW - TX_WINDOW_NS - PERMITTED_DRIFT_NS - 1n })).toEqual({ Err: { TooOld: null } });
    expect(spend(store, BOB, { ...args, createdAtTime: NOW + PERMITTED_DRIFT_NS + 1n })).toEqual({
      Err: { CreatedInFuture: { ledger_time: NOW } }
    });
    expect(spend(store, BOB, args)).toEqual({ Ok: 2n });
    expect(spend(store, BOB, args)).toEqual({ Err: { Duplicate: { duplicate_of: 2n } } });
    // The spender is part of the transaction: the same transfer by ALICE herself is a different one.
    expect(spend(store, ALICE, args)).toEqual({ Ok: 3n });
    expect(spend(store, BOB, { ...args, to: { owner: CAROL, subaccount: ZERO_SUB } })).toEqual({ Err: { TemporarilyUnavailable: null } });
  });

  describe('GenericError', () => {
    it('anonymous caller, bad subaccounts, bad accounts, long memo', () => {
      const store = approved(1_000_000n);
      const args: TransferFromArgs = { from: { owner: ALICE }, to: { owner: CAROL }, amount: 1n };
      expect(spend(store, ANONYMOUS_OWNER, args)).toEqual(generic(ErrorCode.anonymousCaller));
      expect(spend(store, BOB, { ...args, spenderSubaccount: '00'.repeat(31) })).toEqual(generic(ErrorCode.badSubaccount));
      expect(spend(store, BOB, { ...args, from: { owner: ALICE, subaccount: '0'.repeat(64) + '00' } })).toEqual(
        generic(ErrorCode.badSubaccount)
      );
      expect(spend(store, BOB, { ...args, to: { owner: CAROL, subaccount: 'Z'.repeat(64) } })).toEqual(generic(ErrorCode.badSubaccount));
      expect(spend(store, BOB, { ...args, from: { owner: '' } })).toEqual(generic(ErrorCode.badAccount));
      expect(spend(store, BOB, { ...args, to: { owner: 'ff'.repeat(30) } })).toEqual(generic(ErrorCode.badAccount));
      expect(spend(store, BOB, { ...args, memo: '00'.repeat(33) })).toEqual(generic(ErrorCode.memoTooLong));
    });

    it('nothing can be minted through transfer_from', () => {
      const store = approved(1_000_000n);
      expect(spend(store, BOB, { from: MINTER, to: { owner: CAROL }, amount: 1n })).toEqual(generic(ErrorCode.mintingAccountMisuse));
      expect(spend(store, MINTER.owner, { from: MINTER, to: { owner: CAROL }, amount: 1n })).toEqual(
        generic(ErrorCode.mintingAccountMisuse)
      );
      expect(spend(store, BOB, { from: { owner: MINTER.owner, subaccount: ZERO_SUB }, to: MINTER, amount: 1n })).toEqual(
        generic(ErrorCode.mintingAccountMisuse)
      );
    });
  });
});

describe('icrc3_get_blocks', () => {
  const owner = (i: number): string => (0x1000 + i).toString(16);
  function ledgerWith(count: number): LedgerStore {
    return newLedger(Array.from({ length: count }, (_, i): [Account, bigint] => [{ owner: owner(i) }, BigInt(i + 1)]));
  }
  const ids = (result: ReturnType<typeof getBlocks>): bigint[] => result.blocks.map((b) => b.id);

  it('returns the existing blocks of each range in request order', () => {
    const store = ledgerWith(5);
    const all = getBlocks(store, [{ start: 0n, length: 5n }]);
    expect(all.logLength).toBe(5n);
    expect(ids(all)).toEqual([0n, 1n, 2n, 3n, 4n]);
    all.blocks.forEach(({ id, block: got }) => expect(got).toEqual(block(store, id)));
    expect(all.blocks[0]?.block.phash).toBeUndefined();
    expect(all.blocks[4]?.block.phash).toBe(hashOf(store, 3n));
    expect(ids(getBlocks(store, [{ start: 1n, length: 2n }]))).toEqual([1n, 2n]);
    expect(ids(getBlocks(store, [{ start: 3n, length: 10n }]))).toEqual([3n, 4n]);
    expect(
      ids(
        getBlocks(store, [
          { start: 4n, length: 1n },
          { start: 0n, length: 2n }
        ])
      )
    ).toEqual([4n, 0n, 1n]);
    expect(ids(getBlocks(store, [{ start: 1n, length: U64_MAX }]))).toEqual([1n, 2n, 3n, 4n]);
  });

  it('returns nothing for empty and out-of-range requests, with the log length', () => {
    const store = ledgerWith(5);
    for (const ranges of [
      [],
      [{ start: 0n, length: 0n }],
      [{ start: 5n, length: 1n }],
      [{ start: 100n, length: 5n }],
      [{ start: U64_MAX, length: U64_MAX }]
    ]) {
      expect(getBlocks(store, ranges)).toEqual({ logLength: 5n, blocks: [] });
    }
    expect(getBlocks(newLedger(), [{ start: 0n, length: 10n }])).toEqual({ logLength: 0n, blocks: [] });
  });

  it('caps one response at MAX_BLOCKS_PER_RESPONSE blocks over all ranges', () => {
    const store = ledgerWith(MAX_BLOCKS_PER_RESPONSE + 50);
    const one = getBlocks(store, [{ start: 0n, length: 1_000n }]);
    expect(one.logLength).toBe(BigInt(MAX_BLOCKS_PER_RESPONSE + 50));
    expect(ids(one)).toEqual(Array.from({ length: MAX_BLOCKS_PER_RESPONSE }, (_, i) => BigInt(i)));
    const two = ids(
      getBlocks(store, [
        { start: 0n, length: 60n },
        { start: 100n, length: 60n },
        { start: 10n, length: 1n }
      ])
    );
    expect(two).toHaveLength(MAX_BLOCKS_PER_RESPONSE);
    expect(two.slice(59, 61)).toEqual([59n, 100n]);
    expect(two.at(-1)).toBe(139n);
  });

  it('reads at most MAX_BLOCK_RANGES ranges', () => {
    const store = ledgerWith(MAX_BLOCK_RANGES + 5);
    const ranges = Array.from({ length: MAX_BLOCK_RANGES + 5 }, (_, i) => ({ start: BigInt(i), length: 1n }));
    expect(ids(getBlocks(store, ranges))).toEqual(Array.from({ length: MAX_BLOCK_RANGES }, (_, i) => BigInt(i)));
  });
});

describe('certifyPending', () => {
  it('has nothing to certify on an empty log', () => {
    const store = newLedger();
    expect(certifyPending(store, 10)).toBeUndefined();
    expect(store.tip()).toEqual({ totalSupply: 0n, blockCount: 0n, hashedCount: 0n });
  });

  it('hashes appended blocks in order, at most max per call, without changing what get_blocks shows', () => {
    const store = newLedger([[{ owner: ALICE }, 1_000_000n]]);
    for (let i = 1n; i <= 4n; i++) expect(send(store, ALICE, { to: { owner: BOB }, amount: i })).toEqual({ Ok: i });
    const before = allBlocks(store);
    expect(certifyPending(store, 2)).toEqual({ lastIndex: 1n, lastHash: hashOf(store, 1n), pending: 3n });
    expect(store.tip()).toMatchObject({ blockCount: 5n, hashedCount: 2n });
    expectConsistent(store);
    expect(allBlocks(store)).toEqual(before);
    const done = { lastIndex: 4n, lastHash: hashOf(store, 4n), pending: 0n };
    expect(certifyPending(store, 100)).toEqual(done);
    expectConsistent(store);
    expect(allBlocks(store)).toEqual(before);
    // Nothing new: the same tip, and nothing is rewritten.
    expect(certifyPending(store, 100)).toEqual(done);
    expect(certifyPending(store, 0)).toEqual(done);
    expect(send(store, ALICE, { to: { owner: BOB }, amount: 5n })).toEqual({ Ok: 5n });
    expect(block(store, 5n).phash).toBe(done.lastHash);
    expect(certifyPending(store, 0)).toEqual({ ...done, pending: 1n });
    expect(certifyPending(store, 1)).toEqual({ lastIndex: 5n, lastHash: hashOf(store, 5n), pending: 0n });
    expectConsistent(store);
  });

  it('a failed operation leaves the certification state alone', () => {
    const store = newLedger([[{ owner: ALICE }, 1_000_000n]]);
    certifyPending(store, 10);
    const tip = { ...store.tip() };
    expect(send(store, ALICE, { to: { owner: BOB }, amount: 10n ** 9n })).toHaveProperty('Err.InsufficientFunds');
    expect(store.tip()).toEqual(tip);
  });
});
