import type { Principal } from '@dfinity/principal';

import { ErrorCode, plainReject, reject, RejectCode, trapMessage, type Reject } from '../errors.js';
import { isInCanisterRange } from '../ids.js';
import type { Canister, ExecutionOutcome } from './canister.js';
import type { Response } from './context.js';

/** The reject a trapped execution produces, worded like the replica's. */
export function trapReject(canister: Canister, outcome: Extract<ExecutionOutcome, { ok: false }>): Reject {
  const errorCode = outcome.errorCode;
  return reject(errorCode, trapMessage(canister.text, errorCode, outcome.detail));
}

export function rejectResponse(errorCode: string, message: string): Response {
  return { kind: 'reject', reject: reject(errorCode, message) };
}

/**
 * A message to a canister that does not exist. Inside this subnet's range the replica answers
 * `Canister … not found`; for an id no subnet hosts its stream builder answers `No route to canister …`.
 * Both reach a calling canister as plain reject texts (no error-code prefix).
 */
export function notFound(id: Principal): Reject {
  const text = isInCanisterRange(id) ? `Canister ${id.toText()} not found` : `No route to canister ${id.toText()}`;
  return plainReject(RejectCode.DestinationInvalid, ErrorCode.CanisterNotFound, text);
}
