/**
 * Nonces of signed requests seen, each kept until its request expires (at most MAX_REQUEST_VALIDITY_NS), so a
 * request cannot be replayed while it is still valid. Kept per credit line, and only for requests on a real line of
 * their signer toward this runner (the caller checks that first): a payer filling its own line's cache refuses only
 * itself, never other payers. Memory is bounded: a line full of unexpired nonces refuses new requests (`full`)
 * rather than forgetting a nonce that could then be replayed.
 */
export class NonceCache {
  private readonly lines = new Map<string, Map<string, bigint>>();

  constructor(
    private readonly maxPerLine = 4_096,
    private readonly maxLines = 100_000
  ) {}

  get size(): number {
    let n = 0;
    for (const line of this.lines.values()) n += line.size;
    return n;
  }

  /** Records `nonceHex` on `lineKey` until `expiresAtNs`; `replay` if it is already held, `full` when no room is left. */
  admit(lineKey: string, nonceHex: string, expiresAtNs: bigint, nowNs: bigint): 'ok' | 'replay' | 'full' {
    let entries = this.lines.get(lineKey);
    if (entries === undefined) {
      if (this.lines.size >= this.maxLines) this.sweepLines(nowNs);
      if (this.lines.size >= this.maxLines) return 'full';
      entries = new Map();
      this.lines.set(lineKey, entries);
    }
    const seen = entries.get(nonceHex);
    if (seen !== undefined && seen > nowNs) return 'replay';
    if (entries.size >= this.maxPerLine) NonceCache.sweep(entries, nowNs);
    if (entries.size >= this.maxPerLine) return 'full';
    entries.set(nonceHex, expiresAtNs);
    return 'ok';
  }

  /** Drops a line's expired entries (only when it is full: at most maxPerLine per sweep, amortized). */
  private static sweep(entries: Map<string, bigint>, nowNs: bigint): void {
    for (const [nonce, expiresAtNs] of entries) if (expiresAtNs <= nowNs) entries.delete(nonce);
  }

  private sweepLines(nowNs: bigint): void {
    for (const [key, entries] of this.lines) {
      NonceCache.sweep(entries, nowNs);
      if (entries.size === 0) this.lines.delete(key);
    }
  }
}
