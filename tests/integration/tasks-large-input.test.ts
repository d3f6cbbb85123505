import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { registryInitArgs } from '../../src/interface/registry/index.ts';
import { Localnet } from '../../src/localnet/localnet.ts';
import { okOf, registryWasm } from '../support/registry.ts';
import { meterInstructions, processTasks, resultArgs, taskNetwork, type TaskNetwork } from '../support/tasks.ts';

/**
 * A task with a 250 KiB inline input through its whole life on the built registry Wasm: the input comes back whole
 * at every step, and the steps after submit_task do not rewrite it (canisters/registry/task-records.ts).
 */
/**
 * Instructions (deterministic) with this ~250 KiB input, when every step rewrote the input and now: queueing the task
 * in the escrow's reply callback 1.83B -> 0.91B, complete_task 1.42B -> 0.46B (claim 2.34B -> 1.34B and accept
 * 1.88B -> 0.92B, which reply with the whole task). The ceilings sit halfway.
 */
const QUEUE_CEILING = 1_350_000_000n;
const COMPLETE_CEILING = 950_000_000n;

describe('tasks with large inline inputs', () => {
  let net: Localnet;
  let t: TaskNetwork;
  const spent = new Map<string, bigint>();

  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
    t = await taskNetwork(net);
    meterInstructions(net, t.registry, spent);
  });
  afterAll(async () => {
    await net.stop();
  });

  it('keeps the input whole through submit, claim, complete, accept, payout and an upgrade, and writes it once', async () => {
    const input = `${'Summarise this. '.repeat(16_000)}é`;
    const asker = await t.requester(100_000_000n, 50_000_000n);
    const asRequester = await t.tasks(asker);
    const runner = await t.runner();
    const asRunner = await t.tasks(runner);

    spent.clear();
    const submitted = okOf(await asRequester.submit_task(t.submitArgs('large', { input: { inline: [input], digest: [], reference: [] } })));
    // The escrow's reply callback queues the task: a step after the input was written.
    const queueCost = spent.get('reply_callback') ?? 0n;
    expect(submitted.input.inline).toEqual([input]);
    expect(submitted.state).toBe('queued');
    spent.clear();
    const claimed = okOf(await asRunner.claim_task([submitted.id]));
    expect(claimed.input.inline).toEqual([input]);
    okOf(await asRunner.complete_task(submitted.id, resultArgs('Short.')));
    const completeCost = spent.get('canister_update complete_task') ?? 0n;
    okOf(await asRequester.accept_task(submitted.id));
    await processTasks(t);

    const done = await asRequester.get_task(submitted.id);
    expect(done[0]?.state).toBe('accepted');
    expect(done[0]?.input.inline).toEqual([input]);
    // The input lives in its own stable map: an upgrade keeps it, and the task reads back whole.
    await net.installCode(t.registry, 'upgrade', registryWasm(), registryInitArgs(undefined));
    expect((await asRequester.get_task(submitted.id))[0]?.input.inline).toEqual([input]);
    expect(queueCost).toBeGreaterThan(0n);
    expect(queueCost).toBeLessThan(QUEUE_CEILING);
    expect(completeCost).toBeGreaterThan(0n);
    expect(completeCost).toBeLessThan(COMPLETE_CEILING);
  }, 120_000);
});
