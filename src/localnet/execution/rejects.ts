import type { Principal } from '@dfinity/principal';

import { ErrorCode, RejectCode, reject, rejectCodeOf, trapMessage, type Reject } from '../errors.js';
import type { Canister, ExecutionOutcome } from './canister.js';
import type { Response } from './context.js';

/** The reject a trapped execution produces, worded like the replica's. */
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
