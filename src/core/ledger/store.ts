import { MemoryKeyValue, type KeyValue } from '../kv.js';
import type { Allowance, LedgerConfig, LedgerTip, StoredBlock } from './types.js';

/** The block log: dense indices from 0; its length is `LedgerTip.blockCount`, hashes exist below `hashedCount`. */
export interface BlockLog {
  get(index: bigint): StoredBlock | undefined;
  put(index: bigint, block: StoredBlock): void;
  getHash(index: bigint): string | undefined;
  putHash(index: bigint, hash: string): void;
}

/** Transactions with `created_at_time` seen within the window, for `Duplicate { duplicate_of }`. */
export interface DedupIndex {
  get(key: string): bigint | undefined;
  add(key: string, createdAtNs: bigint, index: bigint): void;
  size(): number;
  /** Forgets up to `max` entries created before `beforeNs`, oldest first. */
  prune(beforeNs: bigint, max: number): void;
}

export interface LedgerStore {
  /** Balance per `accountKey`; zero balances are not stored. */
  balances: KeyValue<bigint>;
  /** Allowance per `allowanceKey(from, spender)`; zero or expired allowances may be removed. */
  allowances: KeyValue<Allowance>;
  blocks: BlockLog;
  dedup: DedupIndex;
  config(): LedgerConfig;
  setConfig(config: LedgerConfig): void;
  tip(): LedgerTip;
  setTip(tip: LedgerTip): void;
}

class MemoryDedup implements DedupIndex {
  private readonly byKey = new Map<string, { at: bigint; index: bigint }>();
  get(key: string): bigint | undefined {
    return this.byKey.get(key)?.index;
  }
  add(key: string, createdAtNs: bigint, index: bigint): void {
    this.byKey.set(key, { at: createdAtNs, index });
  }
  size(): number {
    return this.byKey.size;
  }
  prune(beforeNs: bigint, max: number): void {
    const expired = [...this.byKey].filter(([, e]) => e.at < beforeNs).sort((a, b) => (a[1].at < b[1].at ? -1 : 1));
    for (const [key] of expired.slice(0, max)) this.byKey.delete(key);
  }
}

/** An in-memory ledger store for unit tests and the reference model of the property tests. */
export function memoryLedgerStore(config: LedgerConfig): LedgerStore {
  let current = config;
  let tip: LedgerTip = { totalSupply: 0n, blockCount: 0n, hashedCount: 0n };
  const blocks = new Map<bigint, StoredBlock>();
  const hashes = new Map<bigint, string>();
  return {
    balances: new MemoryKeyValue(),
    allowances: new MemoryKeyValue(),
    blocks: {
      get: (i) => blocks.get(i),
      put: (i, b) => void blocks.set(i, b),
      getHash: (i) => hashes.get(i),
      putHash: (i, h) => void hashes.set(i, h)
    },
    dedup: new MemoryDedup(),
    config: () => current,
    setConfig: (next) => {
      current = next;
    },
    tip: () => tip,
    setTip: (next) => {
      tip = next;
    }
  };
}
