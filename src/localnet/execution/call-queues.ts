/**
 * The replica's capacity of one canister-to-canister queue (`DEFAULT_QUEUE_CAPACITY` in
 * rs/replicated_state/src/canister_state/queues.rs): every outgoing request reserves a slot for its response,
 * so a canister may have at most this many calls to one callee outstanding. Beyond it `ic0.call_perform`
 * fails synchronously with SYS_TRANSIENT (the call is not made; its cycles stay with the caller).
 */
export const OUTPUT_QUEUE_CAPACITY = 500;

/** Outstanding calls of one canister, per callee (textual id): made and not yet answered back to it. */
export class OutstandingCalls {
  private readonly counts = new Map<string, number>();

  count(callee: string): number {
    return this.counts.get(callee) ?? 0;
  }

  add(callee: string): void {
    this.counts.set(callee, this.count(callee) + 1);
  }

  /** The response to a call to `callee` was executed (or dropped): its queue slot is free again. */
  remove(callee: string): void {
    const next = this.count(callee) - 1;
    if (next > 0) this.counts.set(callee, next);
    else this.counts.delete(callee);
  }
}
