/**
 * Requests per minute per key: a token bucket holding up to a tenth of a minute's requests (at least 1), refilled
 * continuously, so a key may burst briefly but not sustain more than its rate. In memory: a restarted gateway
 * starts every bucket full.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; atMs: number }>();

  constructor(private readonly nowMs: () => number = () => performance.now()) {}

  /** Takes one request from `key`'s bucket; when empty, how many seconds until the next request is allowed. */
  take(key: string, perMinute: number): { ok: true } | { ok: false; retryAfterSeconds: number } {
    const capacity = Math.max(1, Math.ceil(perMinute / 10));
    const perMs = perMinute / 60_000;
    const now = this.nowMs();
    const bucket = this.buckets.get(key) ?? { tokens: capacity, atMs: now };
    bucket.tokens = Math.min(capacity, bucket.tokens + (now - bucket.atMs) * perMs);
    bucket.atMs = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000)) };
  }
}
