import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Localnet } from '../../src/localnet/localnet.ts';
import { findRequest, heartbeatArgs, okOf } from '../support/registry.ts';
import { processTasks, taskNetwork, type TaskNetwork } from '../support/tasks.ts';

/**
 * Issue 15 on the built registry Wasm: a claim and a maintenance pass cost the same however many large tasks other
 * callers queued. Before the indexes, claim_task(None) read every queued task whole (~0.59B instructions per 256 KiB
 * task) and a maintenance pass read every due task whole: with the 8 large tasks below a claim cost ~5B and a pass
 * ~5B; 80 would have passed the 40B update limit (IC0522).
 */
const LARGE_TASKS = 8;
/** Issue 15's target for a claim; it cost ~26M before replies, UTF-8 and principals stopped looping in JavaScript. */
const CLAIM_CEILING = 20_000_000n;
/** Expiring the large tasks (without reading their inputs) and one honest task, payouts apart. */
const PASS_CEILING = 1_500_000_000n;
const SECOND_NS = 1_000_000_000n;
const OTHER_MODEL = 'other-org/Unserved-Model-70B';

describe('bounded claim and timer costs', () => {
  let net: Localnet;
  let t: TaskNetwork;
  const spent = new Map<string, bigint>();

  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
    t = await taskNetwork(net);
    net.onExecution((e) => {
      if (e.canisterId === t.registry.toText())
        spent.set(e.entry, e.instructions > (spent.get(e.entry) ?? 0n) ? e.instructions : (spent.get(e.entry) ?? 0n));
    });
  });
  afterAll(async () => {
    await net.stop();
  });

  it('claims past many large tasks of a model nobody serves, then expires them and refunds an honest task on time', async () => {
    const attacker = await t.requester(100_000_000n, 50_000_000n);
    const asAttacker = await t.tasks(attacker);
    const input = 'Unserved. '.repeat(25_000);
    const deadline = net.engine.now() + 120n * SECOND_NS;
    for (let i = 0; i < LARGE_TASKS; i++) {
      const task = okOf(
        await asAttacker.submit_task(
          t.submitArgs(`large-${i}`, {
            request: findRequest({ model: [OTHER_MODEL] }),
            input: { inline: [input], digest: [], reference: [] },
            deadline_ns: deadline
          })
        )
      );
      expect(task.state).toBe('queued');
    }
    const asker = await t.requester(10_000_000n, 5_000_000n);
    const asRequester = await t.tasks(asker);
    const served = okOf(await asRequester.submit_task(t.submitArgs('served')));
    const honest = okOf(await asRequester.submit_task(t.submitArgs('honest', { deadline_ns: deadline + SECOND_NS })));
    const runner = await t.runner();
    const asRunner = await t.tasks(runner);
    // One update before the measured claim: QuickJS collects garbage when allocations cross a threshold, and the large
    // submits above leave a collection (~28M instructions) to whichever message comes next. It is not the claim's.
    okOf(await asRunner.heartbeat(heartbeatArgs()));

    spent.clear();
    const claimed = okOf(await asRunner.claim_task([]));
    expect(claimed.id).toBe(served.id);
    expect(spent.get('canister_update claim_task')).toBeLessThan(CLAIM_CEILING);
    spent.clear();
    expect((await asRunner.list_claimable()).map((c) => c.id)).toEqual([honest.id]);
    expect(spent.get('canister_query list_claimable')).toBeLessThan(CLAIM_CEILING);

    // Past both deadlines: the large tasks and the honest one are due together; one pass expires them all.
    const before = await t.balance(asker);
    await net.advanceTime(125_000);
    spent.clear();
    await processTasks(t);
    await processTasks(t);
    const pass = spent.get('canister_update process_tasks') ?? 0n;
    expect(pass).toBeGreaterThan(0n);
    expect(pass).toBeLessThan(PASS_CEILING);
    const timer = [...spent.entries()].filter(([entry]) => !entry.startsWith('canister_update') && !entry.startsWith('canister_query'));
    for (const [entry, instructions] of timer) expect(instructions, entry).toBeLessThan(PASS_CEILING);
    expect((await asRequester.get_task(honest.id))[0]?.state).toBe('expired');
    expect(await t.balance(asker)).toBeGreaterThan(before);
  }, 300_000);
});
