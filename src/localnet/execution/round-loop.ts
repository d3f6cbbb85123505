/** The engine's round loop: the message queue, when rounds run, and the end of a round (listeners, then durability). */
import type { Canister } from './canister.js';
import type { Response } from './context.js';
import type { IngressRecord, Message, Origin } from './messages.js';
import { rejectResponse } from './rejects.js';

/** Messages executed per round before the host yields to the event loop (HTTP stays responsive). */
const MAX_MESSAGES_PER_ROUND = 2_000;
/** Batching window for rounds that follow closely on the previous one. */
const ROUND_BATCH_WINDOW_MS = 3;

export interface RoundSummary {
  round: number;
  finalized: IngressRecord[];
  touched: Set<Canister>;
  deleted: string[];
  blobs: Map<string, Uint8Array>;
}

/**
 * Rounds for the engine, which extends this: messages queue up, a round executes them (and due timers) one at a
 * time, and when it ends its listeners persist and certify what it finished before any client is answered.
 */
export abstract class RoundLoop {
  round = 0;
  private readonly queue: Message[] = [];
  private readonly finishedThisRound: IngressRecord[] = [];
  protected readonly touched = new Set<Canister>();
  protected readonly deleted: string[] = [];
  private roundScheduled = false;
  private readonly roundListeners: Array<(summary: RoundSummary) => void> = [];
  private readonly hostResolutions: Array<() => void> = [];
  /** Module and chunk bytes first seen this round, content-addressed, for persistence. */
  readonly newBlobs = new Map<string, Uint8Array>();
  /** Canister timers (the engine's system tasks): those due run in the round. */
  protected abstract readonly timers: { due(): readonly unknown[]; enqueueDue(): void };

  /** Executes one message (the engine's message executor). */
  protected abstract process(message: Message): void;
  /** Answers a call's origin, refunding `refund` cycles to a calling canister. */
  abstract respondTo(origin: Origin, response: Response, refund: bigint): void;
  /** Forgets ingress records finalized long enough ago (after each round that ended). */
  protected abstract pruneIngress(): void;

  onRound(listener: (summary: RoundSummary) => void): void {
    this.roundListeners.push(listener);
  }

  /** Set when a round could not be made durable; the network then refuses all work. */
  halted: Error | undefined;
  /** Receives host errors (bugs, disk failures) — never canister errors. */
  reportHostError: (error: unknown) => void = (error) => console.error('localnet host error:', error);

  markTouched(canister: Canister): void {
    this.touched.add(canister);
  }

  /** Host metadata (next id, clock offset) changed: persisted with the next round. */
  markHostDirty(): void {
    this.hostDirty = true;
    this.scheduleRound();
  }
  hostDirty = false;

  // ------------------------------------------------------------------ scheduling

  enqueue(message: Message): void {
    this.queue.push(message);
    this.scheduleRound();
  }

  scheduleRound(): void {
    if (this.roundScheduled) return;
    this.roundScheduled = true;
    const run = (): void => {
      this.roundScheduled = false;
      this.runRound();
    };
    // Under load, wait a moment so one round (one fsync, one signature) covers the requests arriving together;
    // an idle network runs the next round at once.
    if (performance.now() - this.lastRoundEndMs < ROUND_BATCH_WINDOW_MS) setTimeout(run, ROUND_BATCH_WINDOW_MS);
    else setImmediate(run);
  }
  private lastRoundEndMs = -Infinity;

  /** Whether anything is waiting to execute (queued messages or due timers). */
  get busy(): boolean {
    return this.queue.length > 0 || this.timers.due().length > 0;
  }

  /** Executes queued messages and due timers, then ends the round (persist, certify, answer). */
  runRound(): void {
    let executed = 0;
    this.timers.enqueueDue();
    if (this.halted !== undefined) return;
    while (this.queue.length > 0 && executed < MAX_MESSAGES_PER_ROUND) {
      const message = this.queue.shift();
      if (message === undefined) break;
      try {
        this.process(message);
      } catch (error) {
        // A host bug must not take the network down: the message fails, everything else goes on.
        this.reportHostError(error);
        if (message.kind === 'call') {
          this.respondTo(
            message.origin,
            rejectResponse('IC0101', `Internal error of the local network: ${error instanceof Error ? error.message : String(error)}`),
            message.cycles
          );
        }
      }
      executed++;
      if (this.queue.length === 0) this.timers.enqueueDue();
    }
    this.endRound();
    this.lastRoundEndMs = performance.now();
    if (this.queue.length > 0 && this.halted === undefined) this.scheduleRound();
  }

  /** Runs rounds until nothing is queued and no timer is due (tests and deploy use it). */
  runUntilIdle(maxRounds = 10_000): void {
    for (let i = 0; i < maxRounds && (this.busy || this.touched.size > 0 || this.hostDirty || this.deleted.length > 0); i++) {
      this.runRound();
    }
  }

  private endRound(): void {
    if (
      this.finishedThisRound.length === 0 &&
      this.touched.size === 0 &&
      this.deleted.length === 0 &&
      !this.hostDirty &&
      this.hostResolutions.length === 0
    ) {
      return;
    }
    this.round++;
    const summary: RoundSummary = {
      round: this.round,
      finalized: this.finishedThisRound.splice(0),
      touched: new Set(this.touched),
      deleted: this.deleted.splice(0),
      blobs: new Map(this.newBlobs)
    };
    this.newBlobs.clear();
    this.touched.clear();
    this.hostDirty = false;
    try {
      for (const listener of this.roundListeners) listener(summary);
    } catch (error) {
      // Persisting the round failed: nothing of it may be acknowledged, and nothing more may run.
      this.halted = error instanceof Error ? error : new Error(String(error));
      this.reportHostError(error);
      return;
    }
    for (const record of summary.finalized) record.finalizedRound = summary.round;
    for (const resolve of this.hostResolutions.splice(0)) resolve();
    this.pruneIngress();
  }

  /** Queues a message produced inside a round (the round loop picks it up). */
  pushMessage(message: Message): void {
    this.queue.push(message);
  }

  finishIngress(record: IngressRecord): void {
    this.finishedThisRound.push(record);
  }

  /** Runs `fn` once the current round is durable (host callers learn outcomes then, like ingress). */
  afterDurable(fn: () => void): void {
    this.hostResolutions.push(fn);
  }
}
