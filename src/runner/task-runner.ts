/** Runs a claimed task on the engine and reports the outcome to the registry, each step bounded by this runner's lease. */
import type { Principal } from '@dfinity/principal';

import { MAX_OUTPUT_BYTES, MAX_REASON_LENGTH } from '../core/tasks/limits.js';
import { outputTokenBound } from '../core/tasks/usage.js';
import type { RegistryActor } from '../ic/registry.js';
import { type RegistryError, type Result as RegistryResult, type TaskView } from '../interface/registry/index.js';
import { variantOf } from '../interface/candid.js';
import { execute, ExecutionError, type Execution } from '../inference/chat-stream.js';
import type { RunnerMetrics } from './metrics.js';

/** The runner node's options a task run needs (the node's own options extend these). */
export interface TaskRunOptions {
  registry: RegistryActor;
  principal: Principal;
  /** The inference server the tasks run on (OpenAI-compatible chat endpoint). */
  engineUrl: string;
  /** The id the engine serves the model under (llama.cpp `--alias`). */
  engineModel: string;
  fetch?: typeof fetch;
  /**
   * How long before its lease ends a task's engine request is aborted, leaving that long to report the failure
   * (default {@link defaultLeaseMarginMs}: 5% of the lease, at least 2 s).
   */
  leaseMarginMs?: number;
  /** Output cap in UTF-8 bytes (default and maximum: the registry's `MAX_OUTPUT_BYTES`, what complete_task accepts). */
  maxOutputBytes?: number;
}

/** The node's effects, already resolved to their defaults. */
export interface TaskRunEffects {
  metrics: RunnerMetrics;
  log: (event: string, fields?: Record<string, unknown>) => void;
  sleep: (ms: number) => Promise<void>;
  now: () => number;
}

/** 5% of the lease, at least 2 s: time enough to report a failure before the registry would refuse it. */
export const defaultLeaseMarginMs = (leaseMs: number): number => Math.max(2_000, Math.round(leaseMs * 0.05));

/** The abort reason, and the failure reported, when a slow engine would outlast the lease. */
export const LEASE_ENDED_REASON = 'lease ended before the engine finished';

const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);
/** A registry error as JSON (bigints as decimal text), for logs and failure reasons. */
export const describeErr = (e: RegistryError): string => JSON.stringify(e, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));

/** Runs the tasks a runner node claimed, one call of {@link TaskRunner.run} per task. */
export class TaskRunner {
  private readonly metrics: RunnerMetrics;
  private readonly log: (event: string, fields?: Record<string, unknown>) => void;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;

  constructor(
    private readonly options: TaskRunOptions,
    effects: TaskRunEffects
  ) {
    this.metrics = effects.metrics;
    this.log = effects.log;
    this.sleep = effects.sleep;
    this.now = effects.now;
  }

  /** Runs `task` on the engine and reports the outcome: its completion, or its failure and why. */
  async run(task: TaskView): Promise<void> {
    const prompt = task.input.inline[0];
    this.log('task-claimed', { task: task.id, model: task.model });
    if (prompt === undefined) {
      await this.reportFailure(task, 'inputs by reference are not supported by this runner');
      return;
    }
    let execution: Execution;
    try {
      execution = await this.executeWithinLease(task, prompt);
    } catch (error) {
      const reason =
        error instanceof ExecutionError ? `${error.code}: ${error.message}` : error instanceof Error ? error.message : String(error);
      this.log('task-failed', { task: task.id, reason });
      await this.reportFailure(task, reason);
      return;
    }
    if (execution.truncated !== undefined)
      this.log('task-output-truncated', { task: task.id, cap: execution.truncated, bytes: execution.output.length });
    const reported = await this.report(task, () =>
      this.options.registry.complete_task(task.id, {
        output_digest: execution.outputDigest,
        output: [execution.output],
        reference: [],
        input_tokens: execution.inputTokens,
        // The registry bounds output tokens by the output's bytes (tokens an engine keeps out of the content, such as
        // hidden reasoning, cannot be checked, so they are not billed): report at most that, not a refusal.
        output_tokens: min(execution.outputTokens, outputTokenBound(task.limits.max_output_tokens, execution.output)),
        first_token_ms: execution.firstTokenMs,
        total_ms: execution.totalMs
      })
    );
    if (reported === undefined) return; // abandoned: the lease ended before the registry could be reached
    if ('Err' in reported) {
      // Not a completion: the registry kept no result, so the lease is given back with the refusal as the reason.
      const variant = variantOf(reported.Err).name;
      this.metrics.completionsRefused.inc({ error: variant });
      this.log('task-completion-refused', { task: task.id, error: variant, detail: describeErr(reported.Err) });
      await this.reportFailure(task, `complete_task refused: ${variant} ${describeErr(reported.Err)}`);
      return;
    }
    this.metrics.completed.inc();
    this.metrics.tokens.inc({ kind: 'input' }, Number(execution.inputTokens));
    this.metrics.tokens.inc({ kind: 'output' }, Number(execution.outputTokens));
    this.metrics.taskSeconds.observe(execution.totalMs / 1000);
    this.metrics.firstTokenSeconds.observe(execution.firstTokenMs / 1000);
    this.log('task-completed', { task: task.id, outputTokens: Number(execution.outputTokens), totalMs: Math.round(execution.totalMs) });
  }

  /** fail_task with `reason` (cut to what the registry accepts), counted as failed whatever the registry answers. */
  private async reportFailure(task: TaskView, reason: string): Promise<void> {
    const reported = await this.report(task, () => this.options.registry.fail_task(task.id, reason.slice(0, MAX_REASON_LENGTH)));
    if (reported !== undefined && 'Err' in reported) this.log('report-refused', { task: task.id, error: describeErr(reported.Err) });
    this.metrics.failed.inc();
  }

  /** When this runner's lease on `task` ends (ms since the epoch), and how long it is. */
  private leaseOf(task: TaskView): { endsMs: number; lengthMs: number } {
    const lease = task.leases.find((l) => l.runner.toText() === this.options.principal.toText());
    const endsNs = lease?.expires_at_ns ?? task.deadline_ns;
    return { endsMs: Number(endsNs / 1_000_000n), lengthMs: Number((endsNs - (lease?.claimed_at_ns ?? task.created_at_ns)) / 1_000_000n) };
  }

  /**
   * Runs the task on the engine, aborting the engine request `leaseMarginMs` before the lease ends: a slow engine
   * must not hold a slot (nor the task) past the lease, and the margin leaves time to report the failure.
   */
  private async executeWithinLease(task: TaskView, prompt: string): Promise<Execution> {
    const lease = this.leaseOf(task);
    const marginMs = this.options.leaseMarginMs ?? defaultLeaseMarginMs(lease.lengthMs);
    const abortAtMs = lease.endsMs - marginMs;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(LEASE_ENDED_REASON), Math.max(0, abortAtMs - this.now()));
    try {
      return await this.executeWithRetry(task, prompt, abortAtMs, controller.signal);
    } catch (error) {
      if (controller.signal.aborted)
        throw new Error(`${LEASE_ENDED_REASON} (the engine request was aborted ${marginMs} ms before the lease end)`, { cause: error });
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** A retryable engine failure (restart, 5xx, dropped stream) is retried while the lease lasts. */
  private async executeWithRetry(task: TaskView, prompt: string, abortAtMs: number, signal: AbortSignal): Promise<Execution> {
    let backoff = 250;
    for (;;) {
      try {
        return await execute(
          {
            baseUrl: this.options.engineUrl,
            model: this.options.engineModel,
            prompt,
            maxOutputTokens: task.limits.max_output_tokens,
            maxOutputBytes: Math.min(this.options.maxOutputBytes ?? MAX_OUTPUT_BYTES, MAX_OUTPUT_BYTES),
            temperature: task.limits.temperature[0],
            seed: task.limits.seed[0],
            signal,
            onFirstToken: () => this.log('task-first-token', { task: task.id })
          },
          this.options.fetch
        );
      } catch (error) {
        if (!(error instanceof ExecutionError) || !error.retryable || this.now() + backoff >= abortAtMs) throw error;
        this.log('task-retry', { task: task.id, error: error.message, retryInMs: backoff });
        await this.sleep(backoff);
      }
      backoff = Math.min(backoff * 2, 5_000);
    }
  }

  /**
   * Reports until the registry answers, for as long as the lease lasts (the IC network may be restarting).
   * complete_task and fail_task are idempotent (a second report returns the first), so retrying after a lost reply
   * cannot double-report; after the lease has ended the registry would refuse the report anyway.
   */
  private async report<T>(task: TaskView, call: () => Promise<RegistryResult<T>>): Promise<RegistryResult<T> | undefined> {
    const leaseEndsMs = this.leaseOf(task).endsMs;
    let backoff = 500;
    for (;;) {
      try {
        return await call();
      } catch (error) {
        if (this.now() + backoff > leaseEndsMs) {
          this.log('report-abandoned', {
            task: task.id,
            error: String(error),
            reason: 'the lease ended before the registry could be reached'
          });
          return undefined;
        }
        this.log('report-retry', { task: task.id, error: String(error), retryInMs: backoff });
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, 10_000);
      }
    }
  }
}
