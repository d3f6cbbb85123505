import { CodedError } from '../core/errors/coded-error.js';

/**
 * Reject codes and error codes of the IC interface specification ("Reject codes") and the replica's ErrorCode enum.
 * A canister-level failure is always one of these, never a thrown host exception.
 */
export const RejectCode = {
  SysFatal: 1,
  SysTransient: 2,
  DestinationInvalid: 3,
  CanisterReject: 4,
  CanisterError: 5,
  SysUnknown: 6
} as const;
export type RejectCode = (typeof RejectCode)[keyof typeof RejectCode];

export const ErrorCode = {
  CanisterNotFound: 'IC0301',
  CanisterRejectedMessage: 'IC0406',
  CanisterOutOfCycles: 'IC0207',
  CanisterTrapped: 'IC0502',
  CanisterCalledTrap: 'IC0503',
  CanisterContractViolation: 'IC0504',
  CanisterDidNotReply: 'IC0506',
  CanisterStopped: 'IC0508',
  CanisterStopping: 'IC0509',
  CanisterNotStopped: 'IC0510',
  CanisterInvalidController: 'IC0512',
  CanisterNonEmpty: 'IC0514',
  CanisterInstructionLimitExceeded: 'IC0522',
  QueryCallGraphTooDeep: 'IC0525',
  QueryCallGraphTotalInstructionLimitExceeded: 'IC0526',
  CompositeQueryCalledInReplicatedMode: 'IC0527',
  CanisterMethodNotFound: 'IC0536',
  CanisterWasmModuleNotFound: 'IC0537',
  CanisterInvalidWasm: 'IC0505',
  CanisterAlreadyInstalled: 'IC0538',
  InvalidManagementPayload: 'IC0408',
  CanisterRejectedByUser: 'IC0406',
  DeadlineExpired: 'IC0601'
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** A rejection as it travels through the host: code, message and the replica's error code. */
export interface Reject {
  code: RejectCode;
  message: string;
  errorCode: string;
  /**
   * What a calling canister reads through ic0.msg_reject_msg when it differs from the replica's default,
   * `<error code>: <message>` (a UserError's Display): a canister's own msg_reject text, routing failures.
   */
  canisterMessage?: string;
}

/** A reject as the replica builds it from a UserError: the reject code is the error code's class (IC0536 → 5). */
export function reject(errorCode: string, message: string): Reject {
  return { code: rejectCodeOf(errorCode), errorCode, message };
}

/** A reject that reaches a calling canister with exactly this text (no error-code prefix), as the replica sends it. */
export function plainReject(code: RejectCode, errorCode: string, message: string): Reject {
  return { code, errorCode, message, canisterMessage: message };
}

/** The text a calling canister reads for `r` (ic0.msg_reject_msg_copy). */
export function canisterRejectMessage(r: Reject): string {
  return r.canisterMessage ?? `${r.errorCode}: ${r.message}`;
}

/** The first digit of an IC error code is its reject code (IC0503 → 5). */
export function rejectCodeOf(errorCode: string): RejectCode {
  const digit = Number(errorCode.charAt(3));
  return (digit >= 1 && digit <= 6 ? digit : RejectCode.CanisterError) as RejectCode;
}

/** Thrown by the system API (or the metering import) to stop a Wasm execution; the engine turns it into a Reject. */
export class CanisterTrap extends CodedError<ErrorCode, { detail: string }> {
  constructor(
    readonly errorCode: ErrorCode,
    readonly detail: string
  ) {
    // The code is the replica's error code (IC0503 ...): the trap becomes a Reject carrying it.
    super(errorCode, detail, { details: { detail } });
    this.name = 'CanisterTrap';
  }
}

/** The replica's wording for a trap, so tools that grep for it behave the same. */
export function trapMessage(canisterId: string, errorCode: string, detail: string): string {
  switch (errorCode) {
    case ErrorCode.CanisterCalledTrap:
      return `Error from Canister ${canisterId}: Canister called \`ic0.trap\` with message: '${detail}'.\nConsider gracefully handling failures from this canister or altering the canister to handle exceptions. See documentation: https://internetcomputer.org/docs/current/references/execution-errors#trapped-explicitly`;
    case ErrorCode.CanisterInstructionLimitExceeded:
      return `Error from Canister ${canisterId}: Canister exceeded the limit of ${detail} instructions for single message execution.\nConsider optimizing the code or splitting the work across several messages. See documentation: https://internetcomputer.org/docs/current/references/execution-errors#instruction-limit-exceeded`;
    case ErrorCode.CanisterContractViolation:
      return `Error from Canister ${canisterId}: Canister violated contract: ${detail}`;
    case ErrorCode.CanisterDidNotReply:
      return `Canister ${canisterId} did not reply to the call`;
    default:
      return `Error from Canister ${canisterId}: Canister trapped: ${detail}`;
  }
}
