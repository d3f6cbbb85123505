import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

import { blsVerify as agentBlsVerify } from '@dfinity/agent';

/** agent-js's `blsVerify` option (Actor config, polling options, Certificate.create): true when `sig` signs `msg`. */
export type BlsVerify = (pk: Uint8Array, sig: Uint8Array, msg: Uint8Array) => Promise<boolean>;

export interface BlsVerifyPoolOptions {
  /** Worker threads at most (default: one per spare core, 1 or 2). */
  size?: number;
  /** Jobs on the workers at most; more are checked in-thread, so a burst cannot queue without bound (default 64). */
  maxQueued?: number;
  /** Worker deaths after which the pool stops starting workers and checks everything in-thread (default 3). */
  maxCrashes?: number;
  /** The worker script (tests give one that dies); default src/ic/bls-verify-worker.mjs. */
  workerUrl?: URL;
  /** The in-thread check used as fallback (default: @dfinity/agent's own `blsVerify`). */
  inThread?: (pk: Uint8Array, sig: Uint8Array, msg: Uint8Array) => boolean;
}

interface Job {
  pk: Uint8Array;
  sig: Uint8Array;
  msg: Uint8Array;
  resolve: (valid: boolean) => void;
  reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  /** True once the worker has loaded the agent (it posts `{ ready: true }`). */
  ready: boolean;
  jobs: Map<number, Job>;
}

type WorkerMessage = { ready: true } | { id: number; valid: boolean } | { id: number; error: string };

const DEFAULT_WORKER = new URL('./bls-verify-worker.mjs', import.meta.url);

/**
 * Checks BLS certificate signatures on a small pool of worker threads, with @dfinity/agent's own `blsVerify` (the
 * same pure-JS @noble/curves check the agent runs by default, tens of ms each, which otherwise blocks the event loop
 * of every process making update calls or polling read_state). The same answer as the in-thread check, never a
 * weaker one: the workers start lazily (checks run in-thread until one is ready), are unref'd while idle so that
 * processes still exit, hold at most `maxQueued` jobs (the rest run in-thread), and a job whose worker dies is
 * checked in-thread.
 */
export class BlsVerifyPool {
  private readonly slots: Slot[] = [];
  private readonly size: number;
  private readonly maxQueued: number;
  private readonly maxCrashes: number;
  private readonly workerUrl: URL;
  private readonly inThread: (pk: Uint8Array, sig: Uint8Array, msg: Uint8Array) => boolean;
  private nextId = 0;
  private closed = false;
  /** Where the checks ran, and how many workers died (for tests and benchmarks). */
  readonly stats = { inWorker: 0, inThread: 0, crashes: 0 };

  constructor(options: BlsVerifyPoolOptions = {}) {
    this.size = Math.max(1, options.size ?? Math.min(2, availableParallelism() - 1));
    this.maxQueued = options.maxQueued ?? 64;
    this.maxCrashes = options.maxCrashes ?? 3;
    this.workerUrl = options.workerUrl ?? DEFAULT_WORKER;
    this.inThread = options.inThread ?? agentBlsVerify;
  }

  /** The `blsVerify` option to give agent-js. */
  readonly verify: BlsVerify = (pk, sig, msg) => {
    const slot = this.slotFor();
    if (slot === undefined) return this.checkInThread(pk, sig, msg);
    const id = this.nextId++;
    return new Promise<boolean>((resolve, reject) => {
      slot.jobs.set(id, { pk, sig, msg, resolve, reject });
      if (slot.jobs.size === 1) slot.worker.ref();
      this.stats.inWorker += 1;
      slot.worker.postMessage({ id, pk, sig, msg });
    });
  };

  /** Stops the workers; what they were checking is checked in-thread, and later checks run in-thread. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private checkInThread(pk: Uint8Array, sig: Uint8Array, msg: Uint8Array): Promise<boolean> {
    this.stats.inThread += 1;
    try {
      return Promise.resolve(this.inThread(pk, sig, msg));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** The least busy ready worker with room, starting one when all are busy; undefined: check in-thread. */
  private slotFor(): Slot | undefined {
    if (this.closed || this.stats.crashes >= this.maxCrashes) return undefined;
    let best: Slot | undefined;
    let queued = 0;
    for (const slot of this.slots) {
      queued += slot.jobs.size;
      if (slot.ready && (best === undefined || slot.jobs.size < best.jobs.size)) best = slot;
    }
    if (this.slots.length < this.size && (best === undefined || best.jobs.size > 0)) this.start();
    return best === undefined || queued >= this.maxQueued ? undefined : best;
  }

  private start(): void {
    const slot: Slot = { worker: new Worker(this.workerUrl), ready: false, jobs: new Map() };
    slot.worker.on('message', (message: WorkerMessage) => {
      if ('ready' in message) {
        slot.ready = true;
        return;
      }
      const job = slot.jobs.get(message.id);
      if (job === undefined) return;
      this.settled(slot, message.id);
      if ('valid' in message) job.resolve(message.valid);
      else job.reject(new Error(`BLS verification failed: ${message.error}`));
    });
    // An 'error' (an uncaught exception, a script that fails to load) is followed by 'exit'.
    slot.worker.on('error', () => undefined);
    slot.worker.on('exit', () => {
      const index = this.slots.indexOf(slot);
      if (index >= 0) this.slots.splice(index, 1);
      if (!this.closed) this.stats.crashes += 1;
      const orphans = [...slot.jobs.values()];
      slot.jobs.clear();
      for (const job of orphans) this.checkInThread(job.pk, job.sig, job.msg).then(job.resolve, job.reject);
    });
    // Unref'd after the listeners are attached (attaching 'message' refs the worker's port again): a process that
    // ends while a worker is still starting must exit, not wait for it.
    slot.worker.unref();
    this.slots.push(slot);
  }

  private settled(slot: Slot, id: number): void {
    slot.jobs.delete(id);
    if (slot.jobs.size === 0) slot.worker.unref();
  }
}

let shared: BlsVerifyPool | undefined;

/**
 * The process's pool (started on first use): the `blsVerify` that registryClient and ledgerClient give their actors,
 * so the gateway, the runner and the payers check certificates of update calls and read_state polls off their event
 * loops. The root key and every check stay the agent's own: this only moves where the check runs.
 */
export const workerBlsVerify: BlsVerify = (pk, sig, msg) => (shared ??= new BlsVerifyPool()).verify(pk, sig, msg);
