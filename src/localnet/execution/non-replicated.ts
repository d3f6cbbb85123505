import type { Principal } from '@dfinity/principal';

import { ErrorCode, RejectCode, reject, trapMessage, type Reject } from '../errors.js';
import { ExecutionContext, type Response } from './context.js';
import type { Engine } from './engine.js';
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
        RejectCode.CanisterError,
        ErrorCode.CanisterMethodNotFound,
        `Canister ${request.canisterId.toText()} has no query method '${request.method}'`
      );
    }
    try {
      return builtin.query(engine, request);
    } catch (error) {
      return rejectResponse(
        RejectCode.CanisterReject,
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
      RejectCode.CanisterError,
      ErrorCode.CanisterMethodNotFound,
      `Error from Canister ${canister.text}: Canister has no query method '${request.method}'.`
    );
  }
  const context = new ExecutionContext(exportName === queryExport ? 'query' : 'composite_query', {
    caller: request.sender.toUint8Array(),
    arg: request.arg,
    methodName: request.method,
    timeNs: canister.lastTimeNs > engine.now() ? canister.lastTimeNs : engine.now(),
    canRespond: true,
    cyclesAvailable: 0n,
    cyclesRefunded: 0n,
    rejectCode: 0,
    rejectMessage: '',
    dataCertificate: engine.dataCertificateFor(canister)
  });
  const outcome = engine.run(canister, context, engine.limits.query, exportName, { keep: false });
  if (!outcome.ok) return { kind: 'reject', reject: trapReject(canister, outcome) };
  if (context.performedCalls.length > 0) {
    return rejectResponse(
      RejectCode.CanisterError,
      ErrorCode.CanisterContractViolation,
      `Error from Canister ${canister.text}: calls from composite queries are not supported by this localnet`
    );
  }
  return (
    context.response ??
    rejectResponse(RejectCode.CanisterError, ErrorCode.CanisterDidNotReply, trapMessage(canister.text, ErrorCode.CanisterDidNotReply, ''))
  );
}

/** Checks done before an ingress message is accepted: a Reject here is a non-replicated rejection. */
export function inspectIngress(engine: Engine, request: QueryRequest): Reject | undefined {
  const builtin = engine.builtins.get(request.canisterId.toText());
  if (builtin !== undefined) return builtin.inspectIngress?.(engine, request);
  const canister = engine.getCanister(request.canisterId);
  const unavailable = engine.unavailable(canister, request.canisterId);
  if (unavailable !== undefined || canister === undefined) return unavailable ?? notFound(request.canisterId);
  if (!canister.hasExport(`canister_update ${request.method}`) && !canister.hasExport(`canister_query ${request.method}`)) {
    return reject(
      RejectCode.CanisterError,
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
    return reject(
      RejectCode.CanisterReject,
      ErrorCode.CanisterRejectedMessage,
      `Error from Canister ${canister.text}: Canister rejected the message`
    );
  }
  return undefined;
}
