import { StableBTreeMap, type Serializable } from 'azle';

import { CachedKeyValue, TextCodec } from '../common/stable-kv.js';
import { parseJson, stringifyJson } from '../../src/core/json.js';
import type { Allowance, DedupIndex, LedgerConfig, LedgerStore, LedgerTip, StoredBlock } from '../../src/core/ledger/index.js';

/** Block indices as 8-byte big-endian keys, so that the map's byte order is the numeric order. */
const IndexCodec: Serializable = {
  toBytes: (index: bigint) => {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setBigUint64(0, index);
    return bytes;
  },
  fromBytes: (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0)
};

/**
 * Deduplication entries live only in stable memory (there can be hundreds of thousands within 24 hours):
 * `byKey` answers `Duplicate`, `byTime` (keys ordered by created_at_time) lets pruning find the oldest ones.
 */
class StableDedup implements DedupIndex {
  private readonly byKey = new StableBTreeMap<string, string>(3, TextCodec, TextCodec);
  private readonly byTime = new StableBTreeMap<string, string>(4, TextCodec, TextCodec);

  get(key: string): bigint | undefined {
    const index = this.byKey.get(key);
    return index === undefined ? undefined : BigInt(index);
  }
  add(key: string, createdAtNs: bigint, index: bigint): void {
    this.byKey.insert(key, index.toString());
    this.byTime.insert(`${createdAtNs.toString().padStart(20, '0')}|${key}`, '');
  }
  size(): number {
    return this.byKey.len();
  }
  prune(beforeNs: bigint, max: number): void {
    const bound = beforeNs.toString().padStart(20, '0');
    for (const timeKey of this.byTime.keys(0, max)) {
      if (timeKey.slice(0, 20) >= bound) return;
      this.byTime.remove(timeKey);
      this.byKey.remove(timeKey.slice(21));
    }
  }
}

const CONFIG_KEY = 'config';
const TIP_KEY = 'tip';

/** The ledger's durable state; balances, allowances and settings are also cached in the heap. */
export function openLedgerStore(): LedgerStore & { hasConfig(): boolean } {
  const balances = new CachedKeyValue<bigint>(0);
  const allowances = new CachedKeyValue<Allowance>(1);
  const blocks = new StableBTreeMap<bigint, string>(2, IndexCodec, TextCodec);
  const hashes = new StableBTreeMap<bigint, string>(6, IndexCodec, TextCodec);
  const settings = new CachedKeyValue<LedgerConfig | LedgerTip>(5);
  return {
    balances,
    allowances,
    blocks: {
      // Blocks are records this canister wrote itself.
      get: (index) => {
        const json = blocks.get(index);
        return json === undefined ? undefined : (parseJson(json) as StoredBlock);
      },
      put: (index, block) => void blocks.insert(index, stringifyJson(block)),
      getHash: (index) => hashes.get(index),
      putHash: (index, hash) => void hashes.insert(index, hash)
    },
    dedup: new StableDedup(),
    hasConfig: () => settings.has(CONFIG_KEY),
    config: () => {
      const config = settings.get(CONFIG_KEY);
      if (config === undefined) throw new Error('ledger used before init');
      return config as LedgerConfig;
    },
    setConfig: (config) => settings.set(CONFIG_KEY, config),
    tip: () => (settings.get(TIP_KEY) as LedgerTip | undefined) ?? { totalSupply: 0n, blockCount: 0n, hashedCount: 0n },
    setTip: (tip) => settings.set(TIP_KEY, tip)
  };
}
