/**
 * Session affinity: an affinity key keeps its requester's session on the runner that served it, while that runner
 * stays live with free capacity (its prompt cache holds the conversation).
 *
 * A binding is made only by service: when a runner returns a result for a task whose request carries the key. It is
 * scoped by requester, so nobody else can bind (or steal) another requester's key, and it names the runner that did
 * the work, so there is nothing to grind: the old rendezvous hash of (key, runner id) let anyone who made identities
 * until one hashed highest take every key. Without a binding, ranking alone decides.
 *
 * Heap-only and bounded (least recently bound dropped first): a binding is a cache hint, and losing it (an upgrade,
 * eviction) costs only one cold prompt cache, never correctness.
 */

/** Most bindings kept; the least recently bound is dropped beyond it. */
export const MAX_AFFINITY_BINDINGS = 20_000;

const SEP = '\u0000';

export class SessionAffinity {
  private readonly bindings = new Map<string, string>();

  constructor(private readonly capacity = MAX_AFFINITY_BINDINGS) {}

  /** The runner that last served `requester`'s `key`, if any. */
  runnerFor(requester: string, key: string): string | undefined {
    return this.bindings.get(`${requester}${SEP}${key}`);
  }

  /** `runner` served `requester`'s `key`: later requests with the key go to it first while it has capacity. */
  bind(requester: string, key: string, runner: string): void {
    const entry = `${requester}${SEP}${key}`;
    this.bindings.delete(entry);
    this.bindings.set(entry, runner);
    if (this.bindings.size > this.capacity) {
      const oldest = this.bindings.keys().next();
      if (oldest.done !== true) this.bindings.delete(oldest.value);
    }
  }

  get size(): number {
    return this.bindings.size;
  }
}
