import type { KeyValue } from '../kv.js';
import { SortedKeys } from './sorted-keys.js';
import type { OpenTask } from './types.js';

/** Index key parts are joined by NUL, which sorts before every character a model id or principal can hold. */
const SEP = '\u0000';
/** Nanosecond times as fixed-width decimal, so that keys sort by time (u64 has at most 20 digits). */
export const padNs = (ns: bigint): string => (ns < 0n ? 0n : ns).toString().padStart(20, '0');

/** The keys one open task has in each index; a recomputation from the task is what the indexes must equal. */
export interface IndexKeys {
  /** `<model>␀<id>` while a runner could lease it: queued, with fewer results and leases than `redundancy`. */
  claim?: string;
  /** `<time>␀<id>` at the task's next time-driven step: the earliest lease expiry, its deadline (queued) or review end. */
  wake?: string;
  /** `<runner>␀<model>␀<id>` per lease, to count a runner's leases per model. */
  leases: string[];
  /** `<time>␀<id>` while escrowing: when the escrow, if its reply never came, is retried (0 for tasks stored before). */
  escrow?: string;
  /** `<runner>␀<id>` per result: a runner's results in tasks not yet settled, whose vote may still slash its bond. */
  results: string[];
}

/** When the timer next has something to do with this task (undefined: nothing until a message changes it). */
export function wakeAtNs(open: OpenTask): bigint | undefined {
  const times: bigint[] = open.leases.map((l) => l.expiresAtNs);
  if (open.state === 'queued') times.push(open.deadlineNs);
  if (open.state === 'review' && open.reviewEndsAtNs !== undefined) times.push(open.reviewEndsAtNs);
  return times.length === 0 ? undefined : times.reduce((a, b) => (b < a ? b : a));
}

export function indexKeysOf(id: string, open: OpenTask): IndexKeys {
  // `done` lists the runners with a result first (save-task.ts `openOf`), then those that failed.
  const keys: IndexKeys = {
    leases: open.leases.map((l) => `${l.runner}${SEP}${open.model}${SEP}${id}`),
    results: open.done.slice(0, open.results).map((runner) => `${runner}${SEP}${id}`)
  };
  if (open.state === 'queued' && open.results + open.leases.length < open.redundancy) keys.claim = `${open.model}${SEP}${id}`;
  const wake = wakeAtNs(open);
  if (wake !== undefined) keys.wake = `${padNs(wake)}${SEP}${id}`;
  if (open.state === 'escrowing') keys.escrow = `${padNs(open.escrowRetryAtNs ?? 0n)}${SEP}${id}`;
  return keys;
}

const idOf = (key: string): string => key.slice(key.lastIndexOf(SEP) + 1);

/**
 * The unsettled tasks (a heap-sized map: at most MAX_OPEN_TASKS) with five indexes kept in step on every write, so
 * that no message has to scan them: claimable tasks per model (claims and list_claimable read only the models a runner
 * serves), the next time-driven step per task (the timer visits only tasks that are due, earliest first), leases per
 * runner and model (slot checks), results per runner (bonds are not returned while one may still be slashed) and escrows by retry time (the escrow retry visits only escrows whose reply is overdue). The indexes live in the heap and are rebuilt from the map when the canister starts,
 * which also covers tasks stored before the indexes existed.
 */
export class OpenTasks implements KeyValue<OpenTask> {
  private readonly claim = new SortedKeys();
  private readonly wake = new SortedKeys();
  private readonly leases = new SortedKeys();
  private readonly escrows = new SortedKeys();
  private readonly results = new SortedKeys();
  /** Each task's keys as indexed, so that a write removes exactly those (whatever became of the old value). */
  private readonly indexed = new Map<string, IndexKeys>();

  constructor(private readonly inner: KeyValue<OpenTask>) {
    for (const [id, open] of inner.entries()) this.index(id, open);
  }

  get(id: string): OpenTask | undefined {
    return this.inner.get(id);
  }
  has(id: string): boolean {
    return this.inner.has(id);
  }
  size(): number {
    return this.inner.size();
  }
  entries(afterKey?: string): Iterable<[string, OpenTask]> {
    return this.inner.entries(afterKey);
  }
  set(id: string, open: OpenTask): void {
    this.unindex(id);
    this.inner.set(id, open);
    this.index(id, open);
  }
  delete(id: string): void {
    this.unindex(id);
    this.inner.delete(id);
  }

  /** Ids of the tasks of `model` a runner could lease, oldest first (per-runner checks are the caller's). */
  *claimableIds(model: string): Iterable<string> {
    for (const key of this.claim.withPrefix(`${model}${SEP}`)) yield idOf(key);
  }
  /** The next task due at `now` after the wake key `after` (the walk's cursor), earliest first. */
  nextDue(now: bigint, after?: string): { key: string; id: string } | undefined {
    const key = this.wake.next(after);
    if (key === undefined || key.slice(0, 20) > padNs(now)) return undefined;
    return { key, id: idOf(key) };
  }
  /** The next escrowing task whose retry is due at `now`, after the key `after` (the walk's cursor), earliest first. */
  nextStaleEscrow(now: bigint, after?: string): { key: string; id: string } | undefined {
    const key = this.escrows.next(after);
    if (key === undefined || key.slice(0, 20) > padNs(now)) return undefined;
    return { key, id: idOf(key) };
  }
  /** Leases `runner` holds on tasks of `model` (expired ones count until the timer returns them). */
  leaseCount(runner: string, model: string): number {
    return this.leases.countPrefix(`${runner}${SEP}${model}${SEP}`);
  }
  /** Whether `runner` has a result in a task not yet settled (its vote may still slash the runner's bond). */
  hasUnsettledResult(runner: string): boolean {
    for (const _key of this.results.withPrefix(`${runner}${SEP}`)) return true;
    return false;
  }
  /** The indexes' contents, for tests that compare them with a recomputation. */
  snapshot(): { claim: string[]; wake: string[]; leases: string[]; escrows: string[]; results: string[] } {
    return {
      claim: this.claim.all(),
      wake: this.wake.all(),
      leases: this.leases.all(),
      escrows: this.escrows.all(),
      results: this.results.all()
    };
  }

  private index(id: string, open: OpenTask): void {
    const keys = indexKeysOf(id, open);
    this.indexed.set(id, keys);
    if (keys.claim !== undefined) this.claim.add(keys.claim);
    if (keys.wake !== undefined) this.wake.add(keys.wake);
    if (keys.escrow !== undefined) this.escrows.add(keys.escrow);
    for (const key of keys.leases) this.leases.add(key);
    for (const key of keys.results) this.results.add(key);
  }
  private unindex(id: string): void {
    const keys = this.indexed.get(id);
    if (keys === undefined) return;
    this.indexed.delete(id);
    if (keys.claim !== undefined) this.claim.delete(keys.claim);
    if (keys.wake !== undefined) this.wake.delete(keys.wake);
    if (keys.escrow !== undefined) this.escrows.delete(keys.escrow);
    for (const key of keys.leases) this.leases.delete(key);
    for (const key of keys.results) this.results.delete(key);
  }
}
