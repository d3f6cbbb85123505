import { Ed25519KeyIdentity } from '@dfinity/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Localnet } from '../../src/localnet/localnet.ts';
import { DeaiClient, type Clock } from '../../src/sdk/index.ts';
import { registryInitArgs } from '../../src/interface/registry/index.ts';
import { rejection } from '../support/sdk.ts';
import { errOf, okOf, registryWasm } from '../support/registry.ts';
import { endReview, FEE, REWARD, processTasks, resultArgs, taskNetwork, type TaskNetwork } from '../support/tasks.ts';

describe('dApp SDK against the registry + ledger on the localnet', () => {
  let net: Localnet;
  let t: TaskNetwork;
  let model: string;

  const connect = (identity?: Ed25519KeyIdentity, clock?: Clock): Promise<DeaiClient> =>
    DeaiClient.connect({
      host: net.url,
      registryId: t.registry.toText(),
      ...(identity === undefined ? {} : { identity }),
      ...(clock === undefined ? {} : { clock })
    });

  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
    t = await taskNetwork(net);
    model = String(t.card.id);
  });
  afterAll(async () => {
    await net.stop();
  });

  it('discovers models and runners, and finds the ledger from the registry', async () => {
    const runner = await t.runner();
    const client = await connect();
    expect(client.ledgerId?.toText()).toBe(t.ledger.toText());
    const models = await client.listModels();
    expect(models.map((m) => m.id)).toContain(model);
    expect(await client.listModels({ family: 'no-such-family' })).toEqual([]);
    const card = await client.getModel(model);
    expect(card).toMatchObject({ id: model, publishedBy: t.admin.getPrincipal().toText() });
    expect((await client.getModel(model, card.digest)).digest).toBe(card.digest);
    expect((await rejection(client.getModel('no-such-model'))).code).toBe('NotFound');
    const candidates = await client.findRunners({ model, limit: 5 });
    expect(candidates.map((c) => c.runner)).toContain(runner.getPrincipal().toText());
    expect(candidates[0]).toMatchObject({ model: { id: model }, state: 'ready' });
    expect(await client.findRunners({ model, region: 'nowhere' })).toEqual([]);
    const quote = await client.quoteReward(REWARD);
    expect(quote).toMatchObject({ rewardE8s: REWARD, protocolFeeE8s: 47_119n, perRunnerNetE8s: 942_380n, acceptable: true });
    expect((await client.quoteReward(1_000n)).acceptable).toBe(false);
    // Priced at the live runners' prices (1,000 / 3,000 per million): 'Say hello.' is at most 10 + 512 input tokens.
    const priced = await client.quoteTask({ model, prompt: 'Say hello.', maxOutputTokens: 64 });
    expect(priced).toMatchObject({ model, minCostE8s: 1n, medianCostE8s: 1n, minBudgetE8s: 100_000n, protocolFeeE8s: 20_000n });
    expect(priced.eligibleRunners).toBeGreaterThanOrEqual(1);
    expect((await rejection(client.quoteTask({ model, maxOutputTokens: 0 }))).code).toBe('InvalidArgument');
  });

  it('submits (approving first), waits for the result, accepts, and the runner is paid', async () => {
    const requester = await t.requester(10_000_000n);
    const runner = await t.runner();
    const client = await connect(requester);
    const task = await client.submitTask({
      model,
      prompt: 'Say hello.',
      rewardE8s: REWARD,
      maxOutputTokens: 64,
      idempotencyKey: 'sdk-happy'
    });
    expect(task.state).toBe('queued');
    expect(await client.balance()).toBe(10_000_000n - FEE - REWARD - FEE); // approve fee, reward, transfer_from fee
    expect((await client.getTask(task.id)).input.inline).toBe('Say hello.');

    const asRunner = await t.tasks(runner);
    okOf(await asRunner.claim_task([task.id]));
    okOf(await asRunner.complete_task(task.id, resultArgs('Hello!')));
    const states: string[] = [];
    const result = await client.waitForResult(task.id, { timeoutMs: 10_000, pollMs: 20, onProgress: (s) => states.push(s) });
    expect(result).toMatchObject({
      taskId: task.id,
      state: 'review',
      output: 'Hello!',
      runner: runner.getPrincipal().toText(),
      outputTokens: 34n
    });
    expect(states).toEqual(['review']);

    expect((await client.accept(task.id)).state).toBe('accepted');
    await processTasks(t);
    // Paid its metered cost: 12 + 34 tokens at 1,000 / 3,000 per million, rounded up to 1 e8s.
    const cost = (await client.getTask(task.id)).results[0]?.costE8s;
    expect(cost).toBe(1n);
    expect(await client.balance(runner.getPrincipal())).toBe(cost);
    expect(await client.balance(runner.getPrincipal().toText())).toBe(cost);
    // A second task re-approves: the first allowance was spent by the escrow.
    await client.submitTask({ model, prompt: 'Again.', rewardE8s: REWARD });
    // The first budget's unused part came back (less the fee floor and the runner's cost and transfer fee).
    const refund = REWARD - (1n + FEE) - 20_000n - FEE;
    expect(await client.balance()).toBe(10_000_000n - 2n * (FEE + REWARD + FEE) + refund);
  });

  it('waitForResult waits through a tied review and its escalation, shows the escalation, and returns the majority output', async () => {
    const requester = await t.requester(10_000_000n);
    const [honest, griefer, third] = [await t.runner(), await t.runner(), await t.runner()];
    const task = await (
      await connect(requester)
    ).submitTask({ model, prompt: 'Capital of France?', rewardE8s: REWARD, maxOutputTokens: 64, temperature: 0, seed: 42n, redundancy: 2 });
    const answer = async (runner: Ed25519KeyIdentity, output: string): Promise<void> => {
      okOf(await (await t.tasks(runner)).claim_task([task.id]));
      okOf(await (await t.tasks(runner)).complete_task(task.id, resultArgs(output)));
    };
    await answer(honest, 'Paris');
    await answer(griefer, 'garbage');
    // Each wait drives the network one step: the review ends and the timer escalates the 1–1 tie, then a third operator
    // agrees.
    const steps = [async () => endReview(t, task.id, [third]), async () => answer(third, 'Paris')];
    const clock: Clock = { nowMs: () => Date.now(), sleep: async () => void (await steps.shift()?.()) };
    const progress: string[] = [];
    const result = await (
      await connect(requester, clock)
    ).waitForResult(task.id, {
      pollMs: 1,
      onProgress: (state, { outcome }) => progress.push(outcome === undefined ? state : `${state}: ${outcome}`)
    });
    expect(result).toMatchObject({ taskId: task.id, state: 'review', output: 'Paris' });
    expect(progress).toHaveLength(3);
    expect(progress[0]).toBe('review');
    expect(progress[1]).toMatch(/^queued: escalated: no majority/);
    expect(progress[2]).toBe('review');
  });

  it('submitTask takes the full request: the task carries it, and a runner outside it cannot claim the task', async () => {
    const requester = await t.requester(10_000_000n);
    const runner = await t.runner();
    const client = await connect(requester);
    const request = {
      region: 'ap-south',
      maxInputPricePerMillion: 2_000n,
      maxOutputPricePerMillion: 6_000n,
      quantizations: ['Q4_K_M'],
      minContext: 4096n,
      engine: 'llama.cpp',
      affinityKey: 'session-9'
    };
    const task = await client.submitTask({ model, prompt: 'Constrained.', rewardE8s: REWARD, request });
    const view = (await (await t.tasks(t.admin)).get_task(task.id))[0];
    expect(view?.request).toMatchObject({
      model: [model],
      region: ['ap-south'],
      max_input_price_per_million: [2_000n],
      max_output_price_per_million: [6_000n],
      quantizations: [['Q4_K_M']],
      min_context: [4096n],
      engine: ['llama.cpp'],
      affinity_key: ['session-9'],
      limit: []
    });
    // The runner serves the model in eu-west: the task's region keeps it out.
    expect(errOf(await (await t.tasks(runner)).claim_task([task.id]))).toEqual({ NotServing: { model } });
  });

  it('reject pays the work read and refunds the rest; waiting on a rejected task fails with TaskFailed', async () => {
    const requester = await t.requester(10_000_000n);
    const runner = await t.runner();
    const client = await connect(requester);
    const task = await client.submitTask({ model, prompt: 'Say hello.', rewardE8s: REWARD });
    const asRunner = await t.tasks(runner);
    okOf(await asRunner.claim_task([task.id]));
    okOf(await asRunner.complete_task(task.id, resultArgs('bad answer')));
    expect((await client.waitForResult(task.id, { pollMs: 10 })).output).toBe('bad answer');
    expect((await client.reject(task.id, 'wrong language')).state).toBe('rejected');
    await processTasks(t);
    // The output was read: its metered cost (1 e8s) and the 20,000 e8s fee floor are paid, the rest refunded.
    expect(await client.balance()).toBe(10_000_000n - FEE - REWARD - FEE + (REWARD - 1n - FEE - 20_000n) - FEE);
    const failed = await rejection(client.waitForResult(task.id));
    expect(failed).toMatchObject({ code: 'TaskFailed', retryable: false, details: { state: 'rejected' } });
    const again = await rejection(client.accept(task.id));
    expect(again).toMatchObject({ code: 'NotInReview', details: { task: task.id, state: 'rejected' } });
  });

  it('a task nobody serves times out with code Timeout (injected clock, no real waiting)', async () => {
    const requester = await t.requester(10_000_000n);
    let nowMs = Date.now();
    const sleeps: number[] = [];
    const clock: Clock = {
      nowMs: () => nowMs,
      sleep: (ms) => {
        sleeps.push(ms);
        nowMs += ms;
        return Promise.resolve();
      }
    };
    const client = await connect(requester, clock);
    const task = await client.submitTask({ model, prompt: 'Nobody claims this.', rewardE8s: REWARD });
    const states: string[] = [];
    const error = await rejection(client.waitForResult(task.id, { timeoutMs: 5_000, pollMs: 2_000, onProgress: (s) => states.push(s) }));
    expect(error).toMatchObject({ code: 'Timeout', retryable: true, details: { state: 'queued', timeoutMs: 5_000 } });
    expect(sleeps).toEqual([2_000, 2_000, 1_000]);
    expect(states).toEqual(['queued']);
    expect((await rejection(client.getTask('no-such-task'))).code).toBe('NotFound');
  });

  it('bad requests come back as the registry and ledger Err variants', async () => {
    const requester = await t.requester(10_000_000n);
    const client = await connect(requester);
    const tooSmall = await rejection(client.submitTask({ model, prompt: 'Cheap.', rewardE8s: 1_000n }));
    expect(tooSmall).toMatchObject({ code: 'InvalidArgument', retryable: false, details: { field: 'reward_e8s' } });
    const poor = await connect(await t.requester(0n));
    expect((await rejection(poor.submitTask({ model, prompt: 'No funds.', rewardE8s: REWARD }))).code).toBe('InsufficientFunds');
    const anonymous = await connect();
    expect((await rejection(anonymous.transfer(requester.getPrincipal(), 1n))).code).toBe('GenericError'); // the ledger refuses the anonymous principal
  });

  it('transfers and reads balances', async () => {
    const requester = await t.requester(10_000_000n);
    const client = await connect(requester);
    const friend = Ed25519KeyIdentity.generate().getPrincipal();
    const block = await client.transfer(friend, 3_000_000n);
    expect(typeof block).toBe('bigint');
    expect(await client.balance(friend)).toBe(3_000_000n);
    expect(await client.balance({ owner: friend.toText() })).toBe(3_000_000n);
    expect(await client.balance()).toBe(10_000_000n - 3_000_000n - FEE);
    const error = await rejection(client.transfer(friend, 100_000_000n));
    expect(error).toMatchObject({ code: 'InsufficientFunds' });
  });

  it('an expired task fails waitForResult with TaskFailed', async () => {
    const requester = await t.requester(10_000_000n);
    // The client's clock reads the network's canister time, which other tests here move ahead of the wall clock.
    const client = await connect(requester, {
      nowMs: () => Number(net.engine.now() / 1_000_000n),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms))
    });
    const task = await client.submitTask({ model, prompt: 'Too late.', rewardE8s: REWARD, deadlineMs: 2_000 });
    await net.advanceTime(5_000);
    await processTasks(t);
    const error = await rejection(client.waitForResult(task.id, { pollMs: 10 }));
    expect(error).toMatchObject({ code: 'TaskFailed', details: { state: 'expired' } });
    expect(await client.balance()).toBe(10_000_000n - FEE - REWARD - FEE + REWARD - FEE);
  });

  it('reads runners and reputations; a registry without a ledger still serves reads, and ledger calls say NotConfigured', async () => {
    const runner = await t.runner(3);
    const client = await connect();
    const info = await client.getRunner(runner.getPrincipal());
    expect(info).toMatchObject({
      id: runner.getPrincipal().toText(),
      live: true,
      heartbeat: { state: 'ready' },
      deployments: [{ modelId: model, slots: 3 }]
    });
    expect(await client.getReputation(runner.getPrincipal().toText())).toEqual({
      completed: 0,
      failed: 0,
      rejected: 0,
      expiredLeases: 0,
      latencyMsEma: 0
    });
    expect(await rejection(client.getRunner(Ed25519KeyIdentity.generate().getPrincipal()))).toMatchObject({ code: 'NotFound' });

    const bare = await net.installCanister({ wasm: registryWasm(), arg: registryInitArgs({ admins: [t.admin.getPrincipal()] }) });
    const reader = await DeaiClient.connect({ host: net.url, registryId: bare });
    expect(reader.ledgerId).toBeUndefined();
    expect(await reader.listModels()).toEqual([]);
    expect(await rejection(reader.balance())).toMatchObject({ code: 'NotConfigured', details: { what: 'ledger' } });
  });
});
