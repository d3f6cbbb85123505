import type { Command } from 'commander';

import type { Task } from '../../sdk/index.js';
import { clientOptions, connectClient, runClient, type ClientFlags } from '../client.js';
import { e8sOption, positiveIntOption } from '../flags.js';
import { output } from '../output.js';
import { requestOf, requestOptions, type RequestFlags } from '../request-flags.js';

/** A task as JSON: the SDK's Task, with absent options as null (bigints become strings when printed). */
export function taskJson(task: Task): Record<string, unknown> {
  return {
    id: task.id,
    state: task.state,
    model: task.model,
    requester: task.requester,
    rewardE8s: task.rewardE8s,
    redundancy: task.redundancy,
    deadlineNs: task.deadlineNs,
    createdAtNs: task.createdAtNs,
    leases: task.leases.map((l) => ({ runner: l.runner, claimedAtNs: l.claimedAtNs, expiresAtNs: l.expiresAtNs })),
    results: task.results.map((r) => ({
      runner: r.runner,
      outputDigest: r.outputDigest,
      output: r.output ?? null,
      reference: r.reference ?? null,
      inputTokens: r.inputTokens,
      outputTokens: r.outputTokens,
      totalMs: r.totalMs,
      measuredMs: r.measuredMs ?? null,
      costE8s: r.costE8s ?? null
    })),
    failures: task.failures.map((f) => ({ runner: f.runner, reason: f.reason })),
    reviewEndsAtNs: task.reviewEndsAtNs ?? null,
    outcome: task.outcome ?? null
  };
}

function taskHuman(task: Task): string {
  const lines = [`task     ${task.id}`, `state    ${task.state}`, `model    ${task.model}`, `budget   ${task.rewardE8s} e8s`];
  for (const r of task.results) {
    const cost = r.costE8s === undefined ? '' : `, cost ${r.costE8s} e8s`;
    const ms = r.measuredMs ?? r.totalMs;
    lines.push(`result   from ${r.runner} (${r.inputTokens} in / ${r.outputTokens} out tokens, ${ms} ms${cost})`);
    if (r.output !== undefined) lines.push(`  ${r.output}`);
  }
  for (const f of task.failures) lines.push(`failure  ${f.runner}: ${f.reason}`);
  if (task.outcome !== undefined) lines.push(`outcome  ${task.outcome}`);
  return lines.join('\n');
}

interface QuoteFlags extends ClientFlags {
  model: string;
  prompt?: string;
  maxTokens: number;
  redundancy?: number;
}

interface SubmitFlags extends ClientFlags, RequestFlags {
  model: string;
  prompt: string;
  reward: bigint;
  maxTokens?: number;
  digest?: string[];
  wait: boolean;
}

export function registerTask(program: Command): void {
  const task = program.command('task').description('submit paid inference tasks and settle their results');

  requestOptions(
    clientOptions(task.command('submit').description('escrow a reward and queue a task (approves the registry on the ledger if needed)'))
  )
    .requiredOption('--model <id>', 'model id (a published card)')
    .requiredOption('--prompt <text>', 'the prompt')
    .requiredOption('--reward <e8s>', 'budget escrowed for the task, in e8s (metered cost is paid from it, the rest refunded)', e8sOption)
    .option('--max-tokens <n>', 'most output tokens', positiveIntOption)
    .option('--digest <digest...>', 'only runners serving these weights (sha256:…) may claim the task')
    .option('--wait', 'wait for the result', false)
    .action(async (flags: SubmitFlags) =>
      runClient(flags.json, async () => {
        const out = output(flags.json);
        const client = await connectClient(flags);
        const submitted = await client.submitTask({
          model: flags.model,
          prompt: flags.prompt,
          rewardE8s: flags.reward,
          ...(flags.maxTokens === undefined ? {} : { maxOutputTokens: flags.maxTokens }),
          ...(flags.digest === undefined ? {} : { digests: flags.digest }),
          request: requestOf(flags)
        });
        if (!flags.wait) {
          out.result(
            `Submitted task ${submitted.id} (${submitted.state}). Follow it with: deai task status ${submitted.id}`,
            taskJson(submitted)
          );
          return;
        }
        out.info(`Submitted task ${submitted.id}; waiting for a result …`);
        await client.waitForResult(submitted.id, {
          onProgress: (state, { outcome }) => out.info(outcome === undefined ? `  ${state}` : `  ${state}: ${outcome}`)
        });
        const done = await client.getTask(submitted.id);
        out.result(`${taskHuman(done)}\nAccept it with: deai task accept ${done.id}`, taskJson(done));
      })
    );

  clientOptions(task.command('quote').description('price a task at the live runners’ posted prices: cost, budget to offer, fee'))
    .requiredOption('--model <id>', 'model id (a published card)')
    .option('--prompt <text>', 'the prompt (its size bounds the input tokens; without it, each runner’s context does)')
    .option('--max-tokens <n>', 'most output tokens', positiveIntOption, 256)
    .option('--redundancy <k>', 'runners that must each give a result', positiveIntOption)
    .action(async (flags: QuoteFlags) =>
      runClient(flags.json, async () => {
        const client = await connectClient(flags);
        const q = await client.quoteTask({
          model: flags.model,
          maxOutputTokens: flags.maxTokens,
          ...(flags.prompt === undefined ? {} : { prompt: flags.prompt }),
          ...(flags.redundancy === undefined ? {} : { redundancy: flags.redundancy })
        });
        const human = [
          `model            ${q.model} (${q.eligibleRunners} live runner deployments priced)`,
          `cost             ${q.minCostE8s} e8s cheapest, ${q.medianCostE8s} e8s median (for the most tokens)`,
          `budget to offer  ${q.minBudgetE8s} e8s (cheapest runner), ${q.medianBudgetE8s} e8s (median): pass it as --reward`,
          `protocol fee     ${q.protocolFeeE8s} e8s; unused budget is refunded`,
          `emission         up to ${q.expectedEmissionE8s} e8s`
        ].join('\n');
        output(flags.json).result(human, { ...q });
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

  clientOptions(
    task.command('reject <id>').description('reject the result of a task in review (the work read is still paid; the rest is refunded)')
  )
    .requiredOption('--reason <text>', 'why the result is rejected')
    .action(async (id: string, flags: ClientFlags & { reason: string }) =>
      runClient(flags.json, async () => {
        const client = await connectClient(flags);
        const view = await client.reject(id, flags.reason);
        output(flags.json).result(`Task ${view.id} ${view.state}.`, taskJson(view));
      })
    );
}
