/**
 * The accept_task that crosses an epoch's end with a full credit table (issue 16: the epoch's close is bounded): `pairs`
 * fresh requesters each have one task accepted at one of the runners (MAX_OPERATOR_CREDITS pairs per runner), which
 * fills the epoch's keyed credits; then one more task waits in review, time crosses the epoch's end (no timer falls
 * due in between) and its requester accepts it. The localnet's execution events give that
 * message's instructions, and the largest registry message of the maintenance passes that settle the ended epoch.
 */
import type { ExecutionEvent } from '../../src/localnet/execution/messages.ts';
import { Localnet } from '../../src/localnet/localnet.ts';
import { MAX_OPERATOR_CREDITS } from '../../src/core/rewards/emission.ts';
import { okOf } from '../support/registry.ts';
import { processTasks, resultArgs, taskNetwork, type TaskNetwork } from '../support/tasks.ts';
import { row } from './report.ts';

const SECOND_NS = 1_000_000_000n;
const EPOCH_NS = 60n * SECOND_NS;
const M = (n: bigint): string => `${(Number(n) / 1e6).toFixed(1)}M`;
const PARALLEL = 16;

export async function epochCloseRows(pairs: number): Promise<void> {
  const net = await Localnet.start({ port: 0, stateDir: null });
  try {
    net.freezeTime();
    const t = await taskNetwork(net, { emissionPerEpoch: 1_000_000_000n, epochSeconds: EPOCH_NS / SECOND_NS });
    // Just after an hour boundary (also a 60 s one): the epoch opened before epoch_seconds was set may run an hour. Time
    // is frozen, so the seeding falls in one 60 s epoch however long it takes.
    const hourNs = 3600n * SECOND_NS;
    await net.advanceTime(Number((hourNs - (net.engine.now() % hourNs)) / 1_000_000n) + 1_000);
    await processTasks(t);
    const runners = await Promise.all(Array.from({ length: Math.ceil(pairs / MAX_OPERATOR_CREDITS) + 1 }, () => t.runner(PARALLEL)));
    const last = runners.pop()!;
    for (let start = 0; start < pairs; start += PARALLEL)
      await Promise.all(
        Array.from({ length: Math.min(PARALLEL, pairs - start) }, (_, i) =>
          acceptedTask(t, runners[Math.floor((start + i) / MAX_OPERATOR_CREDITS)]!, `seed-${start + i}`)
        )
      );
    // The crossing task waits in review; time stops 1 ms before the epoch's end (timers due by then run; each message
    // moves a frozen canister clock by 1 ns), then crosses it with no timer due in between.
    const requester = await t.tasks(await t.requester(2_000_000n, 2_000_000n));
    const task = okOf(await requester.submit_task(t.submitArgs('crossing')));
    const asRunner = await t.tasks(last);
    okOf(await asRunner.claim_task([task.id]));
    okOf(await asRunner.complete_task(task.id, resultArgs('answer')));
    const endNs = net.engine.now() - (net.engine.now() % EPOCH_NS) + EPOCH_NS;
    net.engine.advanceTime(endNs - 1_000_000n - net.engine.now());
    await net.tick();
    net.engine.advanceTime(1_000_000n);
    const registry = t.registry.toText();
    const events: ExecutionEvent[] = [];
    net.onExecution((e) => {
      if (e.canisterId === registry) events.push(e);
    });
    okOf(await requester.accept_task(task.id));
    const accept = events
      .filter((e) => e.entry.includes('accept_task'))
      .reduce((max, e) => (e.instructions > max ? e.instructions : max), 0n);
    events.length = 0;
    for (let pass = 0; pass < 6; pass++) await net.advanceTime(5_000);
    const largest = events.reduce((max, e) => (e.instructions > max ? e.instructions : max), 0n);
    row(
      `accept_task crossing an epoch's end with ${pairs} credited pairs (the close settles in timer steps)`,
      `${M(accept)} instructions; largest registry message of the next 6 maintenance passes (tick with the close's steps, and the seeding's payouts) ${M(largest)}`
    );
  } finally {
    await net.stop();
  }
}

/** A fresh requester's task, answered by `runner` and accepted: one new credited pair. */
async function acceptedTask(t: TaskNetwork, runner: Awaited<ReturnType<TaskNetwork['runner']>>, key: string): Promise<void> {
  const requester = await t.tasks(await t.requester(2_000_000n, 2_000_000n));
  const asRunner = await t.tasks(runner);
  const task = okOf(await requester.submit_task(t.submitArgs(key)));
  okOf(await asRunner.claim_task([task.id]));
  okOf(await asRunner.complete_task(task.id, resultArgs(`answer ${key}`)));
  okOf(await requester.accept_task(task.id));
}
