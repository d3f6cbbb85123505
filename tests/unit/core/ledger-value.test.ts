import { Cbor, NodeType, reconstruct, type HashTree as AgentHashTree, type NodeHash, type NodeLabel, type NodeValue } from '@dfinity/agent';
import { sha256 } from '@noble/hashes/sha2';
import { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from '@noble/hashes/utils';
import { describe, expect, it } from 'vitest';

import {
  accountValue,
  approve,
  blockHash,
  blockValue,
  certifyPending,
  digest,
  getBlocks,
  hashValue,
  leb128,
  makeLedgerConfig,
  memoryLedgerStore,
  mintInitial,
  sleb128,
  tipTree,
  transfer,
  transferFrom,
  treeRoot,
  type Account,
  type HashTree,
  type LedgerStore,
  type Block,
  type Value
} from '../../../src/core/ledger/index.ts';

const SECOND = 1_000_000_000n;
const NOW = 1_700_000_000n * SECOND;
const FEE = 10_000n;
const MINTER: Account = { owner: 'ee'.repeat(10) };
const ALICE = 'aa'.repeat(10);
const BOB = 'bb'.repeat(10);
const SUB = '01'.repeat(32);
const ZERO_SUB = '00'.repeat(32);

function newStore(): LedgerStore {
  const config = makeLedgerConfig({ name: 'Test', symbol: 'TST', fee: FEE, mintingAccount: MINTER, initialBalances: [], metadata: [] });
  if ('Err' in config) throw new Error(config.Err);
  return memoryLedgerStore(config.Ok);
}

function ok<T>(result: { Ok: T } | { Err: unknown }): T {
  if (!('Ok' in result))
    throw new Error(`expected Ok, got ${JSON.stringify(result.Err, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`);
  return result.Ok;
}

/** Block `index` as icrc3_get_blocks returns it, with its phash. */
function fullBlock(store: LedgerStore, index: bigint): Block {
  const got = getBlocks(store, [{ start: index, length: 1n }]).blocks[0];
  if (got === undefined) throw new Error(`no block ${index}`);
  return got.block;
}

const hex = (value: Value): string => bytesToHex(hashValue(value));
const blob = (h: string): Value => ({ Blob: hexToBytes(h) });
const acct = (owner: string, subaccount?: string): Value => ({
  Array: subaccount === undefined ? [blob(owner)] : [blob(owner), blob(subaccount)]
});

/** The fields of a Map value by key; a duplicated key would make the block ambiguous, so it fails here. */
function fields(value: Value | undefined): Record<string, Value> {
  if (value === undefined || !('Map' in value)) throw new Error('expected a Map value');
  const out: Record<string, Value> = {};
  for (const [key, v] of value.Map) {
    if (key in out) throw new Error(`duplicate key ${key}`);
    out[key] = v;
  }
  return out;
}

function toAgentTree(tree: HashTree): AgentHashTree {
  // The agent brands its byte arrays; the bytes themselves are what is compared.
  switch (tree[0]) {
    case 0:
      return [NodeType.Empty];
    case 1:
      return [NodeType.Fork, toAgentTree(tree[1]), toAgentTree(tree[2])];
    case 2:
      return [NodeType.Labeled, tree[1] as NodeLabel, toAgentTree(tree[2])];
    case 3:
      return [NodeType.Leaf, tree[1] as NodeValue];
    case 4:
      return [NodeType.Pruned, tree[1] as NodeHash];
  }
}

describe('ICRC-3 value hashing (HASHINGVALUES.md vectors)', () => {
  it('hashes Nat, Int, Text and Blob', () => {
    expect(hex({ Nat: 42n })).toBe('684888c0ebb17f374298b65ee2807526c066094c701bcc7ebbe1c1095f494fc1');
    expect(hex({ Int: -42n })).toBe('de5a6f78116eca62d7fc5ce159d23ae6b889b365a1739ad2cf36f925a140d0cc');
    expect(hex({ Text: 'Hello, World!' })).toBe('dffd6021bb2bd5b0af676290809ec3a53191dd81c7f70a4b28688a362182986f');
    expect(hex(blob('01020304'))).toBe('9f64a747e1b97f131fabb6b447296c9b6f0201e79fb3c5356e6c77e89b6a806a');
  });

  it('hashes an Array as the hash of its concatenated element hashes', () => {
    expect(hex({ Array: [{ Nat: 3n }, { Text: 'foo' }, blob('0506')] })).toBe(
      '514a04011caa503990d446b7dec5d79e19c221ae607fb08b2848c67734d468d6'
    );
    expect(hex({ Array: [] })).toBe(bytesToHex(sha256(new Uint8Array())));
    expect(digest(utf8ToBytes('ab'), new Uint8Array(), utf8ToBytes('c'))).toEqual(sha256(utf8ToBytes('abc')));
  });

  it('hashes a Map independently of the order of its entries', () => {
    const entries: Array<[string, Value]> = [
      ['from', blob('00abcdef0012340056789a00bcdef000012345678900abcdef01')],
      ['to', blob('00ab0def0012340056789a00bcdef000012345678900abcdef01')],
      ['amount', { Nat: 42n }],
      ['created_at', { Nat: 1699218263n }],
      ['memo', { Nat: 0n }]
    ];
    const expected = 'c56ece650e1de4269c5bdeff7875949e3e2033f85b2d193c2ff4f7f78bdcfc75';
    expect(hex({ Map: entries })).toBe(expected);
    expect(hex({ Map: [...entries].reverse() })).toBe(expected);
    expect(hex({ Map: [...entries.slice(2), ...entries.slice(0, 2)] })).toBe(expected);
    expect(hex({ Map: [] })).toBe(bytesToHex(sha256(new Uint8Array())));
  });

  it('distinguishes Nat from Int only where their encodings differ', () => {
    // leb128(42) == sleb128(42), so the representation-independent hash is the same; 64 differs (0x40 vs 0xc0 0x00).
    expect(hex({ Nat: 42n })).toBe(hex({ Int: 42n }));
    expect(hex({ Nat: 64n })).not.toBe(hex({ Int: 64n }));
  });
});

describe('leb128 / sleb128', () => {
  it('encodes unsigned edge cases', () => {
    const cases: Array<[bigint, string]> = [
      [0n, '00'],
      [1n, '01'],
      [127n, '7f'],
      [128n, '8001'],
      [255n, 'ff01'],
      [300n, 'ac02'],
      [16_383n, 'ff7f'],
      [16_384n, '808001'],
      [624_485n, 'e58e26'],
      [2n ** 64n - 1n, 'ffffffffffffffffff01'],
      [2n ** 64n, '80808080808080808002']
    ];
    for (const [n, expected] of cases) expect(bytesToHex(leb128(n)), String(n)).toBe(expected);
  });

  it('refuses a negative number', () => {
    expect(() => leb128(-1n)).toThrow(RangeError);
  });

  it('encodes signed edge cases, including the sign bit of the last byte', () => {
    const cases: Array<[bigint, string]> = [
      [0n, '00'],
      [1n, '01'],
      [-1n, '7f'],
      [63n, '3f'],
      [64n, 'c000'],
      [-64n, '40'],
      [-65n, 'bf7f'],
      [127n, 'ff00'],
      [128n, '8001'],
      [-128n, '807f'],
      [-129n, 'ff7e'],
      [-42n, '56'],
      [-123_456n, 'c0bb78'],
      [2n ** 63n - 1n, 'ff'.repeat(9) + '00'],
      [-(2n ** 63n), '80'.repeat(9) + '7f']
    ];
    for (const [n, expected] of cases) expect(bytesToHex(sleb128(n)), String(n)).toBe(expected);
  });

  it('round-trips random values through a reference decoder', () => {
    const decodeSigned = (bytes: Uint8Array): bigint => {
      let result = 0n;
      let shift = 0n;
      let byte = 0;
      for (const b of bytes) {
        byte = b;
        result |= BigInt(b & 0x7f) << shift;
        shift += 7n;
      }
      return (byte & 0x40) !== 0 ? result - (1n << shift) : result;
    };
    const decodeUnsigned = (bytes: Uint8Array): bigint => bytes.reduceRight((acc, b) => (acc << 7n) | BigInt(b & 0x7f), 0n);
    let n = 1n;
    for (let i = 0; i < 200; i++) {
      n = (n * 6_364_136_223_846_793_005n + 1_442_695_040_888_963_407n) % 2n ** 80n;
      const value = n >> BigInt(i % 80);
      expect(decodeUnsigned(leb128(value))).toBe(value);
      expect(decodeSigned(sleb128(value))).toBe(value);
      expect(decodeSigned(sleb128(-value))).toBe(-value);
    }
  });
});

describe('blockValue (legacy ICRC-1/2 block schema)', () => {
  it('writes an account as [owner] or [owner, subaccount], keeping an explicit zero subaccount', () => {
    expect(accountValue({ owner: ALICE })).toEqual(acct(ALICE));
    expect(accountValue({ owner: ALICE, subaccount: SUB })).toEqual(acct(ALICE, SUB));
    expect(accountValue({ owner: ALICE, subaccount: ZERO_SUB })).toEqual(acct(ALICE, ZERO_SUB));
  });

  it('a mint block has no phash at index 0, no fee, and only to/amt in tx', () => {
    const store = newStore();
    mintInitial(store, NOW, [[{ owner: ALICE }, 1_000_000n]]);
    const top = fields(blockValue(fullBlock(store, 0n)));
    expect(Object.keys(top).sort()).toEqual(['ts', 'tx']);
    expect(top.ts).toEqual({ Nat: NOW });
    expect(fields(top.tx)).toEqual({ op: { Text: 'mint' }, to: acct(ALICE), amt: { Nat: 1_000_000n } });
  });

  it('a mint through transfer keeps the caller-given memo and created_at_time, and the next block links to it', () => {
    const store = newStore();
    mintInitial(store, NOW, [[{ owner: ALICE }, 1_000_000n]]);
    ok(
      transfer(store, MINTER.owner, NOW + 1n, {
        to: { owner: BOB, subaccount: SUB },
        amount: 5n,
        memo: 'cafe',
        createdAtTime: NOW,
        fee: 0n
      })
    );
    const top = fields(blockValue(fullBlock(store, 1n)));
    expect(Object.keys(top).sort()).toEqual(['phash', 'ts', 'tx']);
    expect(top.phash).toEqual(blob(blockHash(fullBlock(store, 0n))));
    expect(top.ts).toEqual({ Nat: NOW + 1n });
    // A mint's fee is always zero, so the explicit `fee: 0` is not part of the transaction.
    expect(fields(top.tx)).toEqual({ op: { Text: 'mint' }, to: acct(BOB, SUB), amt: { Nat: 5n }, memo: blob('cafe'), ts: { Nat: NOW } });
  });

  it('a transfer without a fee puts the charged fee at the top level; with one, only in tx', () => {
    const store = newStore();
    mintInitial(store, NOW, [[{ owner: ALICE }, 1_000_000n]]);
    ok(transfer(store, ALICE, NOW, { to: { owner: BOB }, amount: 100n }));
    ok(transfer(store, ALICE, NOW, { fromSubaccount: ZERO_SUB, to: { owner: BOB, subaccount: ZERO_SUB }, amount: 7n, fee: FEE }));
    const implicit = fields(blockValue(fullBlock(store, 1n)));
    expect(Object.keys(implicit).sort()).toEqual(['fee', 'phash', 'ts', 'tx']);
    expect(implicit.fee).toEqual({ Nat: FEE });
    expect(fields(implicit.tx)).toEqual({ op: { Text: 'xfer' }, from: acct(ALICE), to: acct(BOB), amt: { Nat: 100n } });
    const explicit = fields(blockValue(fullBlock(store, 2n)));
    expect(Object.keys(explicit).sort()).toEqual(['phash', 'ts', 'tx']);
    expect(fields(explicit.tx)).toEqual({
      op: { Text: 'xfer' },
      from: acct(ALICE, ZERO_SUB),
      to: acct(BOB, ZERO_SUB),
      amt: { Nat: 7n },
      fee: { Nat: FEE }
    });
  });

  it('a burn block has from and amt, and no fee anywhere', () => {
    const store = newStore();
    mintInitial(store, NOW, [[{ owner: ALICE }, 1_000_000n]]);
    ok(transfer(store, ALICE, NOW, { to: MINTER, amount: 50_000n }));
    const top = fields(blockValue(fullBlock(store, 1n)));
    expect(Object.keys(top).sort()).toEqual(['phash', 'ts', 'tx']);
    expect(fields(top.tx)).toEqual({ op: { Text: 'burn' }, from: acct(ALICE), amt: { Nat: 50_000n } });
  });

  it('an approve block has spender, and expected_allowance / expires_at only when given', () => {
    const store = newStore();
    mintInitial(store, NOW, [[{ owner: ALICE }, 1_000_000n]]);
    ok(approve(store, ALICE, NOW, { spender: { owner: BOB }, amount: 500n }));
    ok(
      approve(store, ALICE, NOW, {
        spender: { owner: BOB },
        amount: 600n,
        expectedAllowance: 500n,
        expiresAt: NOW + SECOND,
        fee: FEE,
        memo: '00',
        createdAtTime: NOW
      })
    );
    const plain = fields(blockValue(fullBlock(store, 1n)));
    expect(plain.fee).toEqual({ Nat: FEE });
    expect(fields(plain.tx)).toEqual({ op: { Text: 'approve' }, from: acct(ALICE), spender: acct(BOB), amt: { Nat: 500n } });
    const full = fields(blockValue(fullBlock(store, 2n)));
    expect(Object.keys(full).sort()).toEqual(['phash', 'ts', 'tx']);
    expect(fields(full.tx)).toEqual({
      op: { Text: 'approve' },
      from: acct(ALICE),
      spender: acct(BOB),
      amt: { Nat: 600n },
      fee: { Nat: FEE },
      memo: blob('00'),
      ts: { Nat: NOW },
      expected_allowance: { Nat: 500n },
      expires_at: { Nat: NOW + SECOND }
    });
  });

  it('transfer_from blocks record the spender, for a transfer and for a burn', () => {
    const store = newStore();
    mintInitial(store, NOW, [[{ owner: ALICE }, 1_000_000n]]);
    ok(approve(store, ALICE, NOW, { spender: { owner: BOB, subaccount: SUB }, amount: 100_000n }));
    ok(transferFrom(store, BOB, NOW, { spenderSubaccount: SUB, from: { owner: ALICE }, to: { owner: BOB }, amount: 10n }));
    ok(transferFrom(store, BOB, NOW, { spenderSubaccount: SUB, from: { owner: ALICE }, to: MINTER, amount: FEE }));
    const xfer = fields(blockValue(fullBlock(store, 2n)));
    expect(xfer.fee).toEqual({ Nat: FEE });
    expect(fields(xfer.tx)).toEqual({ op: { Text: 'xfer' }, from: acct(ALICE), to: acct(BOB), spender: acct(BOB, SUB), amt: { Nat: 10n } });
    const burn = fields(blockValue(fullBlock(store, 3n)));
    expect(Object.keys(burn).sort()).toEqual(['phash', 'ts', 'tx']);
    expect(fields(burn.tx)).toEqual({ op: { Text: 'burn' }, from: acct(ALICE), spender: acct(BOB, SUB), amt: { Nat: FEE } });
  });

  it('hashes every block kind on the fast path exactly as hashValue(blockValue(block))', () => {
    const store = newStore();
    mintInitial(store, NOW, [[{ owner: ALICE }, 10n ** 12n]]);
    ok(transfer(store, ALICE, NOW, { to: { owner: BOB }, amount: 1n, memo: 'ff'.repeat(32), createdAtTime: NOW, fee: FEE }));
    ok(transfer(store, ALICE, NOW, { fromSubaccount: ZERO_SUB, to: { owner: BOB, subaccount: SUB }, amount: 2n }));
    ok(transfer(store, ALICE, NOW, { to: MINTER, amount: FEE, memo: '' }));
    ok(transfer(store, MINTER.owner, NOW, { to: { owner: ALICE, subaccount: SUB }, amount: 3n, createdAtTime: NOW }));
    ok(
      approve(store, ALICE, NOW, {
        spender: { owner: BOB },
        amount: 10n ** 9n,
        expectedAllowance: 0n,
        expiresAt: NOW + SECOND,
        createdAtTime: NOW,
        memo: '01'
      })
    );
    ok(transferFrom(store, BOB, NOW, { from: { owner: ALICE }, to: { owner: BOB }, amount: 4n, fee: FEE, createdAtTime: NOW }));
    ok(transferFrom(store, BOB, NOW, { from: { owner: ALICE }, to: MINTER, amount: FEE }));
    const count = store.tip().blockCount;
    for (let i = 0n; i < count; i++) {
      const block = fullBlock(store, i);
      expect(blockHash(block), `block ${i}`).toBe(hex(blockValue(block)));
    }
  });

  it('keeps hashing correctly when the hash caches overflow and evict', () => {
    // Many distinct fees, accounts and short texts: far more than the caches hold.
    for (let i = 0; i < 600; i++) {
      const owner = (0x10000 + i).toString(16).padStart(6, '0');
      const block: Block = {
        phash: i % 2 === 0 ? undefined : 'cd'.repeat(32),
        ts: BigInt(i),
        fee: BigInt(i % 300),
        tx: {
          op: i % 3 === 0 ? 'xfer' : 'approve',
          from: { owner },
          to: { owner: ALICE, subaccount: owner.padStart(64, '0') },
          spender: { owner: BOB },
          amt: BigInt(i),
          fee: BigInt(i)
        }
      };
      if (block.phash === undefined) delete block.phash;
      expect(blockHash(block), `block ${i}`).toBe(hex(blockValue(block)));
      expect(hex({ Text: `t${i}` })).toBe(bytesToHex(sha256(utf8ToBytes(`t${i}`))));
    }
  });

  it('certifies the hash of each block in order, equal to its value hash', () => {
    const store = newStore();
    mintInitial(store, NOW, [[{ owner: ALICE }, 1_000_000n]]);
    ok(transfer(store, ALICE, NOW, { to: { owner: BOB }, amount: 1n, memo: 'ff'.repeat(32) }));
    const tip = certifyPending(store, 10);
    expect(tip).toEqual({ lastIndex: 1n, lastHash: hex(blockValue(fullBlock(store, 1n))), pending: 0n });
    for (const index of [0n, 1n]) expect(store.blocks.getHash(index)).toBe(hex(blockValue(fullBlock(store, index))));
    expect(fields(blockValue(fullBlock(store, 1n))).phash).toEqual(blob(hex(blockValue(fullBlock(store, 0n)))));
  });
});

describe('tip certification tree', () => {
  const HASH = 'ab'.repeat(32);

  it('has the two labels in sorted order, with the index as leb128', () => {
    const tree = tipTree(300n, HASH);
    expect(tree).toEqual([
      1,
      [2, utf8ToBytes('last_block_hash'), [3, hexToBytes(HASH)]],
      [2, utf8ToBytes('last_block_index'), [3, hexToBytes('ac02')]]
    ]);
  });

  it('has the root the agent reconstructs, directly and after a CBOR round trip', async () => {
    for (const index of [0n, 1n, 127n, 128n, 2n ** 64n - 1n]) {
      const tree = tipTree(index, HASH);
      const root = treeRoot(tree);
      expect(bytesToHex(root)).toBe(bytesToHex(await reconstruct(toAgentTree(tree))));
      expect(bytesToHex(root)).toBe(bytesToHex(await reconstruct(Cbor.decode<AgentHashTree>(Cbor.encode(tree)))));
    }
  });

  it('matches the agent on empty and pruned nodes too', async () => {
    const pruned = sha256(utf8ToBytes('elsewhere'));
    const tree: HashTree = [1, [0], [1, [4, pruned], [2, utf8ToBytes('x'), [3, new Uint8Array()]]]];
    expect(bytesToHex(treeRoot(tree))).toBe(bytesToHex(await reconstruct(toAgentTree(tree))));
    expect(treeRoot([4, pruned])).toEqual(pruned);
  });

  it('computes the root from the IC hash-tree domain separators', () => {
    const dsep = (s: string): Uint8Array => concatBytes(Uint8Array.of(s.length), utf8ToBytes(s));
    const leaf = (v: Uint8Array): Uint8Array => sha256(concatBytes(dsep('ic-hashtree-leaf'), v));
    const labeled = (l: string, h: Uint8Array): Uint8Array => sha256(concatBytes(dsep('ic-hashtree-labeled'), utf8ToBytes(l), h));
    const expected = sha256(
      concatBytes(
        dsep('ic-hashtree-fork'),
        labeled('last_block_hash', leaf(hexToBytes(HASH))),
        labeled('last_block_index', leaf(Uint8Array.of(5)))
      )
    );
    expect(treeRoot(tipTree(5n, HASH))).toEqual(expected);
  });

  it('certifies the ledger tip after real operations', async () => {
    const store = newStore();
    mintInitial(store, NOW, [[{ owner: ALICE }, 1_000_000n]]);
    ok(transfer(store, ALICE, NOW, { to: { owner: BOB }, amount: 1n }));
    const tip = certifyPending(store, 10);
    if (tip === undefined) throw new Error('nothing certified');
    expect(tip.lastIndex).toBe(1n);
    const tree = tipTree(tip.lastIndex, tip.lastHash);
    expect(bytesToHex(treeRoot(tree))).toBe(bytesToHex(await reconstruct(toAgentTree(tree))));
  });
});
