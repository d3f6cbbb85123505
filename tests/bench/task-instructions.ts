/**
 * Instructions per task (issue 16: "bench:tasks reports tasks/s and instructions per task"): one requester and one
 * runner take `tasks` tasks through submit → claim → complete → accept → paid on an in-process localnet, whose
 * execution events give each message's instruction count; the sum over registry and ledger messages (timers
 * included, since they do the settling and paying) divided by the tasks, and the ledger blocks per task.
 */
import { Localnet } from '../../src/localnet/localnet.ts';
import { okOf } from '../support/registry.ts';
import { payoutsOf, processTasks, resultArgs, taskNetwork } from '../support/tasks.ts';
import { row } from './report.ts';

const M = (n: bigint): string => `${(Number(n) / 1e6).toFixed(1)}M`;

export async function instructionRows(tasks: number): Promise<void> {
  const localnet = await Localnet.start({ port: 0, stateDir: null });
  try {
    const t = await taskNetwork(localnet);
    const requester = await t.requester(BigInt(tasks + 2) * 1_100_000n, BigInt(tasks + 2) * 1_100_000n);
    const runner = await t.runner(Math.max(2, tasks));
    const asRequester = await t.tasks(requester);
    const asRunner = await t.tasks(runner);
    const spent = { registry: 0n, ledger: 0n, messages: 0 };
    const registry = t.registry.toText();
    const ledger = t.ledger.toText();
    localnet.onExecution((e) => {
      if (e.canisterId === registry) spent.registry += e.instructions;
      else if (e.canisterId === ledger) spent.ledger += e.instructions;
      else return;
      spent.messages += 1;
    });
    const blocksBefore = await blockCount(t);
    for (let i = 0; i < tasks; i++) {
      const task = okOf(await asRequester.submit_task(t.submitArgs(`instructions-${i}`)));
      okOf(await asRunner.claim_task([task.id]));
      okOf(await asRunner.complete_task(task.id, resultArgs(`answer ${i}`)));
      okOf(await asRequester.accept_task(task.id));
    }
    for (let pass = 0; pass < 20 && (await payoutsOf(t)).length > 0; pass++) await processTasks(t);
    const blocks = (await blockCount(t)) - blocksBefore;
    const n = BigInt(tasks);
    row(
      `instructions per task (submit → paid, timers included; ${tasks} tasks, in-process localnet)`,
      `${M((spent.registry + spent.ledger) / n)}: registry ${M(spent.registry / n)}, ledger ${M(spent.ledger / n)}; ${(spent.messages / tasks).toFixed(1)} messages and ${(Number(blocks) / tasks).toFixed(1)} ledger blocks per task`
    );
  } finally {
    await localnet.stop();
  }
}

async function blockCount(t: Awaited<ReturnType<typeof taskNetwork>>): Promise<bigint> {
  const reply = await (await t.token(t.admin)).icrc3_get_blocks([{ start: 0n, length: 0n }]);
  return reply.log_length;
}
