import { randomBytes } from 'node:crypto';

import { Principal } from '@dfinity/principal';

import { ErrorCode, RejectCode, reject, rejectCodeOf, trapMessage, type Reject } from '../errors.js';
import { canisterIdFromIndex, FIRST_USER_CANISTER_INDEX, MANAGEMENT_CANISTER_ID, toHex } from '../ids.js';
import { Canister, type ExecutionOutcome, type LoadedCode } from './canister.js';
import { CodeCache } from './compiled-code.js';
import { ExecutionContext, type Callback, type EntryKind, type Response } from './context.js';
import { costCall, IC_INSTRUCTION_LIMITS, type InstructionLimits } from './limits.js';
import type { CallContext, ExecutionEvent, IngressRecord, Message, Origin } from './messages.js';

export const DEFAULT_CANISTER_CYCLES = 100_000_000_000_000n;
/** Messages executed per round before the host yields to the event loop (HTTP stays responsive). */
const MAX_MESSAGES_PER_ROUND = 2_000;
const HEARTBEAT_INTERVAL_NS = 1_000_000_000n;

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
  timeOffsetNs = 0n;
  round = 0;
  private readonly queue: Message[] = [];
  private readonly ingress = new Map<string, IngressRecord>();
  private readonly finishedThisRound: IngressRecord[] = [];
  private readonly touched = new Set<Canister>();
  private readonly deleted: string[] = [];
  private nextContextId = 1;
  private roundScheduled = false;
  private readonly roundListeners: Array<(summary: RoundSummary) => void> = [];
  private readonly executionListeners: Array<(event: ExecutionEvent) => void> = [];
  private readonly wallClockNs: () => bigint;
  readonly random: (length: number) => Uint8Array;
  private readonly dataCertificate: (canister: Canister) => Uint8Array | undefined;
  private lastHeartbeatNs = 0n;
  private readonly hostResolutions: Array<() => void> = [];
  /** Module and chunk bytes first seen this round, content-addressed, for persistence. */
  readonly newBlobs = new Map<string, Uint8Array>();

  constructor(options: EngineOptions = {}) {
    this.limits = { ...IC_INSTRUCTION_LIMITS, ...options.instructionLimits };
    this.codeCache = options.codeCache ?? new CodeCache(undefined);
    this.wallClockNs = options.wallClockNs ?? (() => BigInt(Date.now()) * 1_000_000n);
    this.random = options.random ?? ((n) => new Uint8Array(randomBytes(n)));
    this.dataCertificate = options.dataCertificate ?? (() => undefined);
  }

  // ------------------------------------------------------------------ time and listeners

  /** Canister time (ns): wall clock plus whatever tests advanced. */
  now(): bigint {
    return this.wallClockNs() + this.timeOffsetNs;
  }

  wallNow(): bigint {
    return this.wallClockNs();
  }

  advanceTime(deltaNs: bigint): void {
    if (deltaNs < 0n) throw new RangeError('time can only move forward');
    this.timeOffsetNs += deltaNs;
    this.markHostDirty();
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
    const refusal = this.preflightIngress(request);
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
      const refusal =
        builtin?.inspectIngress?.(this, { method: request.method, arg: request.arg, sender: request.caller }) ?? undefined;
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
    const builtin = this.builtins.get(request.canisterId.toText());
    if (builtin !== undefined) {
      if (builtin.query === undefined) {
        return rejectResponse(RejectCode.CanisterError, ErrorCode.CanisterMethodNotFound, `Canister ${request.canisterId.toText()} has no query method '${request.method}'`);
      }
      try {
        return builtin.query(this, request);
      } catch (error) {
        return rejectResponse(RejectCode.CanisterReject, ErrorCode.InvalidManagementPayload, `invalid argument for ${request.method}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    const canister = this.getCanister(request.canisterId);
    const unavailable = this.unavailable(canister, request.canisterId);
    if (unavailable !== undefined || canister === undefined) return { kind: 'reject', reject: unavailable ?? notFound(request.canisterId) };
    const queryExport = `canister_query ${request.method}`;
    const compositeExport = `canister_composite_query ${request.method}`;
    const exportName = canister.hasExport(queryExport) ? queryExport : canister.hasExport(compositeExport) ? compositeExport : undefined;
    if (exportName === undefined) {
      return rejectResponse(RejectCode.CanisterError, ErrorCode.CanisterMethodNotFound, `Error from Canister ${canister.text}: Canister has no query method '${request.method}'.`);
    }
    const context = new ExecutionContext(exportName === queryExport ? 'query' : 'composite_query', {
      caller: request.sender.toUint8Array(),
      arg: request.arg,
      methodName: request.method,
      timeNs: canister.lastTimeNs > this.now() ? canister.lastTimeNs : this.now(),
      canRespond: true,
      cyclesAvailable: 0n,
      cyclesRefunded: 0n,
      rejectCode: 0,
      rejectMessage: '',
      dataCertificate: this.dataCertificate(canister)
    });
    const outcome = this.run(canister, context, this.limits.query, exportName, { keep: false });
    if (!outcome.ok) return { kind: 'reject', reject: trapReject(canister, outcome) };
    if (context.performedCalls.length > 0) {
      return rejectResponse(RejectCode.CanisterError, ErrorCode.CanisterContractViolation, `Error from Canister ${canister.text}: calls from composite queries are not supported by this localnet`);
    }
    return context.response ?? rejectResponse(RejectCode.CanisterError, ErrorCode.CanisterDidNotReply, trapMessage(canister.text, ErrorCode.CanisterDidNotReply, ''));
  }

  private preflightIngress(request: { canisterId: Principal; method: string; arg: Uint8Array; sender: Principal }): Reject | undefined {
    const builtin = this.builtins.get(request.canisterId.toText());
    if (builtin !== undefined) return builtin.inspectIngress?.(this, request);
    const canister = this.getCanister(request.canisterId);
    const unavailable = this.unavailable(canister, request.canisterId);
    if (unavailable !== undefined || canister === undefined) return unavailable ?? notFound(request.canisterId);
    if (!canister.hasExport(`canister_update ${request.method}`) && !canister.hasExport(`canister_query ${request.method}`)) {
      return reject(RejectCode.CanisterError, ErrorCode.CanisterMethodNotFound, `Error from Canister ${canister.text}: Canister has no update method '${request.method}'.`);
    }
    if (!canister.hasExport('canister_inspect_message')) return undefined;
    const context = new ExecutionContext('inspect_message', {
      caller: request.sender.toUint8Array(),
      arg: request.arg,
      methodName: request.method,
      timeNs: this.now(),
      canRespond: false,
      cyclesAvailable: 0n,
      cyclesRefunded: 0n,
      rejectCode: 0,
      rejectMessage: ''
    });
    const outcome = this.run(canister, context, this.limits.inspect, 'canister_inspect_message', { keep: false });
    if (!outcome.ok) return trapReject(canister, outcome);
    if (!context.accepted) {
      return reject(RejectCode.CanisterReject, ErrorCode.CanisterRejectedMessage, `Error from Canister ${canister.text}: Canister rejected the message`);
    }
    return undefined;
  }

  /** Why a canister cannot take messages right now, if it cannot. */
  unavailable(canister: Canister | undefined, id: Principal): Reject | undefined {
    if (canister === undefined) return notFound(id);
    if (canister.status === 'stopped') return reject(RejectCode.CanisterError, ErrorCode.CanisterStopped, `Canister ${canister.text} is stopped`);
    if (canister.status === 'stopping') return reject(RejectCode.CanisterError, ErrorCode.CanisterStopping, `Canister ${canister.text} is stopping`);
    if (canister.isEmpty) {
      return reject(RejectCode.CanisterError, ErrorCode.CanisterWasmModuleNotFound, `Error from Canister ${canister.text}: Attempted to execute a message, but the canister contains no Wasm module.`);
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
    setImmediate(() => {
      this.roundScheduled = false;
      this.runRound();
    });
  }

  /** Whether anything is waiting to execute (queued messages or due timers). */
  get busy(): boolean {
    return this.queue.length > 0 || this.dueTimers().length > 0;
  }

  /** Executes queued messages and due timers, then ends the round (persist, certify, answer). */
  runRound(): void {
    let executed = 0;
    this.enqueueDueTimers();
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
          this.respondTo(message.origin, rejectResponse(RejectCode.SysFatal, 'IC0101', `Internal error of the local network: ${error instanceof Error ? error.message : String(error)}`), message.cycles);
        }
      }
      executed++;
      if (this.queue.length === 0) this.enqueueDueTimers();
    }
    this.endRound();
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
    const horizon = this.wallClockNs() - 5n * 60n * 1_000_000_000n;
    for (const [key, record] of this.ingress) {
      if (record.finalizedRound !== undefined && record.expiryNs < horizon) this.ingress.delete(key);
    }
  }

  private dueTimers(): Canister[] {
    const now = this.now();
    const due: Canister[] = [];
    for (const canister of this.canisters.values()) {
      if (canister.status !== 'running' || canister.isEmpty) continue;
      if (canister.globalTimer !== 0n && canister.globalTimer <= now && canister.hasExport('canister_global_timer')) due.push(canister);
    }
    return due;
  }

  private enqueueDueTimers(): void {
    for (const canister of this.dueTimers()) {
      canister.globalTimer = 0n; // deactivated before it runs, as on the IC
      this.markTouched(canister);
      this.queue.push({ kind: 'timer', canister });
    }
    const now = this.now();
    if (now - this.lastHeartbeatNs >= HEARTBEAT_INTERVAL_NS) {
      this.lastHeartbeatNs = now;
      for (const canister of this.canisters.values()) {
        if (canister.status === 'running' && canister.hasExport('canister_heartbeat')) this.queue.push({ kind: 'heartbeat', canister });
      }
    }
  }

  /** Earliest armed timer in canister time, for the host's wake-up loop. */
  nextTimerNs(): bigint | undefined {
    let next: bigint | undefined;
    for (const canister of this.canisters.values()) {
      if (canister.globalTimer !== 0n && (next === undefined || canister.globalTimer < next)) next = canister.globalTimer;
    }
    return next;
  }

  // ------------------------------------------------------------------ message processing

  private process(message: Message): void {
    switch (message.kind) {
      case 'call':
        this.processCall(message);
        return;
      case 'response':
        this.processResponse(message.context, message.callback, message.response, message.refund);
        return;
      case 'timer':
      case 'heartbeat':
        this.processSystemTask(message.canister, message.kind);
        return;
    }
  }

  private processCall(message: Extract<Message, { kind: 'call' }>): void {
    if (message.origin.kind === 'ingress') message.origin.record.status = 'processing';
    const targetText = message.target.toText();
    const builtin = this.builtins.get(targetText);
    if (builtin !== undefined) {
      const call: BuiltinCall = {
        method: message.method,
        arg: message.arg,
        caller: message.caller,
        ingress: message.ingress,
        origin: message.origin,
        cycles: message.cycles,
        accepted: 0n
      };
      let response: Response | undefined;
      try {
        response = builtin.handle(this, call);
      } catch (error) {
        response = rejectResponse(RejectCode.CanisterReject, ErrorCode.InvalidManagementPayload, `Error from Canister ${targetText}: invalid argument for ${message.method}: ${error instanceof Error ? error.message : String(error)}`);
      }
      if (response !== undefined) this.respondTo(message.origin, response, message.cycles - (call.accepted ?? 0n));
      return;
    }
    const canister = this.canisters.get(targetText);
    const unavailable = this.unavailable(canister, message.target);
    if (unavailable !== undefined || canister === undefined) {
      this.respondTo(message.origin, { kind: 'reject', reject: unavailable ?? notFound(message.target) }, message.cycles);
      return;
    }
    const updateExport = `canister_update ${message.method}`;
    const queryExport = `canister_query ${message.method}`;
    let kind: EntryKind;
    let exportName: string;
    if (canister.hasExport(updateExport)) {
      kind = 'update';
      exportName = updateExport;
    } else if (canister.hasExport(queryExport)) {
      kind = 'replicated_query';
      exportName = queryExport;
    } else if (canister.hasExport(`canister_composite_query ${message.method}`)) {
      this.respondTo(message.origin, rejectResponse(RejectCode.CanisterError, ErrorCode.CompositeQueryCalledInReplicatedMode, `Error from Canister ${canister.text}: Composite query cannot be called in replicated mode`), message.cycles);
      return;
    } else {
      this.respondTo(message.origin, rejectResponse(RejectCode.CanisterError, ErrorCode.CanisterMethodNotFound, `Error from Canister ${canister.text}: Canister has no update method '${message.method}'.`), message.cycles);
      return;
    }
    const context = this.openContext(canister, message.origin, message.cycles);
    const execution = new ExecutionContext(kind, {
      caller: message.caller.toUint8Array(),
      arg: message.arg,
      methodName: message.method,
      timeNs: canister.nextTime(this.now()),
      canRespond: true,
      cyclesAvailable: message.cycles,
      cyclesRefunded: 0n,
      rejectCode: 0,
      rejectMessage: '',
      deadlineNs: message.origin.kind === 'canister' ? message.origin.deadlineNs : undefined
    });
    const outcome = this.run(canister, execution, this.limits.update, exportName, { keep: kind === 'update' });
    this.afterExecution(context, execution, outcome);
  }

  private processResponse(context: CallContext, callback: Callback, response: Response, refund: bigint): void {
    context.outstanding--;
    const canister = context.canister;
    if (this.canisters.get(canister.text) !== canister || canister.isEmpty || canister.codeEpoch !== context.epoch) {
      this.finishContextIfDone(context, undefined);
      return;
    }
    canister.cycles += refund;
    this.markTouched(canister);
    const isReply = response.kind === 'reply';
    const execution = new ExecutionContext(isReply ? 'reply_callback' : 'reject_callback', {
      caller: canister.canisterId,
      arg: response.kind === 'reply' ? response.bytes : new Uint8Array(),
      methodName: '',
      timeNs: canister.nextTime(this.now()),
      canRespond: !context.responded,
      cyclesAvailable: context.responded ? 0n : context.cyclesAvailable,
      cyclesRefunded: refund,
      rejectCode: response.kind === 'reject' ? response.reject.code : 0,
      rejectMessage: response.kind === 'reject' ? response.reject.message : ''
    });
    const fun = isReply ? callback.replyFun : callback.rejectFun;
    const env = isReply ? callback.replyEnv : callback.rejectEnv;
    const outcome = this.run(canister, execution, this.limits.update, { fun, env }, { keep: true, context });
    if (!outcome.ok && callback.cleanup !== undefined) {
      const cleanup = new ExecutionContext('cleanup', { ...execution.init, canRespond: false });
      const cleanupOutcome = this.run(canister, cleanup, this.limits.update, callback.cleanup, { keep: true, context });
      if (cleanupOutcome.ok) this.applyEffects(canister, cleanup);
    }
    this.afterExecution(context, execution, outcome);
  }

  private processSystemTask(canister: Canister, kind: 'timer' | 'heartbeat'): void {
    if (this.canisters.get(canister.text) !== canister || canister.isEmpty || canister.status !== 'running') return;
    const context = this.openContext(canister, { kind: 'system' }, 0n);
    const execution = new ExecutionContext(kind === 'timer' ? 'global_timer' : 'heartbeat', {
      caller: MANAGEMENT_CANISTER_ID.toUint8Array(),
      arg: new Uint8Array(),
      methodName: '',
      timeNs: canister.nextTime(this.now()),
      canRespond: false,
      cyclesAvailable: 0n,
      cyclesRefunded: 0n,
      rejectCode: 0,
      rejectMessage: ''
    });
    const exportName = kind === 'timer' ? 'canister_global_timer' : 'canister_heartbeat';
    const outcome = this.run(canister, execution, this.limits.update, exportName, { keep: true, context });
    context.responded = true; // system tasks have nobody to answer
    this.afterExecution(context, execution, outcome);
  }

  private openContext(canister: Canister, origin: Origin, cycles: bigint): CallContext {
    canister.openCallContexts++;
    return {
      id: this.nextContextId++,
      canister,
      origin,
      responded: false,
      outstanding: 0,
      cyclesAvailable: cycles,
      instructions: 0n,
      epoch: canister.codeEpoch
    };
  }

  /** Applies a finished execution: effects, outgoing calls, response, then the call context's end. */
  private afterExecution(context: CallContext, execution: ExecutionContext, outcome: ExecutionOutcome): void {
    const canister = context.canister;
    context.instructions += outcome.instructions;
    if (outcome.ok) {
      if (execution.replicated && execution.kind !== 'replicated_query') {
        this.applyEffects(canister, execution);
        for (const call of execution.performedCalls) this.sendCall(context, call);
      }
      if (execution.response !== undefined) {
        const accepted = execution.cyclesAccepted;
        context.cyclesAvailable -= accepted;
        this.respond(context, execution.response);
      }
      this.finishContextIfDone(context, undefined);
    } else {
      canister.appendLog(execution.init.timeNs, `[TRAP]: ${outcome.detail}`);
      this.markTouched(canister);
      this.finishContextIfDone(context, trapReject(canister, outcome));
    }
  }

  private applyEffects(canister: Canister, execution: ExecutionContext): void {
    if (execution.certifiedData !== undefined) canister.certifiedData = execution.certifiedData;
    if (execution.globalTimer !== undefined) canister.globalTimer = execution.globalTimer;
    canister.cycles += execution.cyclesAccepted - execution.cyclesBurned - execution.cyclesSentByCalls;
    for (const line of execution.logs) canister.appendLog(execution.init.timeNs, line);
    canister.versionNumber++;
    this.markTouched(canister);
  }

  private sendCall(context: CallContext, call: ExecutionContext['performedCalls'][number]): void {
    context.outstanding++;
    const arg = concatChunks(call.argChunks);
    const deadlineNs =
      call.bestEffortTimeoutSeconds === undefined ? undefined : this.now() + BigInt(call.bestEffortTimeoutSeconds) * 1_000_000_000n;
    this.queue.push({
      kind: 'call',
      target: Principal.fromUint8Array(call.callee),
      method: call.method,
      arg,
      caller: context.canister.id,
      cycles: call.cycles,
      origin: { kind: 'canister', context, callback: call.callback, deadlineNs },
      ingress: false
    });
  }

  /** Answers the call context's origin (once). */
  private respond(context: CallContext, response: Response): void {
    if (context.responded) return;
    context.responded = true;
    const refund = context.cyclesAvailable;
    context.cyclesAvailable = 0n;
    this.respondTo(context.origin, response, refund);
  }

  respondTo(origin: Origin, response: Response, refund: bigint): void {
    switch (origin.kind) {
      case 'ingress': {
        const record = origin.record;
        if (response.kind === 'reply') {
          record.status = 'replied';
          record.reply = response.bytes;
        } else {
          record.status = 'rejected';
          record.reject = response.reject;
        }
        this.finishedThisRound.push(record);
        return;
      }
      case 'canister':
        this.queue.push({ kind: 'response', context: origin.context, callback: origin.callback, response, refund });
        return;
      case 'host':
        // Host callers learn the outcome after the round is durable, like ingress.
        this.hostResolutions.push(() => origin.resolve(response));
        return;
      case 'system':
        return;
    }
  }

  /** Closes the context when it answered and waits for nothing; synthesises the IC's reject when it never will. */
  private finishContextIfDone(context: CallContext, trap: Reject | undefined): void {
    if (context.outstanding > 0) return;
    if (!context.responded) {
      const canister = context.canister;
      this.respond(context, {
        kind: 'reject',
        reject:
          trap ??
          reject(RejectCode.CanisterError, ErrorCode.CanisterDidNotReply, trapMessage(canister.text, ErrorCode.CanisterDidNotReply, ''))
      });
    }
    const canister = context.canister;
    canister.openCallContexts = Math.max(0, canister.openCallContexts - 1);
    if (canister.openCallContexts === 0) this.onCanisterIdle(canister);
  }

  /** Hooks for stop_canister and start_canister: set by the management canister. */
  onCanisterIdle: (canister: Canister) => void = () => undefined;
  onCanisterStarted: (canister: Canister) => void = () => undefined;

  // ------------------------------------------------------------------ running Wasm

  /** Runs one entry point of a canister with metering, and reports the execution to listeners. */
  run(
    canister: Canister,
    execution: ExecutionContext,
    limit: bigint,
    entry: string | { fun: number; env: number },
    options: { keep: boolean; context?: CallContext; ownJournal?: boolean }
  ): ExecutionOutcome {
    const started = performance.now();
    const outcome = canister.execute(
      execution,
      limit,
      (loaded: LoadedCode) => invokeEntry(loaded, entry),
      { keep: options.keep, ownJournal: options.ownJournal, contextInstructionsBase: options.context?.instructions }
    );
    if (options.keep && outcome.ok) this.markTouched(canister);
    const event: ExecutionEvent = {
      canisterId: canister.text,
      entry: typeof entry === 'string' ? entry : `${execution.kind}`,
      instructions: outcome.instructions,
      ok: outcome.ok,
      errorCode: outcome.ok ? undefined : outcome.errorCode,
      durationMs: performance.now() - started
    };
    for (const listener of this.executionListeners) listener(event);
    return outcome;
  }
}

function invokeEntry(loaded: LoadedCode, entry: string | { fun: number; env: number }): void {
  if (typeof entry === 'string') {
    const fn = loaded.instance.exports[entry];
    if (typeof fn !== 'function') throw new Error(`export ${entry} is not a function`);
    fn();
    return;
  }
  const fn: unknown = loaded.table.get(entry.fun);
  if (typeof fn !== 'function') {
    throw new WebAssembly.RuntimeError(`callback table index ${entry.fun} is not a function`);
  }
  fn(entry.env);
}

export function trapReject(canister: Canister, outcome: Extract<ExecutionOutcome, { ok: false }>): Reject {
  const errorCode = outcome.errorCode;
  return reject(rejectCodeOf(errorCode), errorCode, trapMessage(canister.text, errorCode, outcome.detail));
}

export function rejectResponse(code: RejectCode, errorCode: string, message: string): Response {
  return { kind: 'reject', reject: reject(code, errorCode, message) };
}

export function notFound(id: Principal): Reject {
  return reject(RejectCode.DestinationInvalid, ErrorCode.CanisterNotFound, `Canister ${id.toText()} not found`);
}

function concatChunks(chunks: Uint8Array[]): Uint8Array {
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}
