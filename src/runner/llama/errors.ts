/** Errors of the llama.cpp toolchain: a stable `code`, and whether a retry can help. */

export type LlamaStep = 'pack' | 'extract' | 'clone' | 'configure' | 'build' | 'generate-model' | 'quantize';

export abstract class LlamaToolchainError extends Error {
  abstract readonly code: string;
  abstract readonly retryable: boolean;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A program the build needs (git, cmake, ninja, tar, npm, python3) is not on PATH. */
export class LlamaToolMissingError extends LlamaToolchainError {
  readonly code = 'LLAMA_TOOL_MISSING';
  readonly retryable = false;

  constructor(
    readonly tool: string,
    options?: { cause?: unknown }
  ) {
    super(`${tool} is required by the llama.cpp toolchain but was not found on PATH`, options);
  }
}

/** A step's command exited non-zero; `outputTail` holds its last output lines. */
export class LlamaCommandFailedError extends LlamaToolchainError {
  readonly code = 'LLAMA_COMMAND_FAILED';
  readonly retryable: boolean;

  constructor(
    readonly step: LlamaStep,
    readonly command: string,
    readonly exitCode: number | null,
    readonly outputTail: string,
    options?: { cause?: unknown }
  ) {
    super(`llama.cpp ${step} failed (${command}, exit ${String(exitCode)}):\n${outputTail}`, options);
    // Only `npm pack` touches the network; every other step fails the same way again.
    this.retryable = step === 'pack';
  }
}

/** Another live process kept the cache lock for longer than the wait allowed. */
export class LlamaCacheLockedError extends LlamaToolchainError {
  readonly code = 'LLAMA_CACHE_LOCKED';
  readonly retryable = true;

  constructor(
    readonly lockPath: string,
    readonly holderPid: number
  ) {
    super(`llama.cpp cache is locked by process ${holderPid} (${lockPath}); wait for it, or delete the lock if it is stale`);
  }
}
