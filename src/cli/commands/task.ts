import type { Command } from 'commander';

import type { TaskView } from '../../sdk/index.js';
import { clientOptions, connectClient, runClient, type ClientFlags } from '../client.js';
import { e8sOption, positiveIntOption } from '../flags.js';
import { output } from '../output.js';

/** A task as JSON: principals as text, options unwrapped (bigints become strings when printed). */
export function taskJson(task: TaskView): Record<string, unknown> {
  return {
    id: task.id,
    state: task.state,
    model: task.model,
    requester: task.requester.toText(),
    rewardE8s: task.reward_e8s,
    redundancy: task.redundancy,
    deadlineNs: task.deadline_ns,
    createdAtNs: task.created_at_ns,
    leases: task.leases.map((l) => ({ runner: l.runner.toText(), claimedAtNs: l.claimed_at_ns, expiresAtNs: l.expires_at_ns })),
    results: task.results.map((r) => ({
      runner: r.runner.toText(),
      outputDigest: r.output_digest,
      output: r.output[0] ?? null,
      reference: r.reference[0] ?? null,
      inputTokens: r.input_tokens,
      outputTokens: r.output_tokens,
      totalMs: r.total_ms
    })),
    failures: task.failures.map((f) => ({ runner: f.runner.toText(), reason: f.reason })),
    reviewEndsAtNs: task.review_ends_at_ns[0] ?? null,
    outcome: task.outcome[0] ?? null
  };
}

function taskHuman(task: TaskView): string {
  const lines = [`task     ${task.id}`, `state    ${task.state}`, `model    ${task.model}`, `reward   ${task.reward_e8s} e8s`];
  for (const r of task.results) {
    lines.push(`result   from ${r.runner.toText()} (${r.output_tokens} tokens, ${r.total_ms} ms)`);
    if (r.output[0] !== undefined) lines.push(`  ${r.output[0]}`);
  }
  for (const f of task.failures) lines.push(`failure  ${f.runner.toText()}: ${f.reason}`);
  if (task.outcome[0] !== undefined) lines.push(`outcome  ${task.outcome[0]}`);
  return lines.join('\n');
}

interface SubmitFlags extends ClientFlags {
  model: string;
  prompt: string;
  reward: bigint;
  maxTokens?: number;
  wait: boolean;
}

export function registerTask(program: Command): void {
  const task = program.command('task').description('submit paid inference tasks and settle their results');

  clientOptions(task.command('submit').description('escrow a reward and queue a task (approves the registry on the ledger if needed)'))
    .requiredOption('--model <id>', 'model id (a published card)')
    .requiredOption('--prompt <text>', 'the prompt')
    .requiredOption('--reward <e8s>', 'reward escrowed for the task, in e8s', e8sOption)
    .option('--max-tokens <n>', 'most output tokens', positiveIntOption)
    .option('--wait', 'wait for the result', false)
    .action(async (flags: SubmitFlags) =>
      runClient(flags.json, async () => {
        const out = output(flags.json);
        const client = await connectClient(flags);
        const submitted = await client.submitTask({
          model: flags.model,
          prompt: flags.prompt,
          rewardE8s: flags.reward,
          ...(flags.maxTokens === undefined ? {} : { maxOutputTokens: flags.maxTokens })
        });
        if (!flags.wait) {
          out.result(
            `Submitted task ${submitted.id} (${submitted.state}). Follow it with: deai task status ${submitted.id}`,
            taskJson(submitted)
          );
          return;
        }
        out.info(`Submitted task ${submitted.id}; waiting for a result …`);
        await client.waitForResult(submitted.id, { onProgress: (state) => out.info(`  ${state}`) });
        const done = await client.getTask(submitted.id);
        out.result(`${taskHuman(done)}\nAccept it with: deai task accept ${done.id}`, taskJson(done));
      })
    );

  clientOptions(task.command('status <id>').description('show a task and its results')).action(async (id: string, flags: ClientFlags) =>
    runClient(flags.json, async () => {
      const client = await connectClient(flags);
      const view = await client.getTask(id);
      output(flags.json).result(taskHuman(view), taskJson(view));
    })
  );

  clientOptions(task.command('accept <id>').description('accept the result of a task in review (the runners get paid)')).action(
    async (id: string, flags: ClientFlags) =>
      runClient(flags.json, async () => {
        const client = await connectClient(flags);
        const view = await client.accept(id);
        output(flags.json).result(`Task ${view.id} ${view.state}.`, taskJson(view));
      })
  );

  clientOptions(task.command('reject <id>').description('reject the result of a task in review (the reward is refunded)'))
    .requiredOption('--reason <text>', 'why the result is rejected')
    .action(async (id: string, flags: ClientFlags & { reason: string }) =>
      runClient(flags.json, async () => {
        const client = await connectClient(flags);
        const view = await client.reject(id, flags.reason);
        output(flags.json).result(`Task ${view.id} ${view.state}.`, taskJson(view));
      })
    );
}
