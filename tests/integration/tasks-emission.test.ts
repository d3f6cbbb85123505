import type { Identity } from '@dfinity/agent';
import { Ed25519KeyIdentity } from '@dfinity/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Localnet } from '../../src/localnet/localnet.ts';
import { deployment, digestOf, modelCard, runnerManifest } from '../support/manifests.ts';
import { errOf, findRequest, heartbeatArgs, okOf } from '../support/registry.ts';
import { processTasks, resultArgs, REWARD, taskConfigArgs, taskNetwork, type TaskNetwork } from '../support/tasks.ts';

const SECOND_NS = 1_000_000_000n;
const EPOCH_NS = 60n * SECOND_NS;
const FUNDS = 10_000_000n;
const ALLOWANCE = 5_000_000n;
/** The protocol fee of a REWARD task: its floor (min_protocol_fee_e8s), since 5 % of the metered cost is less. */
const PROTOCOL_FEE = 20_000n;
const BUDGET = 1_000_000_000n;

/**
 * Emission on the built registry: the two cheats of issue 16 (self-dealing a giant card with 2^64 − 1 input tokens
 * captured 99.99998 % of an epoch; switching emission on paid the work done while it was off) and the per-requester
 * share cap's settings. Both cheat tests fail on the registry as it was before emission followed fees.
 */
describe('emission follows fees paid by independent requesters, under the terms each epoch opened with', () => {
  let net: Localnet;

  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
  });
  afterAll(async () => {
    await net.stop();
  });

  const untilNextEpochMs = (): number => Number((EPOCH_NS - (net.engine.now() % EPOCH_NS)) / 1_000_000n) + 1_000;

  /**
   * Starts just after an hour boundary (also a 60 s one), so that the work that follows falls in one 60 s epoch: the
   * epoch the registry opened before `epoch_seconds` was set may run an hour (its length is fixed when it opens).
   */
  async function atEpochStart(t: TaskNetwork): Promise<void> {
    const hourNs = 3600n * SECOND_NS;
    await net.advanceTime(Number((hourNs - (net.engine.now() % hourNs)) / 1_000_000n) + 1_000);
    await processTasks(t);
  }

  /** `requester` submits a task for `model`, `runner` claims and completes it with `inputTokens`, the requester accepts. */
  async function acceptedWork(
    t: TaskNetwork,
    requester: Identity,
    runner: Identity,
    key: string,
    options: { model?: string; inputTokens?: bigint; reward?: bigint } = {}
  ): Promise<void> {
    const asRequester = await t.tasks(requester);
    const asRunner = await t.tasks(runner);
    const args = t.submitArgs(key, { reward_e8s: options.reward ?? REWARD });
    const task = okOf(
      await asRequester.submit_task(options.model === undefined ? args : { ...args, request: findRequest({ model: [options.model] }) })
    );
    okOf(await asRunner.claim_task([task.id]));
    const reported = await asRunner.complete_task(task.id, resultArgs(`answer ${key}`, { input_tokens: options.inputTokens ?? 12n }));
    if ('Err' in reported && 'ImplausibleUsage' in reported.Err) {
      // Usage above what is possible is refused (the lease stays): the cheater then reports the most it may.
      const { limit } = reported.Err.ImplausibleUsage;
      expect(options.inputTokens ?? 0n).toBeGreaterThan(limit);
      okOf(await asRunner.complete_task(task.id, resultArgs(`answer ${key}`, { input_tokens: limit })));
    } else okOf(reported);
    okOf(await asRequester.accept_task(task.id));
  }

  // Two requesters, two runners, a card and two tasks: about 40 calls, slow on a loaded machine.
  it(
    'self-dealing with a 10^13-parameter card and 2^64 − 1 input tokens earns nothing; the honest runner gets its fee back',
    { timeout: 180_000 },
    async () => {
      const t = await taskNetwork(net, { emissionPerEpoch: BUDGET, epochSeconds: 60n });
      await atEpochStart(t);
      const honestRequester = await t.requester(FUNDS, ALLOWANCE);
      const honest = await t.runner();

      // The cheater publishes a giant card and registers a runner paying its own principal, then deals with itself.
      const cheater = await t.requester(FUNDS, ALLOWANCE);
      const giant = modelCard({ id: 'cheater/Giant-10T', parameters: { total: 1e13 }, digest: digestOf('giant-10t') });
      const asCheater = await t.tasks(cheater);
      okOf(await asCheater.publish_model_card(JSON.stringify(giant)));
      const cheaterRunner = Ed25519KeyIdentity.generate();
      const asCheaterRunner = await t.tasks(cheaterRunner);
      okOf(
        await asCheaterRunner.register_runner(
          JSON.stringify(runnerManifest(cheater.getPrincipal().toText(), [deployment(giant, { slots: 2 })]))
        )
      );
      okOf(await asCheaterRunner.heartbeat(heartbeatArgs()));

      await acceptedWork(t, honestRequester, honest, 'honest');
      await acceptedWork(t, cheater, cheaterRunner, 'self-dealt', { model: String(giant.id), inputTokens: 2n ** 64n - 1n });
      await processTasks(t);
      const honestBefore = await t.balance(honest);
      const cheaterBefore = await t.balance(cheater);
      const supplyBefore = await (await t.token(t.admin)).icrc1_total_supply();

      await net.advanceTime(untilNextEpochMs());
      await processTasks(t);
      const minted = (await (await t.token(t.admin)).icrc1_total_supply()) - supplyBefore;
      // The epoch mints what the counted work paid in fees (below the budget): all of it to the honest runner.
      expect({ minted, honest: (await t.balance(honest)) - honestBefore, cheater: (await t.balance(cheater)) - cheaterBefore }).toEqual({
        minted: PROTOCOL_FEE,
        honest: PROTOCOL_FEE,
        cheater: 0n
      });
    }
  );

  it('switching emission on does not pay work done while it was off; the next epoch is paid', async () => {
    const t = await taskNetwork(net, { emissionPerEpoch: 0n, epochSeconds: 60n });
    await atEpochStart(t);
    const requester = await t.requester(FUNDS, ALLOWANCE);
    const runner = await t.runner();
    const asAdmin = await t.tasks(t.admin);
    await acceptedWork(t, requester, runner, 'while-off');
    await processTasks(t);
    okOf(await asAdmin.set_task_config(taskConfigArgs({ emission_per_epoch_e8s: [BUDGET] })));
    const supply = async (): Promise<bigint> => (await t.token(t.admin)).icrc1_total_supply();
    const supplyBefore = await supply();

    await net.advanceTime(untilNextEpochMs());
    await processTasks(t);
    expect(await supply(), 'the epoch opened with emission off: it mints nothing').toBe(supplyBefore);

    okOf(await (await t.tasks(runner)).heartbeat(heartbeatArgs()));
    await acceptedWork(t, requester, runner, 'while-on');
    await processTasks(t);
    const [balanceBefore, supplyMid] = [await t.balance(runner), await supply()];
    await net.advanceTime(untilNextEpochMs());
    await processTasks(t);
    expect(await supply()).toBe(supplyMid + PROTOCOL_FEE);
    expect((await t.balance(runner)) - balanceBefore).toBe(PROTOCOL_FEE);
  });

  it('the per-requester share cap defaults to 20 %, is admin-set within 1 to 10,000 bps, and caps a big requester', async () => {
    // Budget 200,000 and cap 5 %: one requester's work earns at most 10,000, even though it paid 20,000 in fees.
    const t = await taskNetwork(net, { emissionPerEpoch: 200_000n, epochSeconds: 60n });
    const asAdmin = await t.tasks(t.admin);
    expect((await asAdmin.get_task_config()).emission_requester_cap_bps).toBe(2_000);
    for (const bad of [0, 10_001])
      expect(errOf(await asAdmin.set_task_config(taskConfigArgs({ emission_requester_cap_bps: [bad] })))).toEqual({
        InvalidArgument: { field: 'emission_requester_cap_bps', reason: expect.any(String) }
      });
    const stranger = await t.tasks(Ed25519KeyIdentity.generate());
    expect(errOf(await stranger.set_task_config(taskConfigArgs({ emission_requester_cap_bps: [10_000] })))).toHaveProperty('Unauthorized');
    expect(okOf(await asAdmin.set_task_config(taskConfigArgs({ emission_requester_cap_bps: [500] }))).emission_requester_cap_bps).toBe(500);

    await atEpochStart(t);
    const requester = await t.requester(FUNDS, ALLOWANCE);
    const runner = await t.runner();
    await acceptedWork(t, requester, runner, 'big');
    await processTasks(t);
    const before = await t.balance(runner);
    await net.advanceTime(untilNextEpochMs());
    await processTasks(t);
    expect((await t.balance(runner)) - before).toBe(10_000n);
  });
});
