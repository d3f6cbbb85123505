import { CodedError } from '../core/errors/coded-error.js';

/**
 * Errors of the runner node: a stable code, whether a retry may help, and the cause. Retry loops
 * look at `retryable` and `code`, never at the message.
 */
export type RunnerErrorCode =
  /** Connection refused, reset or closed before a full response arrived. */
  | 'EngineUnreachable'
  /** No complete response within the probe's `timeoutMs`. */
  | 'EngineTimeout'
  /** The engine answered that it is dead (vLLM `/health` 503); it must be restarted. */
  | 'EngineDead'
  /** The GGUF file cannot be opened or is not a GGUF file the parser understands. */
  | 'GgufUnreadable'
  /** The GGUF header parses but lacks a fact the runner needs (architecture, context length, file type). */
  | 'GgufIncomplete'
  /** The weights file could not be read while hashing it. */
  | 'DigestFailed'
  /** A hardware tool (nvidia-smi, rocm-smi) ran but printed something the probe cannot read. */
  | 'HardwareProbeFailed'
  /** The operator's manifest is not a valid partial manifest, or the reconciled one is invalid. */
  | 'ManifestInvalid'
  /** The operator's manifest says something the probes measured otherwise. */
  | 'ManifestContradictsProbe'
  /** A card published for the served weights (same id and digest) states facts the runner measured otherwise. */
  | 'PublishedCardContradicts'
  /** llama-server reports loading a weights file the runner cannot read, so it cannot hash what is served. */
  | 'ServedModelUnreadable'
  /** The registry refused to publish the card or to register the runner. */
  | 'RegistrationRefused'
  /** Registration needs a runner bond the runner's identity could not approve (no funds for the approval's fee). */
  | 'BondNotApproved';

const RETRYABLE: ReadonlySet<RunnerErrorCode> = new Set(['EngineUnreachable', 'EngineTimeout']);

/** One problem behind an error: where it is, and for contradictions what was declared versus measured. */
export interface RunnerIssue {
  path: string;
  message: string;
  declared?: unknown;
  probed?: unknown;
}

export class RunnerError extends CodedError<RunnerErrorCode, { issues: readonly RunnerIssue[] }> {
  readonly issues: readonly RunnerIssue[];

  constructor(code: RunnerErrorCode, message: string, options?: { cause?: unknown; issues?: readonly RunnerIssue[] }) {
    const issues = options?.issues ?? [];
    super(code, message, { cause: options?.cause, retryable: RETRYABLE.has(code), details: { issues } });
    this.name = 'RunnerError';
    this.issues = issues;
  }
}

/** The message of any thrown value, for wrapping it in a coded error. */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
