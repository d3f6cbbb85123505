/**
 * Nonces of signed requests seen, each kept until its request expires (at most MAX_REQUEST_VALIDITY_NS), so a
 * request cannot be replayed while it is still valid. Memory is bounded: when full of unexpired nonces, new requests
 * are refused (`full`) rather than forgetting a nonce that could then be replayed.
 */
export class NonceCache {
  /** Insertion order; expiries differ by at most the validity bound, so the oldest entries expire first (mostly). */
  private readonly entries = new Map<string, bigint>();

  constructor(private readonly maxEntries = 200_000) {}

  get size(): number {
    return this.entries.size;
  }

  /** Records `nonceHex` until `expiresAtNs`; `replay` if it is already held, `full` when no room is left. */
  admit(nonceHex: string, expiresAtNs: bigint, nowNs: bigint): 'ok' | 'replay' | 'full' {
    const seen = this.entries.get(nonceHex);
    if (seen !== undefined && seen > nowNs) return 'replay';
    this.sweep(nowNs);
    if (this.entries.size >= this.maxEntries) return 'full';
    this.entries.set(nonceHex, expiresAtNs);
    return 'ok';
  }

  /** Drops expired entries from the oldest end (amortized O(1) per admitted nonce). */
  private sweep(nowNs: bigint): void {
    for (const [nonce, expiresAtNs] of this.entries) {
      if (expiresAtNs > nowNs) {
        if (this.entries.size < this.maxEntries) return;
        continue; // full: keep looking for expired ones behind a long-lived entry
      }
      this.entries.delete(nonce);
    }
  }
}
