import type { Identity } from '@dfinity/agent';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Localnet } from '../../src/localnet/localnet.ts';
import { errOf, heartbeatArgs, okOf } from '../support/registry.ts';
import { endReview, resultArgs, taskNetwork, type TaskNetwork } from '../support/tasks.ts';

/**
 * An escalation's places are offered only to proven runners whose posted prices the task's budget covers (issue 16;
 * src/core/tasks/affordable.ts, the predicate claim_task checks), on the built Wasm through the agent. Before, a proven
 * runner priced above an escalation place's share was offered the places, could not claim them (PriceAboveBudget), and
 * held them for 5 minutes while every other unrelated runner was refused: the first case fails on the registry as it
 * was (checked: the unproven runner's claim was TaskNotClaimable).
 */
const FUNDS = 50_000_000n;
const ALLOWANCE = 40_000_000n;
const DETERMINISTIC = { max_output_tokens: 64, temperature: [0] as [number], seed: [42n] as [bigint] };
/**
 * Free input, 6.25·10^9 per million output tokens: 64 output tokens cost 400,000 e8s. A budget of 1,000,000 (5 %
 * protocol fee, 10,000 ledger fee) pays one runner of one result up to 942,380 and of two 466,190, so this runner
 * earns its record on redundancy-1 tasks and may fill a redundancy-2 task; an escalated tie waits for three results,
 * each at most 307,460: it cannot claim that place.
 */
const DEAR = { inputPerMillion: 0, outputPerMillion: 6_250_000_000 };

describe("an escalation's offer skips proven runners the task cannot pay (registry + ledger on the localnet)", () => {
  let net: Localnet;
  let t: TaskNetwork;
  let requester: Identity;
  let keys = 0;
  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
    // A review window shorter than the heartbeat TTL, so the runners are live when the timer escalates.
    t = await taskNetwork(net, { reviewWindowSeconds: 60n });
    requester = await t.requester(FUNDS, ALLOWANCE);
  });
  afterAll(async () => {
    await net.stop();
  });

  const beat = async (runners: Identity[]): Promise<void> => {
    for (const r of runners) okOf(await (await t.tasks(r)).heartbeat(heartbeatArgs()));
  };

  /** `runner` completes a redundancy-1 task of the requester, which accepts it: one independent acceptance, proven. */
  async function prove(runner: Identity): Promise<void> {
    const asRequester = await t.tasks(requester);
    const task = okOf(await asRequester.submit_task(t.submitArgs(`record-${keys++}`)));
    const asRunner = await t.tasks(runner);
    okOf(await asRunner.claim_task([task.id]));
    okOf(await asRunner.complete_task(task.id, resultArgs('Paris')));
    expect(okOf(await asRequester.accept_task(task.id)).state).toBe('accepted');
  }

  /** A 1–1 tie on a redundancy-2 task, escalated by the timer at the review's end; `live` heartbeat just before it. */
  async function escalatedTie(live: Identity[]): Promise<string> {
    const asRequester = await t.tasks(requester);
    const [honest, griefer] = [await t.runner(), await t.runner()];
    const task = okOf(await asRequester.submit_task(t.submitArgs(`tie-${keys++}`, { limits: DETERMINISTIC, redundancy: [2] })));
    for (const [runner, output] of [
      [honest, 'Paris'],
      [griefer, 'garbage']
    ] as const) {
      const asRunner = await t.tasks(runner);
      okOf(await asRunner.claim_task([task.id]));
      okOf(await asRunner.complete_task(task.id, resultArgs(output)));
    }
    await beat(live);
    await endReview(t, task.id, live);
    const escalated = (await asRequester.get_task(task.id))[0]!;
    expect(escalated.state).toBe('queued');
    expect(escalated.outcome[0]).toMatch(/^escalated: no majority/);
    return task.id;
  }

  it('a dear proven runner does not hold the places: with no other proven runner, any unrelated runner claims at once', async () => {
    const dear = await t.runner(2, { price: DEAR });
    await prove(dear);
    const fresh = await t.runner();
    const id = await escalatedTie([dear, fresh]);
    // The dear runner could not claim the place (the same predicate), so it was not offered it, and nobody waits.
    expect(errOf(await (await t.tasks(dear)).claim_task([id]))).toMatchObject({ PriceAboveBudget: { task: id } });
    expect(okOf(await (await t.tasks(fresh)).claim_task([id])).id).toBe(id);
  }, 240_000);

  it('beside a dear proven runner, a cheaper proven runner is offered the places and claims at once; others wait', async () => {
    const dear = await t.runner(2, { price: DEAR });
    const cheap = await t.runner();
    await prove(dear);
    await prove(dear);
    await prove(cheap);
    const fresh = await t.runner();
    const id = await escalatedTie([dear, cheap, fresh]);
    // The offer window is the cheap runner's alone: an unproven runner is refused inside it, and the dear one too.
    expect(errOf(await (await t.tasks(fresh)).claim_task([id]))).toMatchObject({ TaskNotClaimable: { task: id } });
    expect(errOf(await (await t.tasks(dear)).claim_task([id]))).toMatchObject({ TaskNotClaimable: { task: id } });
    expect(okOf(await (await t.tasks(cheap)).claim_task([id])).id).toBe(id);
  }, 240_000);
});
