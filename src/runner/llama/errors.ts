/** Errors of the llama.cpp toolchain: a stable `code`, and whether a retry can help. */
import { CodedError, type CodedErrorOptions } from '../../core/errors/coded-error.ts';

export type LlamaStep = 'pack' | 'extract' | 'clone' | 'configure' | 'build' | 'generate-model' | 'quantize';

export type LlamaToolchainErrorCode =
  | 'LLAMA_TOOL_MISSING'
  | 'LLAMA_COMMAND_FAILED'
  | 'LLAMA_CACHE_LOCKED'
  /** llama-server exited before serving. */
  | 'LLAMA_SERVER_EXITED'
  /** llama-server exited before serving because its port was taken (a subset of what was LLAMA_SERVER_EXITED). */
  | 'LLAMA_SERVER_PORT_IN_USE'
  | 'LLAMA_SERVER_START_TIMEOUT';

export abstract class LlamaToolchainError<
  Code extends LlamaToolchainErrorCode = LlamaToolchainErrorCode,
  Details = unknown
> extends CodedError<Code, Details> {
  constructor(code: Code, message: string, options?: CodedErrorOptions<Details>) {
    super(code, message, options);
  }
}

/** A program the build needs (git, cmake, ninja, tar, npm, python3) is not on PATH. */
export class LlamaToolMissingError extends LlamaToolchainError<'LLAMA_TOOL_MISSING', { tool: string }> {
  constructor(
    readonly tool: string,
    options?: { cause?: unknown }
  ) {
    super('LLAMA_TOOL_MISSING', `${tool} is required by the llama.cpp toolchain but was not found on PATH`, {
      ...options,
      details: { tool }
    });
  }
}

/** A step's command exited non-zero; `outputTail` holds its last output lines. */
export class LlamaCommandFailedError extends LlamaToolchainError<
  'LLAMA_COMMAND_FAILED',
  { step: LlamaStep; command: string; exitCode: number | null; outputTail: string }
> {
  constructor(
    readonly step: LlamaStep,
    readonly command: string,
    readonly exitCode: number | null,
    readonly outputTail: string,
    options?: { cause?: unknown }
  ) {
    super('LLAMA_COMMAND_FAILED', `llama.cpp ${step} failed (${command}, exit ${String(exitCode)}):\n${outputTail}`, {
      ...options,
      // Only `npm pack` touches the network; every other step fails the same way again.
      retryable: step === 'pack',
      details: { step, command, exitCode, outputTail }
    });
  }
}

/** Another live process kept the cache lock for longer than the wait allowed. */
export class LlamaCacheLockedError extends LlamaToolchainError<'LLAMA_CACHE_LOCKED', { lockPath: string; holderPid: number }> {
  constructor(
    readonly lockPath: string,
    readonly holderPid: number
  ) {
    super(
      'LLAMA_CACHE_LOCKED',
      `llama.cpp cache is locked by process ${holderPid} (${lockPath}); wait for it, or delete the lock if it is stale`,
      {
        retryable: true,
        details: { lockPath, holderPid }
      }
    );
  }
}
