import { CodedError } from '../core/errors/coded-error.js';

/** Failures of the `deai` commands themselves (not of the network or the canisters they call). */
export type CliErrorCode =
  /** `identity new/import` would replace an existing key file without --force. */
  | 'IdentityExists'
  /** `identity import` was given a PEM path that does not exist. */
  | 'IdentityMissing'
  /** `localnet stop` could not signal the network's process. */
  | 'StopFailed'
  /** `localnet stop`: the network's process still ran when --timeout passed. */
  | 'StopTimeout'
  /** No --registry and no id recorded by `deai deploy` in the project. */
  | 'RegistryUnknown'
  /** A manifest file could not be read. */
  | 'ManifestNotFound'
  /** A manifest file is larger than the registry accepts (read no further than that). */
  | 'ManifestTooLarge';

const RETRYABLE: ReadonlySet<CliErrorCode> = new Set(['StopTimeout']);

export class CliError extends CodedError<CliErrorCode> {
  constructor(code: CliErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, { ...options, retryable: RETRYABLE.has(code) });
    this.name = 'CliError';
  }
}
