import type { Principal } from '@dfinity/principal';

import { ErrorCode, reject, type Reject } from '../errors.js';
import { ExecutionContext, type Response } from './context.js';
import type { Engine } from './engine.js';
import { QueryCallGraph, type QueryHost } from './composite-query.js';
import { notFound, rejectResponse, trapReject } from './rejects.js';

export interface QueryRequest {
  canisterId: Principal;
  method: string;
  arg: Uint8Array;
  sender: Principal;
}

/** A non-replicated query: runs against committed state and changes nothing. */
export function runQuery(engine: Engine, request: QueryRequest): Response {
  const builtin = engine.builtins.get(request.canisterId.toText());
  if (builtin !== undefined) {
    if (builtin.query === undefined) {
      return rejectResponse(
        ErrorCode.CanisterMethodNotFound,
        `Canister ${request.canisterId.toText()} has no query method '${request.method}'`
      );
    }
    try {
      return builtin.query(engine, request);
    } catch (error) {
      return rejectResponse(
        ErrorCode.InvalidManagementPayload,
        `invalid argument for ${request.method}: ${error instanceof Error ? error.message : String(error)}`
      );
    }
  }
  const canister = engine.getCanister(request.canisterId);
  const unavailable = engine.unavailable(canister, request.canisterId);
  if (unavailable !== undefined || canister === undefined) return { kind: 'reject', reject: unavailable ?? notFound(request.canisterId) };
  const queryExport = `canister_query ${request.method}`;
  const compositeExport = `canister_composite_query ${request.method}`;
  const exportName = canister.hasExport(queryExport) ? queryExport : canister.hasExport(compositeExport) ? compositeExport : undefined;
  if (exportName === undefined) {
    return rejectResponse(
      ErrorCode.CanisterMethodNotFound,
      `Error from Canister ${canister.text}: Canister has no query method '${request.method}'.`
    );
  }
  return new QueryCallGraph(queryHost(engine), engine.dataCertificateFor(canister)).run({
    canister,
    kind: exportName === queryExport ? 'query' : 'composite_query',
    exportName,
    caller: request.sender.toUint8Array(),
    arg: request.arg,
    method: request.method
  });
}

function queryHost(engine: Engine): QueryHost {
  return {
    queryLimit: engine.limits.query,
    now: () => engine.now(),
    getCanister: (id) => engine.getCanister(id),
    unavailable: (canister, id) => engine.unavailable(canister, id),
    builtinQuery: (id, call) => {
      const builtin = engine.builtins.get(id);
      if (builtin === undefined) return undefined;
      return builtin.query === undefined ? null : builtin.query(engine, call);
    },
    run: (canister, execution, limit, entry, options) => engine.run(canister, execution, limit, entry, options)
  };
}

/** Checks done before an ingress message is accepted: a Reject here is a non-replicated rejection. */
export function inspectIngress(engine: Engine, request: QueryRequest): Reject | undefined {
  const builtin = engine.builtins.get(request.canisterId.toText());
  if (builtin !== undefined) return builtin.inspectIngress?.(engine, request);
  const canister = engine.getCanister(request.canisterId);
  const unavailable = engine.unavailable(canister, request.canisterId);
  if (unavailable !== undefined || canister === undefined) return unavailable ?? notFound(request.canisterId);
  // A composite query is accepted here and refused when it executes (IC0527), as on the replica.
  const exported = ['canister_update', 'canister_query', 'canister_composite_query'].some((kind) =>
    canister.hasExport(`${kind} ${request.method}`)
  );
  if (!exported) {
    return reject(
      ErrorCode.CanisterMethodNotFound,
      `Error from Canister ${canister.text}: Canister has no update method '${request.method}'.`
    );
  }
  if (!canister.hasExport('canister_inspect_message')) return undefined;
  const context = new ExecutionContext('inspect_message', {
    caller: request.sender.toUint8Array(),
    arg: request.arg,
    methodName: request.method,
    timeNs: engine.now(),
    canRespond: false,
    cyclesAvailable: 0n,
    cyclesRefunded: 0n,
    rejectCode: 0,
    rejectMessage: ''
  });
  const outcome = engine.run(canister, context, engine.limits.inspect, 'canister_inspect_message', { keep: false });
  if (!outcome.ok) return trapReject(canister, outcome);
  if (!context.accepted) {
    return reject(ErrorCode.CanisterRejectedMessage, `Error from Canister ${canister.text}: Canister rejected the message`);
  }
  return undefined;
}
