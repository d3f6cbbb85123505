import type { Identity } from '@dfinity/agent';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Localnet } from '../../src/localnet/localnet.ts';
import { errOf, findRequest, okOf } from '../support/registry.ts';
import { escrowBalance, FEE, processTasks, resultArgs, REWARD, taskConfigArgs, taskNetwork, type TaskNetwork } from '../support/tasks.ts';

const FUNDS = 10_000_000n;
const ALLOWANCE = 5_000_000n;
/** Prices per million tokens: 100 e8s per input token, 1,000 per output token. */
const CHEAP = { inputPerMillion: 100_000_000, outputPerMillion: 1_000_000_000 };
const MID = { inputPerMillion: 200_000_000, outputPerMillion: 2_000_000_000 };
/**
 * The runner priced at 10^15 per million (which served 221 tokens for a flat 90,000 e8s) is now refused at
 * registration (prices are bounded, tests/integration/ranking-cheats.test.ts); the dearest price a manifest may post.
 */
const DEAR = { inputPerMillion: 100_000_000_000_000, outputPerMillion: 100_000_000_000_000 };
/** 'Say hello.' is 10 bytes: at most 10 + 512 (chat template) input tokens; submitArgs allows 64 output tokens. */
const MAX_INPUT = 522n;
const maxCost = (p: typeof CHEAP): bigint =>
  (MAX_INPUT * BigInt(p.inputPerMillion) + 64n * BigInt(p.outputPerMillion) + 999_999n) / 1_000_000n;
/** The floor of the protocol fee by default. */
const MIN_FEE = 20_000n;

describe('metered pricing and usage honesty (registry + ledger on the localnet)', () => {
  let net: Localnet;
  let t: TaskNetwork;
  let cheap: Identity;
  let dear: Identity;

  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
    t = await taskNetwork(net);
    cheap = await t.runner(2, { price: CHEAP });
    await t.runner(2, { price: MID });
    dear = await t.runner(2, { price: DEAR });
  });
  afterAll(async () => {
    await net.stop();
  });

  it('quote_task prices a request at the live runners’ posted prices, and its budget is one they claim', async () => {
    const requester = await t.requester(FUNDS, ALLOWANCE);
    const asRequester = await t.tasks(requester);
    const quote = okOf(
      await asRequester.quote_task({
        request: findRequest({ model: [String(t.card.id)] }),
        input_bytes: [10],
        max_output_tokens: 64,
        redundancy: []
      })
    );
    // min: 522 × 100 + 64 × 1,000 = 116,200; median of three: MID's 232,400.
    expect(quote).toMatchObject({ eligible_runners: 3, min_cost_e8s: maxCost(CHEAP), median_cost_e8s: maxCost(MID) });
    // The smallest budget covering the cost, a ledger fee and the protocol fee (here its 20,000 floor).
    expect(quote.min_budget_e8s).toBe(maxCost(CHEAP) + FEE + MIN_FEE);
    expect(quote.median_budget_e8s).toBe(maxCost(MID) + FEE + MIN_FEE);
    expect(quote.protocol_fee_e8s).toBe(MIN_FEE);
    expect(quote.expected_emission_e8s).toBe(0n); // emission is off in this network

    // One e8s less and even the cheapest runner will not take the task; the quoted budget it takes.
    const short = okOf(await asRequester.submit_task(t.submitArgs('quote-short', { reward_e8s: quote.min_budget_e8s - 1n })));
    const asCheap = await t.tasks(cheap);
    expect(errOf(await asCheap.claim_task([short.id]))).toEqual({
      PriceAboveBudget: { task: short.id, max_cost_e8s: maxCost(CHEAP), cap_e8s: maxCost(CHEAP) - 1n }
    });
    const enough = okOf(await asRequester.submit_task(t.submitArgs('quote-enough', { reward_e8s: quote.min_budget_e8s })));
    expect(okOf(await asCheap.claim_task([])).id).toBe(enough.id);
    okOf(await asCheap.fail_task(enough.id, 'test over'));

    expect(errOf(await asRequester.quote_task({ request: findRequest(), input_bytes: [], max_output_tokens: 64, redundancy: [] }))).toEqual(
      {
        InvalidArgument: { field: 'request.model', reason: expect.any(String) }
      }
    );
    expect(
      errOf(
        await asRequester.quote_task({
          request: findRequest({ model: [String(t.card.id)] }),
          input_bytes: [],
          max_output_tokens: 0,
          redundancy: []
        })
      )
    ).toMatchObject({ InvalidArgument: { field: 'max_output_tokens' } });
  });

  it('an overpriced runner cannot take a cheap task; the runner that does is paid metered tokens × its price, the requester refunded the rest', async () => {
    const requester = await t.requester(FUNDS, ALLOWANCE);
    const asRequester = await t.tasks(requester);
    const escrowBefore = await escrowBalance(t); // the earlier test's tasks are still queued
    const task = okOf(await asRequester.submit_task(t.submitArgs('metered')));
    const asDear = await t.tasks(dear);
    expect(errOf(await asDear.claim_task([task.id]))).toMatchObject({ PriceAboveBudget: { task: task.id } });
    expect(errOf(await asDear.claim_task([]))).toMatchObject({ NotFound: { kind: { ClaimableTask: null } } });
    expect(await asDear.list_claimable()).toEqual([]); // nothing queued here is within its prices

    const asCheap = await t.tasks(cheap);
    const claimed = okOf(await asCheap.claim_task([]));
    expect(claimed.id).toBe(task.id);
    // 12 input tokens × 100 + 34 output tokens × 1,000.
    const cost = 12n * 100n + 34n * 1_000n;
    const result = okOf(await asCheap.complete_task(task.id, resultArgs('Hello!')));
    expect(result.cost_e8s).toEqual([cost]);
    okOf(await asRequester.accept_task(task.id));
    await processTasks(t);

    expect(await t.balance(cheap)).toBe(cost); // the escrow pays the transfer's ledger fee on top
    expect(await t.balance(dear)).toBe(0n);
    const refund = REWARD - (cost + FEE) - MIN_FEE; // 5 % of 35,200 is below the floor
    expect(await t.balance(requester)).toBe(FUNDS - FEE - REWARD - FEE + refund - FEE);
    expect(await escrowBalance(t)).toBe(escrowBefore);
    // Settled once: another maintenance pass pays nothing again.
    await processTasks(t);
    expect(await t.balance(requester)).toBe(FUNDS - FEE - REWARD - FEE + refund - FEE);
  });

  it('charges the protocol fee floor on a small budget (5 % of it would round to nothing)', async () => {
    const treasuryBefore = await t.balance(t.treasury);
    const requester = await t.requester(FUNDS, ALLOWANCE);
    const runner = await t.runner(); // 1,000 / 3,000 per million: the test result costs 1 e8s
    const asRequester = await t.tasks(requester);
    const task = okOf(await asRequester.submit_task(t.submitArgs('small', { reward_e8s: 100_000n })));
    const asRunner = await t.tasks(runner);
    okOf(await asRunner.claim_task([task.id]));
    okOf(await asRunner.complete_task(task.id, resultArgs('Hi')));
    okOf(await asRequester.accept_task(task.id));
    await processTasks(t);
    expect((await t.balance(t.treasury)) - treasuryBefore).toBe(MIN_FEE - FEE);
    expect(await t.balance(runner)).toBe(1n);

    const asAdmin = await t.tasks(t.admin);
    expect((await asAdmin.get_task_config()).min_protocol_fee_e8s).toEqual([MIN_FEE]);
    okOf(await asAdmin.set_task_config(taskConfigArgs({ min_protocol_fee_e8s: [30_000n] })));
    expect((await asAdmin.get_task_config()).min_protocol_fee_e8s).toEqual([30_000n]);
    okOf(await asAdmin.set_task_config(taskConfigArgs({ min_protocol_fee_e8s: [MIN_FEE] })));
  });

  it('refuses token counts above what is possible (input_tokens = 2^64 − 1) and keeps the lease for an honest report', async () => {
    const requester = await t.requester(FUNDS, ALLOWANCE);
    const asRequester = await t.tasks(requester);
    const task = okOf(await asRequester.submit_task(t.submitArgs('usage')));
    const asCheap = await t.tasks(cheap);
    okOf(await asCheap.claim_task([task.id]));
    expect(errOf(await asCheap.complete_task(task.id, resultArgs('x', { input_tokens: 2n ** 64n - 1n })))).toEqual({
      ImplausibleUsage: { field: 'input_tokens', limit: MAX_INPUT }
    });
    // At most max_output_tokens (64), and at most the output's bytes plus 32 special tokens.
    const long = 'x'.repeat(40);
    expect(errOf(await asCheap.complete_task(task.id, resultArgs(long, { output_tokens: 65n })))).toEqual({
      ImplausibleUsage: { field: 'output_tokens', limit: 64n }
    });
    const result = okOf(await asCheap.complete_task(task.id, resultArgs(long, { input_tokens: MAX_INPUT, output_tokens: 64n })));
    expect(result.cost_e8s).toEqual([maxCost(CHEAP)]);
  });

  it('measures latency itself (lease to completion); the self-reported times are kept but not used', async () => {
    const requester = await t.requester(FUNDS, ALLOWANCE);
    const runner = await t.runner();
    const asRequester = await t.tasks(requester);
    const task = okOf(await asRequester.submit_task(t.submitArgs('latency')));
    const asRunner = await t.tasks(runner);
    const leased = okOf(await asRunner.claim_task([task.id]));
    await net.advanceTime(3_000);
    const result = okOf(await asRunner.complete_task(task.id, resultArgs('fast?', { first_token_ms: 0, total_ms: 1e-300 })));
    const measured = result.measured_total_ms[0] ?? 0n;
    expect(measured).toBe((result.at_ns - (leased.leases[0]?.claimed_at_ns ?? 0n)) / 1_000_000n);
    expect(measured).toBeGreaterThanOrEqual(3_000n);
    expect(result.total_ms).toBe(1e-300);
    const reputation = (await asRequester.get_reputation(runner.getPrincipal()))[0];
    expect(reputation?.latency_ms_ema).toBe(Number(measured));
  });
});
