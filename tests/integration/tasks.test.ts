import { Ed25519KeyIdentity } from '@dfinity/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Localnet } from '../../src/localnet/localnet.ts';
import { errOf, findRequest, okOf } from '../support/registry.ts';
import { FEE, REWARD, resultArgs, taskNetwork, payoutsOf, type TaskNetwork } from '../support/tasks.ts';

describe('tasks and rewards (registry + ledger on the localnet)', () => {
  let net: Localnet;
  let t: TaskNetwork;

  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
    t = await taskNetwork(net);
  });
  afterAll(async () => {
    await net.stop();
  });

  it('happy path: escrow, claim, complete, accept, then the runner, the treasury and the refund are paid exactly', async () => {
    const requester = await t.requester(10_000_000n, 5_000_000n);
    const runner = await t.runner();
    const asRequester = await t.tasks(requester);
    const quote = await asRequester.quote_reward(REWARD, 1);
    // The budget's bounds: a runner can charge at most 942,380 (room left for its ledger fee and 5 % protocol fee).
    expect(quote).toMatchObject({
      reward_e8s: REWARD,
      protocol_fee_e8s: 47_119n,
      per_runner_net_e8s: 942_380n,
      treasury_net_e8s: 47_119n - FEE,
      acceptable: true
    });

    const task = okOf(await asRequester.submit_task(t.submitArgs('happy')));
    expect(task.state).toBe('queued');
    expect(await t.balance(requester)).toBe(10_000_000n - FEE - REWARD - FEE); // approve fee, reward, transfer_from fee

    const asRunner = await t.tasks(runner);
    expect((await asRunner.list_claimable()).map((c) => c.id)).toContain(task.id);
    const claimed = okOf(await asRunner.claim_task([task.id]));
    expect(claimed.leases.map((l) => l.runner.toText())).toEqual([runner.getPrincipal().toText()]);
    const result = okOf(await asRunner.complete_task(task.id, resultArgs('Hello!')));
    expect(result.output).toEqual(['Hello!']);
    // Reporting twice returns the first result.
    expect(okOf(await asRunner.complete_task(task.id, resultArgs('Something else')))).toEqual(result);

    expect(okOf(await asRequester.accept_task(task.id)).state).toBe('accepted');
    okOf(await (await t.tasks(t.admin)).process_tasks());
    // Metered: 12 + 34 tokens at 1,000 / 3,000 per million cost 1 e8s; the fee is its 20,000 floor; the rest is refunded.
    expect(await t.balance(runner)).toBe(1n);
    expect(await t.balance(t.treasury)).toBe(20_000n - FEE);
    expect(await t.balance(requester)).toBe(10_000_000n - FEE - REWARD - FEE + (REWARD - 1n - FEE - 20_000n) - FEE);
    expect(await payoutsOf(t)).toEqual([]);
    const reputation = (await asRequester.get_reputation(runner.getPrincipal()))[0];
    expect(reputation?.completed).toBe(1);
  });

  it('reject pays the work the requester read, refunds the rest and weighs against the runner', async () => {
    const requester = await t.requester(10_000_000n, 5_000_000n);
    const runner = await t.runner();
    const asRequester = await t.tasks(requester);
    const task = okOf(await asRequester.submit_task(t.submitArgs('reject-me')));
    const asRunner = await t.tasks(runner);
    okOf(await asRunner.claim_task([task.id]));
    okOf(await asRunner.complete_task(task.id, resultArgs('bad answer')));
    expect(okOf(await asRequester.reject_task(task.id, 'wrong language')).state).toBe('rejected');
    okOf(await (await t.tasks(t.admin)).process_tasks());
    // As on acceptance: the metered cost (1 e8s) to the runner, the fee floor to the treasury, the rest refunded.
    expect(await t.balance(requester)).toBe(10_000_000n - FEE - REWARD - FEE + (REWARD - 1n - FEE - 20_000n) - FEE);
    expect(await t.balance(runner)).toBe(1n);
    // The rejected result does not count as completed, and a fresh requester's rejection weighs a tenth: the runner
    // ranks just below a newcomer's 0.5.
    expect(await asRequester.get_reputation(runner.getPrincipal())).toMatchObject([{ rejected: 0, completed: 0 }]);
    const ranked = okOf(await asRequester.find_runners(findRequest({ model: [String(t.card.id)] })));
    const caught = ranked.find((c) => c.runner.toText() === runner.getPrincipal().toText());
    expect(caught?.breakdown.reputation).toBeCloseTo(1 / 2.1);
    expect(errOf(await asRequester.accept_task(task.id))).toEqual({ NotInReview: { task: task.id, state: 'rejected' } });
  });

  it('a duplicate submit returns the first task and escrows once; a failed escrow leaves nothing behind', async () => {
    const requester = await t.requester(10_000_000n, 5_000_000n);
    const asRequester = await t.tasks(requester);
    const first = okOf(await asRequester.submit_task(t.submitArgs('same-key')));
    const second = okOf(await asRequester.submit_task(t.submitArgs('same-key', { reward_e8s: 2n * REWARD })));
    expect(second.id).toBe(first.id);
    expect(await t.balance(requester)).toBe(10_000_000n - FEE - REWARD - FEE); // approve fee, reward, transfer_from fee

    const poor = await t.requester(0n);
    const failed = errOf(await (await t.tasks(poor)).submit_task(t.submitArgs('no-allowance')));
    expect(failed).toMatchObject({ LedgerError: { operation: 'icrc2_transfer_from' } });
    expect(JSON.stringify(failed)).toMatch(/InsufficientAllowance/);
    void Ed25519KeyIdentity;
  });
});
