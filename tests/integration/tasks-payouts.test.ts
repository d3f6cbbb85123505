import { Ed25519KeyIdentity } from '@dfinity/identity';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';

import { Localnet } from '../../src/localnet/localnet.ts';
import { errOf, okOf } from '../support/registry.ts';
import { deployment, runnerManifest } from '../support/manifests.ts';
import {
  FEE,
  payoutsOf,
  processTasks,
  resultArgs,
  REWARD,
  setCanisterRunning,
  taskConfigArgs,
  taskNetwork,
  type TaskNetwork
} from '../support/tasks.ts';

const FUNDS = 20_000_000n;
const ALLOWANCE = 15_000_000n;
/** The runner's metered cost: a test result's 12 + 34 tokens at 1,000 / 3,000 per million, rounded up. */
const RUNNER_NET = 1n;
const REFUND_NET = REWARD - FEE;
/** What an accepted task's requester gets back: the budget less the runner's cost and transfer fee and the 20,000 fee floor. */
const UNUSED_NET = REWARD - (RUNNER_NET + FEE) - 20_000n - FEE;
const HOUR_MS = 3_600_000;

describe('payouts: one bad payout never blocks another (issue 15)', () => {
  let net: Localnet;
  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
  });
  afterAll(async () => {
    await net.stop();
  });

  /** A task submitted and run by `runner`, in review: accepting it owes a runner, a treasury and a refund payout. */
  async function answered(t: TaskNetwork, requester: Ed25519KeyIdentity, runner: Ed25519KeyIdentity, key: string): Promise<string> {
    const task = okOf(await (await t.tasks(requester)).submit_task(t.submitArgs(key)));
    okOf(await (await t.tasks(runner)).claim_task([task.id]));
    okOf(await (await t.tasks(runner)).complete_task(task.id, resultArgs('Hello!')));
    return task.id;
  }

  it('refuses an operator with a wrong checksum or equal to the registry, and the registry as treasury', async () => {
    const t = await taskNetwork(net);
    const runner = await t.tasks(Ed25519KeyIdentity.generate());
    const typo = errOf(await runner.register_runner(JSON.stringify(runnerManifest('aaaaa-ab', [deployment(t.card)]))));
    expect(typo).toEqual({ InvalidArgument: { field: 'operator', reason: expect.stringMatching(/checksum/) as unknown } });
    const self = errOf(await runner.register_runner(JSON.stringify(runnerManifest(t.registry.toText(), [deployment(t.card)]))));
    expect(self).toMatchObject({ InvalidArgument: { field: 'operator' } });
    const treasury = errOf(
      await (await t.tasks(t.admin)).set_task_config(taskConfigArgs({ treasury: [{ owner: t.registry, subaccount: [] }] }))
    );
    expect(treasury).toMatchObject({ InvalidArgument: { field: 'treasury' } });
  });

  it('failing payouts back off and end stuck (listed, retried by an admin) while later payouts and refunds are paid at once', async () => {
    const t = await taskNetwork(net);
    const requester = await t.requester(FUNDS, ALLOWANCE);
    const victim = await t.requester(FUNDS, ALLOWANCE);
    const runner = await t.runner();
    const honest = await t.runner();
    const admin = await t.tasks(t.admin);

    // Canister time moves only when the test moves it: the steps below must fit in the first 5 s backoff however
    // slowly a loaded machine runs them.
    net.freezeTime();
    onTestFinished(() => net.freezeTime(false));
    // Two tasks whose payouts (runner, treasury, refund of the unused budget: six) fail: the ledger is down when they
    // are accepted (and for their first attempt).
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) ids.push(await answered(t, requester, runner, `failing-${i}`));
    await setCanisterRunning(net, t.ledger, false);
    for (const id of ids) okOf(await (await t.tasks(requester)).accept_task(id));
    const pendingIds = (await payoutsOf(t)).map((p) => p.id);
    expect(pendingIds.length).toBeGreaterThan(0);
    await processTasks(t);
    const failing = await payoutsOf(t, 'pending');
    expect(failing.length).toBe(pendingIds.length);
    for (const p of failing) {
      expect(p).toMatchObject({ state: 'pending', attempts: 1 });
      expect(p.last_error[0]).toMatch(/stopped|IC0508/i);
      expect(p.next_attempt_ns[0]).toBeGreaterThan(p.created_at_ns);
    }

    // The ledger is back. An honest runner's payout queued after them, and a victim's refund, are paid in the next
    // pass; the failing ones wait out their backoff (not attempted again).
    await setCanisterRunning(net, t.ledger, true);
    okOf(await (await t.tasks(victim)).accept_task(await answered(t, victim, honest, 'honest')));
    const refunded = okOf(
      await (await t.tasks(victim)).submit_task(t.submitArgs('refund-me', { deadline_ns: net.engine.now() + 1_000_000_000n }))
    );
    expect(refunded.state).toBe('queued');
    const victimBefore = await t.balance(victim);
    await net.advanceTime(1_500);
    await processTasks(t);
    expect(await t.balance(honest)).toBe(RUNNER_NET);
    expect(await t.balance(victim)).toBe(victimBefore + REFUND_NET + UNUSED_NET);
    expect((await payoutsOf(t)).map((p) => [p.id, p.attempts])).toEqual(failing.map((p) => [p.id, 1]));

    // Down again for good: they are retried with backoff, then stuck after 20 attempts, with the last error.
    await setCanisterRunning(net, t.ledger, false);
    for (let i = 0; i < 30 && (await payoutsOf(t, 'pending')).length > 0; i++) {
      await net.advanceTime(HOUR_MS / 2);
      await processTasks(t);
    }
    const stuck = await payoutsOf(t, 'stuck');
    expect(stuck.map((p) => p.id).sort()).toEqual(pendingIds.sort());
    for (const p of stuck) {
      expect(p).toMatchObject({ state: 'stuck', attempts: 20, next_attempt_ns: [] });
      expect(p.last_error[0]).toMatch(/gave up after 20 attempts/);
    }
    // Paged, bounded listing throughout.
    const page = okOf(await admin.list_payouts({ state: [] }, { after: [], limit: [1] }));
    expect(page.items).toHaveLength(1);
    expect(page.next).toEqual([page.items[0]?.id]);

    // An admin retries one once the ledger is back: it is paid, exactly once.
    await setCanisterRunning(net, t.ledger, true);
    const retried = stuck.find((p) => p.kind === 'runner');
    if (retried === undefined) throw new Error('no runner payout');
    expect(errOf(await (await t.tasks(runner)).retry_payout(retried.id))).toHaveProperty('Unauthorized');
    expect(errOf(await admin.retry_payout('nope'))).toEqual({ NotFound: { kind: { Payout: null }, id: 'nope' } });
    expect(okOf(await admin.retry_payout(retried.id))).toMatchObject({ state: 'pending', attempts: 0 });
    const before = await t.balance(runner);
    await processTasks(t);
    expect(await t.balance(runner)).toBe(before + RUNNER_NET);
    expect((await payoutsOf(t)).map((p) => p.id)).not.toContain(retried.id);
  });
});
