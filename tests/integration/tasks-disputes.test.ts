import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Localnet } from '../../src/localnet/localnet.ts';
import { errOf, okOf } from '../support/registry.ts';
import { endReview, escrowBalance, payoutsOf, processTasks, resultArgs, taskNetwork } from '../support/tasks.ts';

/**
 * Rewards follow real work (issue 16) on the built Wasm through the agent: a redundant task whose runners tie is
 * escalated to a further operator rather than refunded (review 2, F2: a requester's Sybil no longer undoes an honest
 * completion), and the runner out-voted then loses the vote; reported output tokens are bounded
 * by the output's bytes, each redundant winner is paid its own counts (a low report never cuts another's pay), and
 * results stay sealed: a second runner cannot read the first one's digest or output while the task is open, and the
 * requester of a disputed task reads no output (review 2, F1 and F2). Each test fails on the registry as it was
 * before (checked).
 */
const FUNDS = 20_000_000n;
const ALLOWANCE = 15_000_000n;
const DETERMINISTIC = { max_output_tokens: 64, temperature: [0] as [number], seed: [42n] as [bigint] };

describe('disputes, sealed results, output-token bounds and own-count pay for redundant work', () => {
  let net: Localnet;
  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
  });
  afterAll(async () => {
    await net.stop();
  });

  it('a 1–1 tie escalates instead of refunding: a third operator agreeing gets the honest runner paid, the Sybil loses the vote', async () => {
    const t = await taskNetwork(net);
    const requester = await t.requester(FUNDS, ALLOWANCE);
    const asRequester = await t.tasks(requester);
    const [honest, griefer, third] = [await t.runner(), await t.runner(), await t.runner()];
    const task = okOf(await asRequester.submit_task(t.submitArgs('grief', { limits: DETERMINISTIC, redundancy: [2] })));
    const asGriefer = await t.tasks(griefer);
    okOf(await (await t.tasks(honest)).claim_task([task.id]));
    okOf(await (await t.tasks(honest)).complete_task(task.id, resultArgs('Paris')));
    // The second runner leases after the first answered: neither its claim nor get_task shows the first digest or output.
    const leased = okOf(await asGriefer.claim_task([task.id]));
    const open = (await asGriefer.get_task(task.id))[0];
    for (const seen of [leased, open]) expect(seen?.results.map((r) => [r.output, r.output_digest])).toEqual([[[], '']]);
    // Nor does the requester (no result is in review with a majority yet).
    expect((await asRequester.get_task(task.id))[0]?.results.map((r) => [r.output, r.output_digest])).toEqual([[[], '']]);
    okOf(await asGriefer.complete_task(task.id, resultArgs('garbage')));
    // A 1–1 tie in review: no majority, so nothing the requester would pay for, and nothing it reads.
    const tied = (await asRequester.get_task(task.id))[0];
    expect(tied?.state).toBe('review');
    expect(tied?.results.map((r) => r.output)).toEqual([[], []]);
    // Accepting (or rejecting) the tie no longer refunds the requester, nor escalates it at the requester's moment: the
    // timer does when the review ends, and the task waits for one more operator's result.
    expect(okOf(await asRequester.accept_task(task.id)).state).toBe('review');
    await endReview(t, task.id, [third]);
    const escalated = (await asRequester.get_task(task.id))[0]!;
    expect(escalated.state).toBe('queued');
    expect(escalated.paid_runners).toEqual([]);
    expect(escalated.outcome[0]).toMatch(/^escalated: no majority/);
    expect(escalated.results.map((r) => [r.output, r.output_digest])).toEqual([
      [[], ''],
      [[], '']
    ]);
    await processTasks(t);
    expect(await payoutsOf(t)).toEqual([]);
    // The runners already in the vote cannot vote again; a third operator leases it and finds the results sealed.
    expect(errOf(await asGriefer.claim_task([task.id]))).toMatchObject({ TaskNotClaimable: {} });
    // Nor may a runner the requester operates take the place (the requester's own operators cannot fill the vote).
    const own = await t.runner(2, { operator: requester.getPrincipal() });
    okOf(await asRequester.accept_operator(own.getPrincipal()));
    expect(errOf(await (await t.tasks(own)).claim_task([task.id]))).toEqual({
      Unauthorized: { reason: "an escalation's places are not open to the requester's own runners or operators" }
    });
    const asThird = await t.tasks(third);
    expect(okOf(await asThird.claim_task([task.id])).results.map((r) => r.output_digest)).toEqual(['', '']);
    okOf(await asThird.complete_task(task.id, resultArgs('Paris')));
    // In review with a majority: the requester reads the results it would pay for, never the out-voted one.
    expect((await asRequester.get_task(task.id))[0]?.results.map((r) => r.output)).toEqual([['Paris'], [], ['Paris']]);
    const settled = okOf(await asRequester.accept_task(task.id));
    expect(settled.state).toBe('accepted');
    expect(settled.paid_runners.map((p) => p.toText())).toEqual([honest.getPrincipal().toText(), third.getPrincipal().toText()]);
    await processTasks(t);
    // Each winner its metered cost (12 + 34 tokens at 1,000 / 3,000 per million: 1 e8s); the griefer nothing, and its
    // result counts a whole rejection (it lost the vote) instead of a completion.
    expect({ honest: await t.balance(honest), third: await t.balance(third), griefer: await t.balance(griefer) }).toEqual({
      honest: 1n,
      third: 1n,
      griefer: 0n
    });
    expect((await asRequester.get_reputation(griefer.getPrincipal()))[0]).toMatchObject({ completed: 0, rejected: 1 });
    for (const r of [honest, third]) expect((await asRequester.get_reputation(r.getPrincipal()))[0]).toMatchObject({ completed: 1 });
    expect(await escrowBalance(t)).toBe(0n);
  }, 180_000);

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

  it('pays each redundant winner its own counts: a low report never cuts another winner’s pay', async () => {
    const t = await taskNetwork(net);
    const requester = await t.requester(FUNDS, ALLOWANCE);
    const asRequester = await t.tasks(requester);
    // 1 e8s per input token and 100 e8s per output token.
    const price = { inputPerMillion: 1_000_000, outputPerMillion: 100_000_000 };
    const [colluder, honest] = [await t.runner(2, { price }), await t.runner(2, { price })];
    const task = okOf(await asRequester.submit_task(t.submitArgs('median', { limits: DETERMINISTIC, redundancy: [2] })));
    for (const r of [colluder, honest]) okOf(await (await t.tasks(r)).claim_task([task.id]));
    // Same output; the honest runner reports what it generated, a colluder 0 tokens (it would have cut the honest pay
    // to 0 under the old median rule).
    okOf(await (await t.tasks(honest)).complete_task(task.id, resultArgs('Paris', { input_tokens: 12n, output_tokens: 2n })));
    // A reference has no bytes to bound its tokens: a redundant task wants the output inline (review 2, F4).
    const byReference = { ...resultArgs('Paris', { output_tokens: 64n }), output: [] as [], reference: ['https://x/a'] as [string] };
    expect(errOf(await (await t.tasks(colluder)).complete_task(task.id, byReference))).toEqual({
      InvalidArgument: { field: 'output', reason: 'a redundant task needs the output inline, not a reference' }
    });
    okOf(await (await t.tasks(colluder)).complete_task(task.id, resultArgs('Paris', { input_tokens: 0n, output_tokens: 0n })));
    const settled = okOf(await asRequester.accept_task(task.id));
    expect(settled.state).toBe('accepted');
    // Accepted: the requester reads the paid (majority) outputs.
    expect(settled.results.map((r) => r.output)).toEqual([['Paris'], ['Paris']]);
    await processTasks(t);
    // Each its own counts: 12 × 1 + 2 × 100 = 212 e8s for the honest runner, 0 for the colluder.
    expect({ colluder: await t.balance(colluder), honest: await t.balance(honest) }).toEqual({ colluder: 0n, honest: 212n });
  }, 120_000);
});
