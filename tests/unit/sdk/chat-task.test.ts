import { describe, expect, it } from 'vitest';

import { chatViaTask, type TaskDeps } from '../../../src/sdk/chat-task.ts';
import type { ReadyResult, SubmitTaskOptions, Task } from '../../../src/sdk/index.ts';

/** Fake task methods that record what chat via task submits. */
function fakeDeps(): TaskDeps & { submitted: SubmitTaskOptions[] } {
  const submitted: SubmitTaskOptions[] = [];
  const task = { id: 'task-1', state: 'queued' } as const;
  return {
    submitted,
    submitTask: (options) => {
      submitted.push(options);
      return Promise.resolve(task as unknown as Task);
    },
    waitForResult: () =>
      Promise.resolve({
        taskId: 'task-1',
        state: 'review',
        runner: 'r',
        outputDigest: 'sha256:x',
        output: 'hi',
        inputTokens: 1n,
        outputTokens: 1n,
        totalMs: 1
      } satisfies ReadyResult),
    accept: () => Promise.resolve(task as unknown as Task)
  };
}

describe('chat via task', () => {
  it("passes the chat request's routing constraints (region, price ceilings, confidential, …) to the task", async () => {
    const deps = fakeDeps();
    const request = {
      region: 'eu-west',
      maxInputPricePerMillion: 2_000n,
      maxOutputPricePerMillion: 6_000n,
      confidentialRequired: true,
      quantizations: ['Q4_K_M'],
      minContext: 8192n,
      affinityKey: 'session-1'
    };
    await chatViaTask(deps, { model: 'org/model', prompt: 'Hi', rewardE8s: 1_000_000n, request });
    expect(deps.submitted).toEqual([expect.objectContaining({ model: 'org/model', rewardE8s: 1_000_000n, request })]);
  });

  it('submits no constraints when the chat names none', async () => {
    const deps = fakeDeps();
    await chatViaTask(deps, { model: 'org/model', prompt: 'Hi', rewardE8s: 1_000_000n });
    expect(deps.submitted[0]?.request).toBeUndefined();
  });
});
