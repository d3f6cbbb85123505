import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils';
import { sha256 } from 'js-sha256';

import type { Account, Block, Tx } from './types.js';

/** The ICRC-3 generic value (`type Value = variant { Blob; Text; Nat; Int; Array; Map }`). */
export type Value =
  { Blob: Uint8Array } | { Text: string } | { Nat: bigint } | { Int: bigint } | { Array: Value[] } | { Map: Array<[string, Value]> };

export function leb128(n: bigint): Uint8Array {
  if (n < 0n) throw new RangeError('leb128 of a negative number');
  const out: number[] = [];
  let rest = n;
  do {
    let byte = Number(rest & 0x7fn);
    rest >>= 7n;
    if (rest !== 0n) byte |= 0x80;
    out.push(byte);
  } while (rest !== 0n);
  return Uint8Array.from(out);
}

export function sleb128(n: bigint): Uint8Array {
  const out: number[] = [];
  let rest = n;
  for (;;) {
    const byte = Number(rest & 0x7fn);
    rest >>= 7n;
    const done = (rest === 0n && (byte & 0x40) === 0) || (rest === -1n && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return Uint8Array.from(out);
  }
}

/**
 * SHA-256 of the concatenation of `parts`. js-sha256 rather than @noble/hashes: inside the canister (QuickJS) it
 * needs ~1.8M instructions per 64-byte block against ~3.1M (measured), and block hashing dominates a transfer.
 */
export function digest(...parts: Uint8Array[]): Uint8Array {
  const hasher = sha256.create();
  for (const part of parts) hasher.update(part);
  return new Uint8Array(hasher.arrayBuffer());
}

/**
 * Hashes that repeat from block to block (map keys, `op` texts, the fee, busy accounts) are kept: each saved
 * SHA-256 block is ~1.8M instructions in the canister. Bounded, so memory stays small.
 */
class HashCache<K> {
  private readonly map = new Map<K, Uint8Array>();
  constructor(private readonly capacity: number) {}
  get(key: K, compute: () => Uint8Array): Uint8Array {
    let hash = this.map.get(key);
    if (hash === undefined) {
      hash = compute();
      if (this.map.size >= this.capacity) this.map.delete(this.map.keys().next().value as K);
      this.map.set(key, hash);
    }
    return hash;
  }
}
const textHashes = new HashCache<string>(256);
const natHashes = new HashCache<bigint>(256);
const accountHashes = new HashCache<string>(4096);
const keyHash = (key: string): Uint8Array => textHashes.get(key, () => digest(utf8ToBytes(key)));

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** ICRC-3 representation-independent hash (standards/ICRC-3/HASHINGVALUES.md). */
export function hashValue(value: Value): Uint8Array {
  if ('Blob' in value) return digest(value.Blob);
  if ('Text' in value)
    return value.Text.length <= 16 ? textHashes.get(value.Text, () => digest(utf8ToBytes(value.Text))) : digest(utf8ToBytes(value.Text));
  if ('Nat' in value) return digest(leb128(value.Nat));
  if ('Int' in value) return digest(sleb128(value.Int));
  if ('Array' in value) return digest(...value.Array.map(hashValue));
  const pairs = value.Map.map(([key, v]): [Uint8Array, Uint8Array] => [keyHash(key), hashValue(v)]);
  pairs.sort((a, b) => compareBytes(a[0], b[0]) || compareBytes(a[1], b[1]));
  return digest(...pairs.flat());
}

/** hashValue of a block, reusing the cached hashes of what repeats (fee, accounts, op). */
export function hashBlock(block: Block): Uint8Array {
  const natHash = (n: bigint): Uint8Array => natHashes.get(n, () => digest(leb128(n)));
  const accountHash = (a: Account): Uint8Array =>
    accountHashes.get(a.subaccount === undefined ? a.owner : `${a.owner}.${a.subaccount}`, () => hashValue(accountValue(a)));
  const tx = block.tx;
  const txFields: Array<[string, Value | Uint8Array]> = [
    ['op', { Text: tx.op }],
    ['amt', { Nat: tx.amt }]
  ];
  if (tx.from !== undefined) txFields.push(['from', accountHash(tx.from)]);
  if (tx.to !== undefined) txFields.push(['to', accountHash(tx.to)]);
  if (tx.spender !== undefined) txFields.push(['spender', accountHash(tx.spender)]);
  if (tx.fee !== undefined) txFields.push(['fee', natHash(tx.fee)]);
  if (tx.memo !== undefined) txFields.push(['memo', { Blob: hexToBytes(tx.memo) }]);
  if (tx.ts !== undefined) txFields.push(['ts', { Nat: tx.ts }]);
  if (tx.expected_allowance !== undefined) txFields.push(['expected_allowance', { Nat: tx.expected_allowance }]);
  if (tx.expires_at !== undefined) txFields.push(['expires_at', { Nat: tx.expires_at }]);
  const blockFields: Array<[string, Value | Uint8Array]> = [
    ['ts', { Nat: block.ts }],
    ['tx', mapHash(txFields)]
  ];
  if (block.phash !== undefined) blockFields.push(['phash', { Blob: hexToBytes(block.phash) }]);
  if (block.fee !== undefined) blockFields.push(['fee', natHash(block.fee)]);
  return mapHash(blockFields);
}

/** The hash of a Map whose values are given either as Values or as their already computed hashes. */
function mapHash(fields: Array<[string, Value | Uint8Array]>): Uint8Array {
  const pairs = fields.map(([key, v]): [Uint8Array, Uint8Array] => [keyHash(key), v instanceof Uint8Array ? v : hashValue(v)]);
  pairs.sort((a, b) => compareBytes(a[0], b[0]) || compareBytes(a[1], b[1]));
  return digest(...pairs.flat());
}

/** An account as ICRC-3 writes it: `Array [Blob owner, (Blob subaccount)?]`. */
export function accountValue(account: Account): Value {
  const parts: Value[] = [{ Blob: hexToBytes(account.owner) }];
  if (account.subaccount !== undefined) parts.push({ Blob: hexToBytes(account.subaccount) });
  return { Array: parts };
}

export function txValue(tx: Tx): Value {
  const fields: Array<[string, Value]> = [
    ['op', { Text: tx.op }],
    ['amt', { Nat: tx.amt }]
  ];
  if (tx.from !== undefined) fields.push(['from', accountValue(tx.from)]);
  if (tx.to !== undefined) fields.push(['to', accountValue(tx.to)]);
  if (tx.spender !== undefined) fields.push(['spender', accountValue(tx.spender)]);
  if (tx.fee !== undefined) fields.push(['fee', { Nat: tx.fee }]);
  if (tx.memo !== undefined) fields.push(['memo', { Blob: hexToBytes(tx.memo) }]);
  if (tx.ts !== undefined) fields.push(['ts', { Nat: tx.ts }]);
  if (tx.expected_allowance !== undefined) fields.push(['expected_allowance', { Nat: tx.expected_allowance }]);
  if (tx.expires_at !== undefined) fields.push(['expires_at', { Nat: tx.expires_at }]);
  return { Map: fields };
}

/** A block in the ICRC-3 legacy ICRC-1/2 schema: `phash`, `ts`, `fee` (when charged but not stated), `tx`. */
export function blockValue(block: Block): Value {
  const fields: Array<[string, Value]> = [];
  if (block.phash !== undefined) fields.push(['phash', { Blob: hexToBytes(block.phash) }]);
  fields.push(['ts', { Nat: block.ts }]);
  if (block.fee !== undefined) fields.push(['fee', { Nat: block.fee }]);
  fields.push(['tx', txValue(block.tx)]);
  return { Map: fields };
}

export function blockHash(block: Block): string {
  return bytesToHex(hashBlock(block));
}
