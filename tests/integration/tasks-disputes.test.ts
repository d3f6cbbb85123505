import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Localnet } from '../../src/localnet/localnet.ts';
import { errOf, okOf } from '../support/registry.ts';
import { processTasks, resultArgs, taskNetwork } from '../support/tasks.ts';

/**
 * Rewards follow real work (issue 16) on the built Wasm through the agent: a redundant task whose runners disagree is a
 * recorded dispute that undoes the completions it counted (a griefer gains nothing), reported output tokens are bounded
 * by the output's bytes, and redundant winners are paid for the median of the majority's counts, not each its own.
 * Each test fails on the registry as it was before (checked).
 */
const FUNDS = 20_000_000n;
const ALLOWANCE = 15_000_000n;
const DETERMINISTIC = { max_output_tokens: 64, temperature: [0] as [number], seed: [42n] as [bigint] };

describe('disputes, output-token bounds and median pay for redundant work', () => {
  let net: Localnet;
  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
  });
  afterAll(async () => {
    await net.stop();
  });

  it('two runners that disagree make a visible dispute: refunded, and neither keeps the completion it reported', async () => {
    const t = await taskNetwork(net);
    const requester = await t.requester(FUNDS, ALLOWANCE);
    const asRequester = await t.tasks(requester);
    const [honest, griefer] = [await t.runner(), await t.runner()];
    const task = okOf(await asRequester.submit_task(t.submitArgs('grief', { limits: DETERMINISTIC, redundancy: [2] })));
    for (const r of [honest, griefer]) okOf(await (await t.tasks(r)).claim_task([task.id]));
    okOf(await (await t.tasks(honest)).complete_task(task.id, resultArgs('Paris')));
    okOf(await (await t.tasks(griefer)).complete_task(task.id, resultArgs('garbage')));
    const settled = okOf(await asRequester.accept_task(task.id));
    expect(settled.state).toBe('failed');
    expect(settled.paid_runners).toEqual([]);
    expect(settled.outcome[0]).toMatch(/^disputed: /);
    // The completions the two results counted are undone: the griefer's reputation is as if it never took the task.
    for (const r of [honest, griefer])
      expect((await asRequester.get_reputation(r.getPrincipal()))[0]).toMatchObject({ completed: 0, rejected: 0 });
    await processTasks(t);
    expect(await t.balance(griefer)).toBe(0n);
  }, 120_000);

  it('refuses more output tokens than the output’s bytes allow (ImplausibleUsage), and the lease stays for an honest report', async () => {
    const t = await taskNetwork(net);
    const requester = await t.requester(FUNDS, ALLOWANCE);
    const runner = await t.runner();
    const asRunner = await t.tasks(runner);
    const task = okOf(await (await t.tasks(requester)).submit_task(t.submitArgs('one-byte')));
    okOf(await asRunner.claim_task([task.id]));
    // One byte of output is at most 1 + 32 tokens, whatever max_output_tokens (64) allows.
    expect(errOf(await asRunner.complete_task(task.id, resultArgs('x', { output_tokens: 64n })))).toEqual({
      ImplausibleUsage: { field: 'output_tokens', limit: 33n }
    });
    expect(okOf(await asRunner.complete_task(task.id, resultArgs('x', { output_tokens: 33n }))).output_tokens).toBe(33n);
  }, 120_000);

  it('pays redundant winners for the median of the majority’s counts, not each for its own', async () => {
    const t = await taskNetwork(net);
    const requester = await t.requester(FUNDS, ALLOWANCE);
    const asRequester = await t.tasks(requester);
    // 1 e8s per input token and 100 e8s per output token.
    const price = { inputPerMillion: 1_000_000, outputPerMillion: 100_000_000 };
    const [inflater, honest] = [await t.runner(2, { price }), await t.runner(2, { price })];
    const task = okOf(await asRequester.submit_task(t.submitArgs('median', { limits: DETERMINISTIC, redundancy: [2] })));
    for (const r of [inflater, honest]) okOf(await (await t.tasks(r)).claim_task([task.id]));
    // Same output; the inflater claims the most its 5 bytes allow, the honest runner what it generated.
    okOf(await (await t.tasks(inflater)).complete_task(task.id, resultArgs('Paris', { input_tokens: 20n, output_tokens: 37n })));
    okOf(await (await t.tasks(honest)).complete_task(task.id, resultArgs('Paris', { input_tokens: 12n, output_tokens: 2n })));
    const settled = okOf(await asRequester.accept_task(task.id));
    expect(settled.state).toBe('accepted');
    await processTasks(t);
    // The median of two is the lower count: 12 input and 2 output tokens, 212 e8s each.
    expect({ inflater: await t.balance(inflater), honest: await t.balance(honest) }).toEqual({ inflater: 212n, honest: 212n });
  }, 120_000);
});
