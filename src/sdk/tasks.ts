/** Task pricing, submission, reading and polling at the registry: the task calls behind DeaiClient. */
import type { TaskState } from '../core/tasks/states.js';
import { opt } from '../interface/candid.js';
import type { RegistryActor as RequesterRegistry } from '../ic/requester.js';
import type { Clock } from './connect.js';
import { toFindRequest, toTask, toTaskQuote } from './convert.js';
import { call, DeaiError, unwrap } from './errors.js';
import type { ReadyResult, SubmitTaskOptions, Task, TaskRequest, WaitOptions } from './task-types.js';
import type { RunnerRequest, TaskQuote } from './types.js';

const DEFAULT_DEADLINE_MS = 3_600_000;
const DEFAULT_MAX_OUTPUT_TOKENS = 512;
const FAILED_STATES: ReadonlySet<TaskState> = new Set(['failed', 'expired', 'rejected']);
const RESULT_STATES: ReadonlySet<TaskState> = new Set(['review', 'accepted']);

/** What the task calls need from the client. */
export interface TaskCallDeps {
  registry: RequesterRegistry;
  clock: Clock;
  /** Approves the registry for reward + fee unless the current allowance already covers it. */
  ensureAllowance(rewardE8s: bigint): Promise<void>;
  /** Reads one task (the client's own `getTask`, which `waitForResult` polls). */
  getTask(id: string): Promise<Task>;
}

/** Prices a task at the live runners' posted prices (see `DeaiClient.quoteTask`). */
export async function quoteTask(
  deps: Pick<TaskCallDeps, 'registry'>,
  options: { model: string; prompt?: string; maxOutputTokens: number; redundancy?: number }
): Promise<TaskQuote> {
  const inputBytes = options.prompt === undefined ? undefined : new TextEncoder().encode(options.prompt).length;
  const reply = await call('quote_task', () =>
    deps.registry.quote_task({
      request: toFindRequest({ model: options.model }),
      input_bytes: inputBytes === undefined ? [] : [inputBytes],
      max_output_tokens: options.maxOutputTokens,
      redundancy: options.redundancy === undefined ? [] : [options.redundancy]
    })
  );
  return toTaskQuote(unwrap('quote_task', reply));
}

/** Approves the reward when needed, then escrows it and queues the task (see `DeaiClient.submitTask`). */
export async function submitTask(deps: TaskCallDeps, options: SubmitTaskOptions): Promise<Task> {
  await deps.ensureAllowance(options.rewardE8s);
  const deadlineNs = BigInt(deps.clock.nowMs() + (options.deadlineMs ?? DEFAULT_DEADLINE_MS)) * 1_000_000n;
  const result = await call('submit_task', () =>
    deps.registry.submit_task({
      idempotency_key: options.idempotencyKey ?? globalThis.crypto.randomUUID(),
      request: toFindRequest({
        ...taskRequestOf(options.request),
        model: options.model,
        ...(options.digests === undefined ? {} : { digests: options.digests })
      }),
      input: { inline: [options.prompt], digest: [], reference: [] },
      limits: {
        max_output_tokens: options.maxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS,
        temperature: opt(options.temperature),
        seed: opt(options.seed)
      },
      reward_e8s: options.rewardE8s,
      deadline_ns: deadlineNs,
      redundancy: opt(options.redundancy),
      refund_subaccount: []
    })
  );
  return toTask(unwrap('submit_task', result));
}

/** The task as the registry holds it; throws DeaiError `NotFound` for an unknown id. */
export async function getTask(deps: Pick<TaskCallDeps, 'registry'>, id: string): Promise<Task> {
  const task = (await call('get_task', () => deps.registry.get_task(id)))[0];
  if (task === undefined) throw new DeaiError('NotFound', `Task ${id} does not exist`, { kind: { Task: null }, id });
  return toTask(task);
}

/** Polls the task until the caller may read a result, it fails, or `timeoutMs` passes (see `DeaiClient.waitForResult`). */
export async function waitForResult(deps: TaskCallDeps, id: string, options: WaitOptions = {}): Promise<ReadyResult> {
  const timeoutMs = options.timeoutMs ?? 300_000;
  const pollMs = options.pollMs ?? 1_000;
  const endsAtMs = deps.clock.nowMs() + timeoutMs;
  let last: string | undefined;
  for (;;) {
    const task = await deps.getTask(id);
    const seen = `${task.state}\u0000${task.outcome ?? ''}`;
    if (seen !== last) {
      last = seen;
      options.onProgress?.(task.state, task.outcome === undefined ? {} : { outcome: task.outcome });
    }
    // The first result the caller may read (the registry seals other runners' results until the task settles); in
    // review only a readable one, since more results or votes may still come; once accepted, any.
    const readable = task.results.find((r) => r.output !== undefined || r.reference !== undefined);
    const first = readable ?? (task.state === 'accepted' ? task.results[0] : undefined);
    if (RESULT_STATES.has(task.state) && first !== undefined) {
      const { atNs: _atNs, firstTokenMs: _firstTokenMs, ...result } = first;
      return { taskId: task.id, state: task.state, ...result };
    }
    if (FAILED_STATES.has(task.state)) {
      throw new DeaiError(
        'TaskFailed',
        `Task ${id} ended ${task.state}: ${task.outcome ?? 'no outcome given'}`,
        { state: task.state, ...(task.outcome === undefined ? {} : { outcome: task.outcome }) },
        { retryable: false }
      );
    }
    const leftMs = endsAtMs - deps.clock.nowMs();
    if (leftMs <= 0)
      throw new DeaiError('Timeout', `Task ${id} has no result after ${timeoutMs} ms (state ${task.state})`, {
        state: task.state,
        timeoutMs
      });
    await deps.clock.sleep(Math.min(pollMs, leftMs));
  }
}

/** A task's routing constraints, without a model or limit a JavaScript caller may have left in (the model is given apart). */
function taskRequestOf(request: TaskRequest | undefined): TaskRequest {
  if (request === undefined) return {};
  const full: RunnerRequest = request;
  const { model: _model, limit: _limit, ...constraints } = full;
  return constraints;
}
