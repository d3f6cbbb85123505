import { randomBytes } from 'node:crypto';

import { Principal } from '@dfinity/principal';

import { ErrorCode, plainReject, RejectCode, reject, type Reject } from '../errors.js';
import { canisterIdFromIndex, FIRST_USER_CANISTER_INDEX, toHex } from '../ids.js';
import { Canister, type ExecutionOutcome } from './canister.js';
import { CanisterClock } from './clock.js';
import { CodeCache } from './compiled-code.js';
import type { ExecutionContext, Response } from './context.js';
import { costCall, IC_INSTRUCTION_LIMITS, type InstructionLimits } from './limits.js';
import { MessageExecutor } from './message-executor.js';
import type { QueryOverlay } from './query-overlay.js';
import type { CallContext, ExecutionEvent, IngressRecord, Message, Origin } from './messages.js';
import { inspectIngress, runQuery } from './non-replicated.js';
import { SystemTasks } from './system-tasks.js';
import { notFound, rejectResponse } from './rejects.js';

export { notFound, rejectResponse, trapReject } from './rejects.js';

export const DEFAULT_CANISTER_CYCLES = 100_000_000_000_000n;
/** Messages executed per round before the host yields to the event loop (HTTP stays responsive). */
const MAX_MESSAGES_PER_ROUND = 2_000;
/** Batching window for rounds that follow closely on the previous one. */
const ROUND_BATCH_WINDOW_MS = 3;

/** A call addressed to a built-in canister. */
export interface BuiltinCall {
  method: string;
  arg: Uint8Array;
  caller: Principal;
  ingress: boolean;
  origin: Origin;
  cycles: bigint;
  /** Cycles the method kept; the rest go back to a calling canister. */
  accepted?: bigint;
}

/** Handles calls addressed to built-in canisters (the management canister and system stand-ins). */
export interface BuiltinCanister {
  /** Runs the method. Returns undefined when the response comes later (stop_canister). */
  handle(engine: Engine, call: BuiltinCall): Response | undefined;
  /** Checks an ingress message before it is accepted (non-replicated rejection when it returns a Reject). */
  inspectIngress?(engine: Engine, call: { method: string; arg: Uint8Array; sender: Principal }): Reject | undefined;
  query?(engine: Engine, call: { method: string; arg: Uint8Array; sender: Principal }): Response;
}

export interface EngineOptions {
  instructionLimits?: Partial<InstructionLimits>;
  codeCache?: CodeCache;
  /** Wall clock in ns; canister time is this plus the offset tests add with advanceTime. */
  wallClockNs?: () => bigint;
  random?: (length: number) => Uint8Array;
  /** Certificate handed to non-replicated queries through ic0.data_certificate_copy. */
  dataCertificate?: (canister: Canister) => Uint8Array | undefined;
}

export interface RoundSummary {
  round: number;
  finalized: IngressRecord[];
  touched: Set<Canister>;
  deleted: string[];
  blobs: Map<string, Uint8Array>;
}

/**
 * The deterministic core of the localnet: one subnet, one FIFO of messages, executed one at a time. Each
 * execution is atomic; a round ends when the queue is empty (or after a bounded number of messages), and round
 * listeners then persist and certify what it finished before any client is answered.
 */
export class Engine {
  readonly canisters = new Map<string, Canister>();
  readonly builtins = new Map<string, BuiltinCanister>();
  readonly limits: InstructionLimits;
  readonly codeCache: CodeCache;
  nextCanisterIndex = FIRST_USER_CANISTER_INDEX;
  round = 0;
  private readonly queue: Message[] = [];
  private readonly ingress = new Map<string, IngressRecord>();
  private readonly finishedThisRound: IngressRecord[] = [];
  private readonly touched = new Set<Canister>();
  private readonly deleted: string[] = [];
  private readonly executor = new MessageExecutor(this);
  private roundScheduled = false;
  private readonly roundListeners: Array<(summary: RoundSummary) => void> = [];
  private readonly executionListeners: Array<(event: ExecutionEvent) => void> = [];
  private readonly clock: CanisterClock;
  readonly random: (length: number) => Uint8Array;
  /** The certificate a non-replicated query of `canister` may read through ic0.data_certificate_copy. */
  readonly dataCertificateFor: (canister: Canister) => Uint8Array | undefined;
  private readonly timers = new SystemTasks(this);
  private readonly hostResolutions: Array<() => void> = [];
  /** Module and chunk bytes first seen this round, content-addressed, for persistence. */
  readonly newBlobs = new Map<string, Uint8Array>();

  constructor(options: EngineOptions = {}) {
    this.limits = { ...IC_INSTRUCTION_LIMITS, ...options.instructionLimits };
    this.codeCache = options.codeCache ?? new CodeCache(undefined);
    this.clock = new CanisterClock(options.wallClockNs);
    this.random = options.random ?? ((n) => new Uint8Array(randomBytes(n)));
    this.dataCertificateFor = options.dataCertificate ?? (() => undefined);
  }

  // ------------------------------------------------------------------ time and listeners

  /** Canister time (ns): wall clock (or where it was frozen) plus whatever tests advanced. */
  now(): bigint {
    return this.clock.now();
  }

  /** Canister time stops following the wall clock (`true`) or follows it again from where it stood (`false`). */
  freezeTime(frozen: boolean): void {
    this.clock.freeze(frozen);
  }

  wallNow(): bigint {
    return this.clock.wallNow();
  }

  advanceTime(deltaNs: bigint): void {
    this.clock.advance(deltaNs);
    this.markHostDirty();
  }

  /** What tests advanced canister time by (persisted in snapshots). */
  get timeOffsetNs(): bigint {
    return this.clock.offsetNs;
  }

  set timeOffsetNs(value: bigint) {
    this.clock.offsetNs = value;
  }

  onRound(listener: (summary: RoundSummary) => void): void {
    this.roundListeners.push(listener);
  }

  /** Set when a round could not be made durable; the network then refuses all work. */
  halted: Error | undefined;
  /** Receives host errors (bugs, disk failures) — never canister errors. */
  reportHostError: (error: unknown) => void = (error) => console.error('localnet host error:', error);

  onExecution(listener: (event: ExecutionEvent) => void): void {
    this.executionListeners.push(listener);
  }

  markTouched(canister: Canister): void {
    this.touched.add(canister);
  }

  /** Host metadata (next id, clock offset) changed: persisted with the next round. */
  markHostDirty(): void {
    this.hostDirty = true;
    this.scheduleRound();
  }
  hostDirty = false;

  // ------------------------------------------------------------------ canisters

  getCanister(id: Principal | string): Canister | undefined {
    return this.canisters.get(typeof id === 'string' ? id : id.toText());
  }

  createCanister(options: { controllers: Principal[]; cycles?: bigint; specifiedId?: Principal }): Canister {
    let id = options.specifiedId;
    if (id === undefined) {
      do {
        id = canisterIdFromIndex(this.nextCanisterIndex++);
      } while (this.canisters.has(id.toText()) || this.builtins.has(id.toText()));
    }
    const canister = new Canister(id, options.controllers, options.cycles ?? DEFAULT_CANISTER_CYCLES, costCall);
    canister.lastTimeNs = this.now();
    this.canisters.set(id.toText(), canister);
    this.markTouched(canister);
    this.markHostDirty();
    return canister;
  }

  deleteCanister(canister: Canister): void {
    this.canisters.delete(canister.text);
    this.touched.delete(canister);
    this.deleted.push(canister.text);
    this.scheduleRound();
  }

  // ------------------------------------------------------------------ ingress and queries

  ingressRecord(requestIdHex: string): IngressRecord | undefined {
    return this.ingress.get(requestIdHex);
  }

  /**
   * Accepts an ingress update (after the HTTP layer authenticated it). Returns the record to wait on, or a
   * non-replicated rejection. A request id seen before is not executed again.
   */
  submitIngress(request: {
    canisterId: Principal;
    effectiveCanisterId: Principal;
    method: string;
    arg: Uint8Array;
    sender: Principal;
    requestId: Uint8Array;
    expiryNs: bigint;
  }): { record: IngressRecord } | { reject: Reject } {
    const requestIdHex = toHex(request.requestId);
    const known = this.ingress.get(requestIdHex);
    if (known !== undefined) return { record: known };
    const refusal = inspectIngress(this, request);
    if (refusal !== undefined) return { reject: refusal };
    const record: IngressRecord = {
      requestId: request.requestId,
      requestIdHex,
      sender: request.sender,
      effectiveCanisterId: request.effectiveCanisterId,
      canisterId: request.canisterId,
      method: request.method,
      status: 'received',
      expiryNs: request.expiryNs
    };
    this.ingress.set(requestIdHex, record);
    this.enqueue({
      kind: 'call',
      target: request.canisterId,
      method: request.method,
      arg: request.arg,
      caller: request.sender,
      cycles: 0n,
      origin: { kind: 'ingress', record },
      ingress: true
    });
    return { record };
  }

  /** An update call made by host code (tests, deploy): same path as ingress, without HTTP or signatures. */
  callFromHost(request: { canisterId: Principal; method: string; arg: Uint8Array; caller: Principal; cycles?: bigint }): Promise<Response> {
    return new Promise((resolve) => {
      const builtin = this.builtins.get(request.canisterId.toText());
      const refusal = builtin?.inspectIngress?.(this, { method: request.method, arg: request.arg, sender: request.caller }) ?? undefined;
      if (refusal !== undefined) {
        resolve({ kind: 'reject', reject: refusal });
        return;
      }
      this.enqueue({
        kind: 'call',
        target: request.canisterId,
        method: request.method,
        arg: request.arg,
        caller: request.caller,
        cycles: request.cycles ?? 0n,
        origin: { kind: 'host', resolve },
        ingress: false
      });
    });
  }

  /** A non-replicated query: runs against committed state and changes nothing. */
  query(request: { canisterId: Principal; method: string; arg: Uint8Array; sender: Principal }): Response {
    return runQuery(this, request);
  }

  /** Why a canister cannot take messages right now, if it cannot. */
  unavailable(canister: Canister | undefined, id: Principal): Reject | undefined {
    if (canister === undefined) return notFound(id);
    // Refused at induction (a StateError, not a UserError): a calling canister reads the bare text.
    if (canister.status === 'stopped')
      return plainReject(RejectCode.CanisterError, ErrorCode.CanisterStopped, `Canister ${canister.text} is stopped`);
    if (canister.status === 'stopping')
      return plainReject(RejectCode.CanisterError, ErrorCode.CanisterStopping, `Canister ${canister.text} is stopping`);
    if (canister.isEmpty) {
      return reject(
        ErrorCode.CanisterWasmModuleNotFound,
        `Error from Canister ${canister.text}: Attempted to execute a message, but the canister contains no Wasm module.`
      );
    }
    return undefined;
  }

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

  private pruneIngress(): void {
    const horizon = this.clock.wallNow() - 5n * 60n * 1_000_000_000n;
    for (const [key, record] of this.ingress) {
      if (record.finalizedRound !== undefined && record.expiryNs < horizon) this.ingress.delete(key);
    }
  }

  // ------------------------------------------------------------------ for the message executor

  private process(message: Message): void {
    this.executor.process(message);
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

  emitExecution(event: ExecutionEvent): void {
    for (const listener of this.executionListeners) listener(event);
  }

  respondTo(origin: Origin, response: Response, refund: bigint): void {
    this.executor.respondTo(origin, response, refund);
  }

  /** Runs one entry point of a canister with metering (install, upgrade and the executor use it). */
  run(
    canister: Canister,
    execution: ExecutionContext,
    limit: bigint,
    entry: string | { fun: number; env: number },
    options: { keep: boolean; context?: CallContext; ownJournal?: boolean; overlay?: QueryOverlay; contextInstructionsBase?: bigint }
  ): ExecutionOutcome {
    return this.executor.run(canister, execution, limit, entry, options);
  }

  /** Hooks for stop_canister and start_canister: set by the management canister. */
  onCanisterIdle: (canister: Canister) => void = () => undefined;
  onCanisterStarted: (canister: Canister) => void = () => undefined;
}
