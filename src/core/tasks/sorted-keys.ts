/** A set of strings kept in sorted order: O(log n) seek, ordered walks from any key, and prefix counts. */
export class SortedKeys {
  private keys: string[] = [];

  get size(): number {
    return this.keys.length;
  }
  has(key: string): boolean {
    return this.keys[this.lowerBound(key)] === key;
  }
  add(key: string): void {
    const at = this.lowerBound(key);
    if (this.keys[at] !== key) this.keys.splice(at, 0, key);
  }
  delete(key: string): void {
    const at = this.lowerBound(key);
    if (this.keys[at] === key) this.keys.splice(at, 1);
  }
  /** The first key after `after` (exclusive), or the first key at all. */
  next(after?: string): string | undefined {
    if (after === undefined) return this.keys[0];
    const at = this.lowerBound(after);
    return this.keys[this.keys[at] === after ? at + 1 : at];
  }
  /** Keys starting with `prefix`, in order; the walk reads the array afresh at each step, so edits in between are safe. */
  *withPrefix(prefix: string): Iterable<string> {
    let key: string | undefined = this.keys[this.lowerBound(prefix)];
    while (key !== undefined && key.startsWith(prefix)) {
      yield key;
      key = this.next(key);
    }
  }
  countPrefix(prefix: string): number {
    const from = this.lowerBound(prefix);
    let n = 0;
    while (this.keys[from + n]?.startsWith(prefix)) n++;
    return n;
  }
  all(): string[] {
    return [...this.keys];
  }
  private lowerBound(key: string): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.keys[mid] ?? '') < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
