import { chatMessages, taskInputOf, type ChatOptions, type ChatResult } from './chat.js';
import { DeaiError } from './errors.js';
import type { ReadyResult, SubmitTaskOptions, Task, WaitOptions } from './task-types.js';

/** What `chat({ via: 'task' })` needs from the client. */
export interface TaskDeps {
  submitTask(options: SubmitTaskOptions): Promise<Task>;
  waitForResult(id: string, options: WaitOptions): Promise<ReadyResult>;
  accept(id: string): Promise<Task>;
}

/** Escrows the conversation as a task, waits for a runner's result, and accepts it when asked to. */
export async function chatViaTask(deps: TaskDeps, options: ChatOptions): Promise<ChatResult> {
  chatMessages(options);
  if (options.rewardE8s === undefined) {
    throw new DeaiError(
      'InvalidArgument',
      "chat via 'task' needs rewardE8s (see quoteReward), or use via: 'direct'",
      { field: 'rewardE8s', reason: "required with via: 'task'" },
      { retryable: false }
    );
  }
  const task = await deps.submitTask({
    model: options.model,
    prompt: taskInputOf(options),
    rewardE8s: options.rewardE8s,
    ...(options.maxOutputTokens === undefined ? {} : { maxOutputTokens: options.maxOutputTokens }),
    ...(options.temperature === undefined ? {} : { temperature: options.temperature }),
    ...(options.seed === undefined ? {} : { seed: options.seed }),
    // The chat's routing constraints (region, price ceilings, confidential, …) bind the task too.
    ...(options.request === undefined ? {} : { request: options.request })
  });
  const result = await deps.waitForResult(task.id, {
    timeoutMs: options.timeoutMs ?? 300_000,
    onProgress: (state) => options.onProgress?.({ kind: 'task', taskId: task.id, state })
  });
  const state = options.accept === true ? (await deps.accept(task.id)).state : result.state;
  return {
    content: result.output ?? '',
    via: 'task',
    runner: result.runner,
    model: options.model,
    inputTokens: result.inputTokens,
    outputTokens: result.outputTokens,
    taskId: task.id,
    state,
    failedAttempts: []
  };
}
