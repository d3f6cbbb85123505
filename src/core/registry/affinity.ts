/**
 * Session affinity: an affinity key keeps its requester's session on the runner that served it, while that runner
 * stays live with free capacity (its prompt cache holds the conversation).
 *
 * A binding is made only by service: when a runner returns a result for a task whose request carries the key. It is
 * scoped by requester, so nobody else can bind (or steal) another requester's key, and it names the runner that did
 * the work, so there is nothing to grind: the old rendezvous hash of (key, runner id) let anyone who made identities
 * until one hashed highest take every key. Without a binding, ranking alone decides.
 *
 * Durable and bounded (least recently bound dropped first): the bindings live in two keyed maps (stable memory in the
 * canister), so an upgrade keeps every session on its runner; binding and looking up are a few keyed reads and writes
 * whatever the maps hold. A lost binding (eviction) costs only one cold prompt cache, never correctness.
 */
import { MemoryKeyValue, type KeyValue } from '../kv.js';

/** Most bindings kept; the least recently bound is dropped beyond it. */
export const MAX_AFFINITY_BINDINGS = 20_000;

const SEP = '\u0000';
/** The order map's counter entry: sorts after every `<seq, 20 digits>` key. */
const NEXT = '~next';

/** One binding: the runner, and its place in the binding order (`order` key). */
export interface AffinityBinding {
  runner: string;
  seq: string;
}

export class SessionAffinity {
  /**
   * @param bindings `<requester>\0<key>` → binding.
   * @param order `<seq, 20 digits>` → binding key, oldest first, and NEXT → the next seq: what to evict.
   */
  constructor(
    private readonly capacity = MAX_AFFINITY_BINDINGS,
    private readonly bindings: KeyValue<AffinityBinding> = new MemoryKeyValue(),
    private readonly order: KeyValue<string> = new MemoryKeyValue()
  ) {}

  /** The runner that last served `requester`'s `key`, if any. */
  runnerFor(requester: string, key: string): string | undefined {
    return this.bindings.get(`${requester}${SEP}${key}`)?.runner;
  }

  /** `runner` served `requester`'s `key`: later requests with the key go to it first while it has capacity. */
  bind(requester: string, key: string, runner: string): void {
    const entry = `${requester}${SEP}${key}`;
    const previous = this.bindings.get(entry);
    if (previous !== undefined) this.order.delete(previous.seq);
    const next = BigInt(this.order.get(NEXT) ?? '0');
    const seq = next.toString().padStart(20, '0');
    this.order.set(NEXT, (next + 1n).toString());
    this.order.set(seq, entry);
    this.bindings.set(entry, { runner, seq });
    if (this.bindings.size() > this.capacity) {
      for (const [oldest, victim] of this.order.entries()) {
        this.order.delete(oldest);
        this.bindings.delete(victim);
        break;
      }
    }
  }

  get size(): number {
    return this.bindings.size();
  }
}
