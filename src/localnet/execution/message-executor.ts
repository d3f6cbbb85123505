import { concatBytes } from '@noble/hashes/utils';
import { Principal } from '@dfinity/principal';

import { canisterRejectMessage, ErrorCode, reject, trapMessage, type Reject } from '../errors.js';
import { MANAGEMENT_CANISTER_ID } from '../ids.js';
import type { Canister, ExecutionOutcome, LoadedCode } from './canister.js';
import { ExecutionContext, type Callback, type EntryKind, type Response } from './context.js';
import type { BuiltinCall, Engine } from './engine.js';
import type { CallContext, ExecutionEvent, Message, Origin } from './messages.js';
import type { QueryOverlay } from './query-overlay.js';
import { notFound, rejectResponse, trapReject } from './rejects.js';

/**
 * The IC's message semantics for one queued message: call contexts, inter-canister calls and their callbacks,
 * cleanup, system tasks, and the synthesized rejects when a context can never be answered.
 */
export class MessageExecutor {
  private nextContextId = 1;

  constructor(private readonly engine: Engine) {}

  process(message: Message): void {
    switch (message.kind) {
      case 'call':
        this.processCall(message);
        return;
      case 'response':
        if (message.callee !== undefined) message.context.canister.outstandingCalls.remove(message.callee);
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
    const builtin = this.engine.builtins.get(targetText);
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
        response = builtin.handle(this.engine, call);
      } catch (error) {
        response = rejectResponse(
          ErrorCode.InvalidManagementPayload,
          `Error from Canister ${targetText}: invalid argument for ${message.method}: ${error instanceof Error ? error.message : String(error)}`
        );
      }
      if (response !== undefined) this.respondTo(message.origin, response, message.cycles - (call.accepted ?? 0n));
      return;
    }
    const canister = this.engine.canisters.get(targetText);
    const unavailable = this.engine.unavailable(canister, message.target);
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
      this.respondTo(
        message.origin,
        rejectResponse(ErrorCode.CompositeQueryCalledInReplicatedMode, 'Composite query cannot be called in replicated mode'),
        message.cycles
      );
      return;
    } else {
      this.respondTo(
        message.origin,
        rejectResponse(
          ErrorCode.CanisterMethodNotFound,
          `Error from Canister ${canister.text}: Canister has no update method '${message.method}'.`
        ),
        message.cycles
      );
      return;
    }
    const context = this.openContext(canister, message.origin, message.cycles);
    const execution = new ExecutionContext(kind, {
      caller: message.caller.toUint8Array(),
      arg: message.arg,
      methodName: message.method,
      timeNs: canister.nextTime(this.engine.now()),
      canRespond: true,
      cyclesAvailable: message.cycles,
      cyclesRefunded: 0n,
      rejectCode: 0,
      rejectMessage: '',
      deadlineNs: message.origin.kind === 'canister' ? message.origin.deadlineNs : undefined
    });
    const outcome = this.run(canister, execution, this.engine.limits.update, exportName, { keep: kind === 'update' });
    this.afterExecution(context, execution, outcome);
  }

  private processResponse(context: CallContext, callback: Callback, response: Response, refund: bigint): void {
    context.outstanding--;
    const canister = context.canister;
    if (this.engine.canisters.get(canister.text) !== canister || canister.isEmpty || canister.codeEpoch !== context.epoch) {
      this.finishContextIfDone(context, undefined);
      return;
    }
    canister.cycles += refund;
    this.engine.markTouched(canister);
    const isReply = response.kind === 'reply';
    const execution = new ExecutionContext(isReply ? 'reply_callback' : 'reject_callback', {
      caller: canister.canisterId,
      arg: response.kind === 'reply' ? response.bytes : new Uint8Array(),
      methodName: '',
      timeNs: canister.nextTime(this.engine.now()),
      canRespond: !context.responded,
      cyclesAvailable: context.responded ? 0n : context.cyclesAvailable,
      cyclesRefunded: refund,
      rejectCode: response.kind === 'reject' ? response.reject.code : 0,
      rejectMessage: response.kind === 'reject' ? canisterRejectMessage(response.reject) : ''
    });
    const fun = isReply ? callback.replyFun : callback.rejectFun;
    const env = isReply ? callback.replyEnv : callback.rejectEnv;
    const outcome = this.run(canister, execution, this.engine.limits.update, { fun, env }, { keep: true, context });
    if (!outcome.ok && callback.cleanup !== undefined) {
      const cleanup = new ExecutionContext('cleanup', { ...execution.init, canRespond: false });
      const cleanupOutcome = this.run(canister, cleanup, this.engine.limits.update, callback.cleanup, { keep: true, context });
      if (cleanupOutcome.ok) this.applyEffects(canister, cleanup);
    }
    this.afterExecution(context, execution, outcome);
  }

  private processSystemTask(canister: Canister, kind: 'timer' | 'heartbeat'): void {
    if (this.engine.canisters.get(canister.text) !== canister || canister.isEmpty || canister.status !== 'running') return;
    const context = this.openContext(canister, { kind: 'system' }, 0n);
    const execution = new ExecutionContext(kind === 'timer' ? 'global_timer' : 'heartbeat', {
      caller: MANAGEMENT_CANISTER_ID.toUint8Array(),
      arg: new Uint8Array(),
      methodName: '',
      timeNs: canister.nextTime(this.engine.now()),
      canRespond: false,
      cyclesAvailable: 0n,
      cyclesRefunded: 0n,
      rejectCode: 0,
      rejectMessage: ''
    });
    const exportName = kind === 'timer' ? 'canister_global_timer' : 'canister_heartbeat';
    const outcome = this.run(canister, execution, this.engine.limits.update, exportName, { keep: true, context });
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
      this.engine.markTouched(canister);
      this.finishContextIfDone(context, trapReject(canister, outcome));
    }
  }

  private applyEffects(canister: Canister, execution: ExecutionContext): void {
    if (execution.certifiedData !== undefined) canister.certifiedData = execution.certifiedData;
    if (execution.globalTimer !== undefined) canister.globalTimer = execution.globalTimer;
    canister.cycles += execution.cyclesAccepted - execution.cyclesBurned - execution.cyclesSentByCalls;
    for (const line of execution.logs) canister.appendLog(execution.init.timeNs, line);
    canister.versionNumber++;
    this.engine.markTouched(canister);
  }

  private sendCall(context: CallContext, call: ExecutionContext['performedCalls'][number]): void {
    context.outstanding++;
    const arg = concatBytes(...call.argChunks);
    const target = Principal.fromUint8Array(call.callee);
    const callee = target.toText();
    context.canister.outstandingCalls.add(callee);
    const deadlineNs =
      call.bestEffortTimeoutSeconds === undefined ? undefined : this.engine.now() + BigInt(call.bestEffortTimeoutSeconds) * 1_000_000_000n;
    this.engine.pushMessage({
      kind: 'call',
      target,
      method: call.method,
      arg,
      caller: context.canister.id,
      cycles: call.cycles,
      origin: { kind: 'canister', context, callback: call.callback, deadlineNs, callee },
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
        this.engine.finishIngress(record);
        return;
      }
      case 'canister':
        this.engine.pushMessage({
          kind: 'response',
          context: origin.context,
          callback: origin.callback,
          response,
          refund,
          callee: origin.callee
        });
        return;
      case 'host':
        // Host callers learn the outcome after the round is durable, like ingress.
        this.engine.afterDurable(() => origin.resolve(response));
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
        // A calling canister reads the replica's bare "No response" (CallContextAction::NoResponse).
        reject: trap ?? {
          ...reject(ErrorCode.CanisterDidNotReply, trapMessage(canister.text, ErrorCode.CanisterDidNotReply, '')),
          canisterMessage: 'No response'
        }
      });
    }
    const canister = context.canister;
    canister.openCallContexts = Math.max(0, canister.openCallContexts - 1);
    if (canister.openCallContexts === 0) this.engine.onCanisterIdle(canister);
  }

  /** Runs one entry point of a canister with metering, and reports the execution to listeners. */
  run(
    canister: Canister,
    execution: ExecutionContext,
    limit: bigint,
    entry: string | { fun: number; env: number },
    options: { keep: boolean; context?: CallContext; ownJournal?: boolean; overlay?: QueryOverlay; contextInstructionsBase?: bigint }
  ): ExecutionOutcome {
    const started = performance.now();
    const outcome = canister.execute(execution, limit, (loaded: LoadedCode) => invokeEntry(loaded, entry), {
      keep: options.keep,
      ownJournal: options.ownJournal,
      contextInstructionsBase: options.contextInstructionsBase ?? options.context?.instructions,
      overlay: options.overlay
    });
    if (options.keep && outcome.ok) this.engine.markTouched(canister);
    const event: ExecutionEvent = {
      canisterId: canister.text,
      entry: typeof entry === 'string' ? entry : `${execution.kind}`,
      instructions: outcome.instructions,
      ok: outcome.ok,
      errorCode: outcome.ok ? undefined : outcome.errorCode,
      durationMs: performance.now() - started
    };
    this.engine.emitExecution(event);
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
