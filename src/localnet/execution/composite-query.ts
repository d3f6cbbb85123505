import { concatBytes } from '@noble/hashes/utils';
import { Principal } from '@dfinity/principal';

import { CodedError } from '../../core/errors/coded-error.js';
import { ErrorCode, plainReject, RejectCode, reject, type Reject } from '../errors.js';
import type { Canister, ExecutionOutcome } from './canister.js';
import { ExecutionContext, type Callback, type OutgoingCall, type Response } from './context.js';
import { QueryOverlay } from './query-overlay.js';
import { notFound, trapReject } from './rejects.js';

/**
 * The replica's limits on one query call graph (rs/config execution_environment.rs): nesting depth, and the
 * instructions of all its executions together (the per-query limit, which the localnet makes configurable),
 * each call to a canister's query also costing a fixed overhead.
 */
export const MAX_QUERY_CALL_GRAPH_DEPTH = 6;
export const INSTRUCTION_OVERHEAD_PER_QUERY_CALL = 50_000_000n;

/** The whole query fails (the replica returns a UserError to the user, not a reject to a caller). */
export class GraphFailure extends CodedError<string> {
  constructor(readonly reject: Reject) {
    super(reject.errorCode, reject.message);
    this.name = 'GraphFailure';
  }
}

/** What the call graph needs from the engine (passed in by non-replicated.ts, so that this file does not import it). */
export interface QueryHost {
  readonly queryLimit: bigint;
  now(): bigint;
  getCanister(id: Principal): Canister | undefined;
  unavailable(canister: Canister | undefined, id: Principal): Reject | undefined;
  /** A built-in canister's answer to a query, null when it has no query methods, undefined when `id` is none. */
  builtinQuery(id: string, call: { method: string; arg: Uint8Array; sender: Principal }): Response | null | undefined;
  run(
    canister: Canister,
    execution: ExecutionContext,
    limit: bigint,
    entry: string | { fun: number; env: number },
    options: { keep: false; overlay?: QueryOverlay; contextInstructionsBase?: bigint }
  ): ExecutionOutcome;
}

interface Entry {
  canister: Canister;
  kind: 'query' | 'composite_query';
  exportName: string;
  caller: Uint8Array;
  arg: Uint8Array;
  method: string;
}

/**
 * A non-replicated query and the calls its composite queries make, evaluated depth first as the replica's
 * query handler does (query_call_graph.rs): each call context runs to its response before its caller's
 * callback; callees see committed state; every change is discarded at the end.
 */
export class QueryCallGraph {
  private budget: bigint;

  constructor(
    private readonly engine: QueryHost,
    private readonly dataCertificate: Uint8Array | undefined
  ) {
    this.budget = engine.queryLimit;
  }

  /** Runs the user's query; the response is what the user gets. */
  run(entry: Entry): Response {
    try {
      return this.runContext(entry, 0);
    } catch (error) {
      if (error instanceof GraphFailure) return { kind: 'reject', reject: error.reject };
      throw error;
    }
  }

  private runContext(entry: Entry, depth: number): Response {
    const { canister } = entry;
    const overlay = entry.kind === 'composite_query' ? new QueryOverlay() : undefined;
    let instructions = 0n;
    const execute = (execution: ExecutionContext, target: string | { fun: number; env: number }): ExecutionOutcome => {
      const limit = this.engine.queryLimit < this.budget ? this.engine.queryLimit : this.budget > 0n ? this.budget : 0n;
      const outcome = this.engine.run(canister, execution, limit, target, {
        keep: false,
        overlay,
        contextInstructionsBase: instructions
      });
      this.budget -= outcome.instructions;
      instructions += outcome.instructions;
      return outcome;
    };
    const time = canister.lastTimeNs > this.engine.now() ? canister.lastTimeNs : this.engine.now();
    let execution = new ExecutionContext(entry.kind, {
      caller: entry.caller,
      arg: entry.arg,
      methodName: entry.method,
      timeNs: time,
      canRespond: true,
      cyclesAvailable: 0n,
      cyclesRefunded: 0n,
      rejectCode: 0,
      rejectMessage: '',
      dataCertificate: depth === 0 ? this.dataCertificate : undefined
    });
    let outcome = execute(execution, entry.exportName);
    const pending: OutgoingCall[] = [];
    for (;;) {
      if (!outcome.ok) return { kind: 'reject', reject: trapReject(canister, outcome) };
      if (execution.response !== undefined) return execution.response;
      pending.push(...execution.performedCalls);
      const call = pending.shift();
      if (call === undefined) {
        return {
          kind: 'reject',
          reject: reject(ErrorCode.CanisterDidNotReply, `Canister ${canister.text} did not produce a response`)
        };
      }
      this.checkLimits(depth);
      const response = this.callee(call, canister, depth + 1);
      this.checkLimits(depth);
      const isReply = response.kind === 'reply';
      execution = new ExecutionContext(isReply ? 'reply_callback' : 'reject_callback', {
        caller: entry.caller,
        arg: response.kind === 'reply' ? response.bytes : new Uint8Array(),
        methodName: '',
        timeNs: time,
        canRespond: true,
        cyclesAvailable: 0n,
        cyclesRefunded: 0n,
        rejectCode: response.kind === 'reject' ? response.reject.code : 0,
        // Inside a query call graph a reject carries the UserError's description (RejectContext::from).
        rejectMessage: response.kind === 'reject' ? response.reject.message : '',
        inQuery: true
      });
      outcome = execute(execution, isReply ? { fun: call.callback.replyFun, env: call.callback.replyEnv } : rejectTarget(call.callback));
      if (!outcome.ok && call.callback.cleanup !== undefined) {
        const cleanup = new ExecutionContext('cleanup', { ...execution.init, canRespond: false });
        execute(cleanup, call.callback.cleanup);
      }
    }
  }

  private checkLimits(depth: number): void {
    if (depth >= MAX_QUERY_CALL_GRAPH_DEPTH) {
      throw new GraphFailure(reject(ErrorCode.QueryCallGraphTooDeep, 'Composite query calls exceeded the maximum call depth.'));
    }
    if (this.budget <= 0n) {
      throw new GraphFailure(
        reject(ErrorCode.QueryCallGraphTotalInstructionLimitExceeded, 'Composite query calls exceeded the instruction limit.')
      );
    }
  }

  /** One call made by a composite query: answered by a query or composite query, or rejected. */
  private callee(call: OutgoingCall, caller: Canister, depth: number): Response {
    const target = Principal.fromUint8Array(call.callee);
    const arg = concatBytes(...call.argChunks);
    const builtin = this.engine.builtinQuery(target.toText(), { method: call.method, arg, sender: caller.id });
    if (builtin === null) return noQueryMethod(target.toText(), call.method);
    if (builtin !== undefined) return builtin;
    const canister = this.engine.getCanister(target);
    const unavailable = this.engine.unavailable(canister, target);
    if (unavailable !== undefined || canister === undefined) return { kind: 'reject', reject: unavailable ?? notFound(target) };
    const composite = `canister_composite_query ${call.method}`;
    const query = `canister_query ${call.method}`;
    const exportName = canister.hasExport(composite) ? composite : canister.hasExport(query) ? query : undefined;
    // An update method (or none) cannot be called from a composite query.
    if (exportName === undefined) return noQueryMethod(canister.text, call.method);
    const response = this.runContext(
      {
        canister,
        kind: exportName === composite ? 'composite_query' : 'query',
        exportName,
        caller: caller.canisterId,
        arg,
        method: call.method
      },
      depth
    );
    this.budget -= INSTRUCTION_OVERHEAD_PER_QUERY_CALL;
    return response;
  }
}

function rejectTarget(callback: Callback): { fun: number; env: number } {
  return { fun: callback.rejectFun, env: callback.rejectEnv };
}

function noQueryMethod(canisterText: string, method: string): Response {
  return {
    kind: 'reject',
    reject: plainReject(
      RejectCode.CanisterError,
      ErrorCode.CanisterMethodNotFound,
      `Error from Canister ${canisterText}: Canister has no query method '${method}'.`
    )
  };
}
