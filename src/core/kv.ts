/** Ordered key-value storage shared by the registry and the ledger. Pure: no Azle, no Node APIs. */

/** Ordered key-value storage: a StableBTreeMap in the canister, a sorted Map in unit tests. */
export interface KeyValue<V> {
  get(key: string): V | undefined;
  set(key: string, value: V): void;
  delete(key: string): void;
  has(key: string): boolean;
  size(): number;
  /** Entries in key order, starting after `afterKey` (exclusive) when given. */
  entries(afterKey?: string): Iterable<[string, V]>;
}

/** A sorted in-memory KeyValue for unit tests and off-chain simulation. */
export class MemoryKeyValue<V> implements KeyValue<V> {
  private readonly map = new Map<string, V>();
  get(key: string): V | undefined {
    return this.map.get(key);
  }
  set(key: string, value: V): void {
    this.map.set(key, value);
  }
  delete(key: string): void {
    this.map.delete(key);
  }
  has(key: string): boolean {
    return this.map.has(key);
  }
  size(): number {
    return this.map.size;
  }
  *entries(afterKey?: string): Iterable<[string, V]> {
    const keys = [...this.map.keys()].sort();
    for (const key of keys) {
      if (afterKey !== undefined && key <= afterKey) continue;
      const value = this.map.get(key);
      if (value !== undefined) yield [key, value];
    }
  }
}
