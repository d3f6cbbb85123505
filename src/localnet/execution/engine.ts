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
import { notFound } from './rejects.js';
import { RoundLoop } from './round-loop.js';

export { notFound, rejectResponse, trapReject } from './rejects.js';
export type { RoundSummary } from './round-loop.js';

export const DEFAULT_CANISTER_CYCLES = 100_000_000_000_000n;

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

/**
 * The deterministic core of the localnet: one subnet, one FIFO of messages, executed one at a time. Each
 * execution is atomic; a round ends when the queue is empty (or after a bounded number of messages), and round
 * listeners then persist and certify what it finished before any client is answered (the rounds: {@link RoundLoop}).
 */
export class Engine extends RoundLoop {
  readonly canisters = new Map<string, Canister>();
  readonly builtins = new Map<string, BuiltinCanister>();
  readonly limits: InstructionLimits;
  readonly codeCache: CodeCache;
  nextCanisterIndex = FIRST_USER_CANISTER_INDEX;
  private readonly ingress = new Map<string, IngressRecord>();
  private readonly executor = new MessageExecutor(this);
  private readonly executionListeners: Array<(event: ExecutionEvent) => void> = [];
  private readonly clock: CanisterClock;
  readonly random: (length: number) => Uint8Array;
  /** The certificate a non-replicated query of `canister` may read through ic0.data_certificate_copy. */
  readonly dataCertificateFor: (canister: Canister) => Uint8Array | undefined;
  protected override readonly timers = new SystemTasks(this);

  constructor(options: EngineOptions = {}) {
    super();
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

  onExecution(listener: (event: ExecutionEvent) => void): void {
    this.executionListeners.push(listener);
  }

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

  protected override pruneIngress(): void {
    const horizon = this.clock.wallNow() - 5n * 60n * 1_000_000_000n;
    for (const [key, record] of this.ingress) {
      if (record.finalizedRound !== undefined && record.expiryNs < horizon) this.ingress.delete(key);
    }
  }

  // ------------------------------------------------------------------ for the message executor

  protected override process(message: Message): void {
    this.executor.process(message);
  }

  emitExecution(event: ExecutionEvent): void {
    for (const listener of this.executionListeners) listener(event);
  }

  override respondTo(origin: Origin, response: Response, refund: bigint): void {
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
