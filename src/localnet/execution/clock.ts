/**
 * Canister time of the local network: the wall clock (or where it was frozen) plus whatever tests advanced.
 * Certificates and ingress expiry keep the wall clock (`wallNow`).
 */
export class CanisterClock {
  /** What tests added with advanceTime (persisted with the host state). */
  offsetNs = 0n;
  /** Set while canister time is frozen: the wall clock it stopped at. */
  private frozenAtNs: bigint | undefined;

  constructor(private readonly wallClockNs: () => bigint = () => BigInt(Date.now()) * 1_000_000n) {}

  now(): bigint {
    return (this.frozenAtNs ?? this.wallClockNs()) + this.offsetNs;
  }

  wallNow(): bigint {
    return this.wallClockNs();
  }

  advance(deltaNs: bigint): void {
    if (deltaNs < 0n) throw new RangeError('time can only move forward');
    this.offsetNs += deltaNs;
  }

  /**
   * Stops canister time from following the wall clock (only `advance` moves it), as PocketIC's time does without
   * auto-progress; `false` lets it follow again from where it stood, never moving back.
   */
  freeze(frozen: boolean): void {
    if (frozen === (this.frozenAtNs !== undefined)) return;
    if (frozen) {
      this.frozenAtNs = this.wallClockNs();
      return;
    }
    this.offsetNs -= this.wallClockNs() - (this.frozenAtNs ?? 0n);
    this.frozenAtNs = undefined;
  }
}
