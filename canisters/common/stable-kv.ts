import { candidEncode, Serializable, StableBTreeMap } from 'azle';

import { parseJson, stringifyJson } from '../../src/core/json.js';
import type { KeyValue } from '../../src/core/kv.js';
import { utf8Decode, utf8EncoderVia } from './utf8.js';

export { utf8Decode };
/** UTF-8 through azle's native Candid text encoder (canisters/common/utf8.ts). */
export const utf8Encode = utf8EncoderVia(candidEncode);

export const TextCodec: Serializable = { toBytes: (s: string) => utf8Encode(s), fromBytes: (b: Uint8Array) => utf8Decode(b) };

/**
 * A StableBTreeMap (the durable truth) with a heap copy kept in key order: reads and ordered scans run at heap
 * speed, every write goes through to stable memory. The heap copy is rebuilt after an upgrade.
 */
export class CachedKeyValue<V> implements KeyValue<V> {
  private readonly stable: StableBTreeMap<string, string>;
  private readonly heap = new Map<string, V>();
  private sortedKeys: string[] = [];

  constructor(memoryId: number) {
    this.stable = new StableBTreeMap<string, string>(memoryId, TextCodec, TextCodec);
    const total = Number(this.stable.len());
    for (let start = 0; start < total; start += 1000) {
      for (const [key, json] of this.stable.items(start, 1000)) {
        // Values are records this canister wrote itself.
        this.heap.set(key, parseJson(json) as V);
      }
    }
    this.sortedKeys = [...this.heap.keys()].sort();
  }

  get(key: string): V | undefined {
    return this.heap.get(key);
  }
  has(key: string): boolean {
    return this.heap.has(key);
  }
  size(): number {
    return this.heap.size;
  }
  set(key: string, value: V): void {
    this.stable.insert(key, stringifyJson(value));
    if (!this.heap.has(key)) this.sortedKeys.splice(this.lowerBound(key), 0, key);
    this.heap.set(key, value);
  }
  delete(key: string): void {
    if (!this.heap.has(key)) return;
    this.stable.remove(key);
    this.heap.delete(key);
    const at = this.lowerBound(key);
    if (this.sortedKeys[at] === key) this.sortedKeys.splice(at, 1);
  }
  *entries(afterKey?: string): Iterable<[string, V]> {
    let i = afterKey === undefined ? 0 : this.lowerBound(afterKey);
    if (afterKey !== undefined && this.sortedKeys[i] === afterKey) i++;
    for (; i < this.sortedKeys.length; i++) {
      const key = this.sortedKeys[i];
      if (key === undefined) break;
      const value = this.heap.get(key);
      if (value !== undefined) yield [key, value];
    }
  }
  private lowerBound(key: string): number {
    let lo = 0;
    let hi = this.sortedKeys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.sortedKeys[mid] ?? '') < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/**
 * A KeyValue kept only in stable memory, for collections that grow without bound (tasks, idempotency keys):
 * nothing is cached in the heap. `entries` pages through the map in key order.
 */
export class StableKeyValue<V> implements KeyValue<V> {
  private readonly stable: StableBTreeMap<string, string>;

  constructor(memoryId: number) {
    this.stable = new StableBTreeMap<string, string>(memoryId, TextCodec, TextCodec);
  }
  get(key: string): V | undefined {
    const json = this.stable.get(key);
    // Values are records this canister wrote itself.
    return json === undefined ? undefined : (parseJson(json) as V);
  }
  has(key: string): boolean {
    return this.stable.containsKey(key);
  }
  size(): number {
    return Number(this.stable.len());
  }
  set(key: string, value: V): void {
    this.stable.insert(key, stringifyJson(value));
  }
  delete(key: string): void {
    this.stable.remove(key);
  }
  *entries(afterKey?: string): Iterable<[string, V]> {
    const total = this.size();
    for (let start = 0; start < total; start += 100) {
      for (const [key, json] of this.stable.items(start, 100)) {
        if (afterKey !== undefined && key <= afterKey) continue;
        yield [key, parseJson(json) as V];
      }
    }
  }
}
