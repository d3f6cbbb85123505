import { CodedError } from '../core/errors/coded-error.js';

/** Errors of the IC client layer: a stable code, whether a retry may help, and the cause. */
export type IcErrorCode =
  'IdentityNotFound' | 'IdentityInvalid' | 'NetworkUnreachable' | 'CallRejected' | 'BuildFailed' | 'ConfigInvalid' | 'DeployFailed';

const RETRYABLE: ReadonlySet<IcErrorCode> = new Set(['NetworkUnreachable']);

export class IcError extends CodedError<IcErrorCode> {
  constructor(code: IcErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, { ...options, retryable: RETRYABLE.has(code) });
    this.name = 'IcError';
  }
}
