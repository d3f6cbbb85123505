/** Errors of the IC client layer: a stable code, whether a retry may help, and the cause. */
export type IcErrorCode =
  'IdentityNotFound' | 'IdentityInvalid' | 'NetworkUnreachable' | 'CallRejected' | 'BuildFailed' | 'ConfigInvalid' | 'DeployFailed';

const RETRYABLE: ReadonlySet<IcErrorCode> = new Set(['NetworkUnreachable']);

export class IcError extends Error {
  readonly retryable: boolean;

  constructor(
    readonly code: IcErrorCode,
    message: string,
    options?: { cause?: unknown }
  ) {
    super(message, options);
    this.name = 'IcError';
    this.retryable = RETRYABLE.has(code);
  }
}
