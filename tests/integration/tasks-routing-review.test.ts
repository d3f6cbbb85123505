import { createHash } from 'node:crypto';

import { IDL } from '@dfinity/candid';
import { Ed25519KeyIdentity } from '@dfinity/identity';
import { Principal } from '@dfinity/principal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { HeartbeatArgs } from '../../src/interface/registry/index.ts';
import { Localnet } from '../../src/localnet/localnet.ts';
import { account } from '../support/ledger.ts';
import { deployment, runnerManifest } from '../support/manifests.ts';
import { errOf, findRequest, heartbeatArgs, okOf } from '../support/registry.ts';
import { bondConfigArgs, FEE, payoutsOf, processTasks, REWARD, resultArgs, taskNetwork, type TaskNetwork } from '../support/tasks.ts';

/**
 * Task routing and review cheats of issue 16's adversarial review, on the built Wasm through the agent; each test
 * failed on the code before the fix: a rejection after reading the output was free work (full refund, no fee) and a
 * full rejection whoever sent it; three preferred Sybils killed a task inside the routing window before an honest
 * runner was offered it, and fail_task never touched a bond; affinity bound a runner at report time, before acceptance.
 */
const FUNDS = 100_000_000n;
/** 12 + 34 tokens (resultArgs) at these prices per million cost 1,200 + 10,200 = 11,400 e8s. */
const PRICE = { inputPerMillion: 100_000_000, outputPerMillion: 300_000_000 };
const COST = 11_400n;
const FEE_FLOOR = 20_000n;
const BOND = 10_000_000n;
/** What submit_task may grow by (instructions, all its registry messages) from 64 to 320 runners of the model. */
const SUBMIT_GROWTH_CEILING = 2_000_000n;

describe('routing and review: rewards follow real work', () => {
  let net: Localnet;
  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
  });
  afterAll(async () => {
    await net.stop();
  });

  async function bondOf(t: TaskNetwork, runner: Principal): Promise<{ amount: bigint; slashes: number; balance: bigint }> {
    const bond = (await (await t.tasks(t.admin)).get_bond(runner))[0];
    if (bond === undefined) throw new Error(`no bond for ${runner.toText()}`);
    const sub = bond.account.subaccount[0];
    const balance = await (
      await t.token(t.admin)
    ).icrc1_balance_of(account(bond.account.owner, sub === undefined ? undefined : Uint8Array.from(sub)));
    return { amount: bond.amount_e8s, slashes: bond.slashes, balance };
  }

  it('a rejection after reading the output still pays the runner its metered cost and the protocol fee; a fresh requester’s rejection weighs little', async () => {
    const t = await taskNetwork(net);
    const requester = await t.requester(FUNDS, FUNDS);
    const asRequester = await t.tasks(requester);
    const runner = await t.runner(2, { price: PRICE });
    const asRunner = await t.tasks(runner);
    const task = okOf(await asRequester.submit_task(t.submitArgs('read-then-reject')));
    okOf(await asRunner.claim_task([task.id]));
    okOf(await asRunner.complete_task(task.id, resultArgs('a correct answer')));
    // The requester reads the output…
    expect((await asRequester.get_task(task.id))[0]?.results[0]?.output).toEqual(['a correct answer']);
    const before = await t.balance(requester);
    // … and rejects it.
    expect(okOf(await asRequester.reject_task(task.id, 'I will not pay')).state).toBe('rejected');
    for (let pass = 0; pass < 5 && (await payoutsOf(t)).length > 0; pass++) await processTasks(t);
    expect(await payoutsOf(t)).toEqual([]);
    // The work it read is paid: the runner its metered cost exactly, the treasury the fee floor, the rest refunded.
    expect(await t.balance(runner)).toBe(COST);
    expect(await t.balance(t.treasury)).toBe(FEE_FLOOR - FEE);
    expect((await t.balance(requester)) - before).toBe(REWARD - (COST + FEE) - FEE_FLOOR - FEE);
    // The rejected result is no completion, but a requester that never paid for accepted work weighs only a tenth of a
    // rejection: no whole rejection is counted, and the runner ranks just below a newcomer's 0.5 (1 / 2.1).
    expect((await asRequester.get_reputation(runner.getPrincipal()))[0]).toMatchObject({ completed: 0, rejected: 0 });
    const [ranked] = okOf(await asRequester.find_runners(findRequest({ model: [String(t.card.id)] })));
    expect(ranked?.breakdown.reputation).toBeCloseTo(1 / 2.1);
  }, 120_000);

  it('three preferred Sybils of one operator cannot kill a task in the routing window; a preferred failure opens it to all', async () => {
    const t = await taskNetwork(net, { routingWindowSeconds: 60n });
    const requester = await t.requester(FUNDS, FUNDS);
    const asRequester = await t.tasks(requester);
    const operator = Ed25519KeyIdentity.generate();
    const sybils = [];
    for (let i = 0; i < 3; i++) sybils.push(await t.runner(2, { operator: operator.getPrincipal() }));
    for (const s of sybils) okOf(await (await t.tasks(operator)).accept_operator(s.getPrincipal()));
    // Dearer: ranked below the three Sybils, so not offered the task first.
    const honest = await t.runner(2, { price: { inputPerMillion: 50_000, outputPerMillion: 150_000 } });
    const asHonest = await t.tasks(honest);
    const id = okOf(await asRequester.submit_task(t.submitArgs('sybil-kill'))).id;
    expect(errOf(await asHonest.claim_task([id]))).toHaveProperty('TaskNotClaimable');
    const [first, ...others] = sybils;
    okOf(await (await t.tasks(first as Ed25519KeyIdentity)).claim_task([id]));
    okOf(await (await t.tasks(first as Ed25519KeyIdentity)).fail_task(id, 'busy'));
    // One preferred failure opens the task to every eligible runner at once, well inside the 60 s window.
    expect((await asHonest.list_claimable()).map((c) => c.id)).toContain(id);
    for (const s of others) {
      okOf(await (await t.tasks(s)).claim_task([id]));
      okOf(await (await t.tasks(s)).fail_task(id, 'busy'));
    }
    // Three failures of one operator count once: the task is still queued, and the honest runner serves it.
    expect((await asRequester.get_task(id))[0]?.state).toBe('queued');
    okOf(await asHonest.claim_task([id]));
    okOf(await asHonest.complete_task(id, resultArgs('Hello!')));
    expect(okOf(await asRequester.accept_task(id)).paid_runners.map((p) => p.toText())).toEqual([honest.getPrincipal().toText()]);
  }, 120_000);

  it('fail_task counts toward the bond slash, as expired leases do', async () => {
    const t = await taskNetwork(net, { bondE8s: BOND });
    const admin = await t.tasks(t.admin);
    okOf(await admin.set_bond_config(bondConfigArgs({ expired_lease_threshold: [2] })));
    const requester = await t.requester(FUNDS, FUNDS);
    const asRequester = await t.tasks(requester);
    const quitter = await t.runner(2, { bond: BOND });
    const asQuitter = await t.tasks(quitter);
    for (const key of ['quit-1', 'quit-2']) {
      const id = okOf(await asRequester.submit_task(t.submitArgs(key))).id;
      okOf(await asQuitter.claim_task([id]));
      okOf(await asQuitter.fail_task(id, 'not today'));
    }
    expect((await admin.get_bond(quitter.getPrincipal()))[0]).toMatchObject({ amount_e8s: BOND - BOND / 10n, slashes: 1 });
    for (let pass = 0; pass < 5 && (await payoutsOf(t)).length > 0; pass++) await processTasks(t);
    expect(await bondOf(t, quitter.getPrincipal())).toEqual({ amount: BOND - BOND / 10n, slashes: 1, balance: BOND - BOND / 10n });
  }, 120_000);

  it('affinity binds the runner only once the requester accepts its work (never at report time, never on rejection)', async () => {
    const t = await taskNetwork(net);
    const requester = await t.requester(FUNDS, FUNDS);
    const asRequester = await t.tasks(requester);
    const runner = await t.runner();
    const asRunner = await t.tasks(runner);
    const request = findRequest({ model: [String(t.card.id)], affinity_key: ['chat-1'] });
    const pinned = async () =>
      okOf(await asRequester.find_runners(request))
        .filter((c) => c.affinity)
        .map((c) => c.runner.toText());

    const rejected = okOf(await asRequester.submit_task(t.submitArgs('aff-rejected', { request }))).id;
    okOf(await asRunner.claim_task([rejected]));
    okOf(await asRunner.complete_task(rejected, resultArgs('meh')));
    expect(await pinned()).toEqual([]);
    okOf(await asRequester.reject_task(rejected, 'no'));
    expect(await pinned()).toEqual([]);

    const accepted = okOf(await asRequester.submit_task(t.submitArgs('aff-accepted', { request }))).id;
    okOf(await asRunner.claim_task([accepted]));
    okOf(await asRunner.complete_task(accepted, resultArgs('good')));
    expect(await pinned()).toEqual([]);
    okOf(await asRequester.accept_task(accepted));
    expect(await pinned()).toEqual([runner.getPrincipal().toText()]);
  }, 120_000);

  it('submit_task ranks a bounded window of runners: its cost does not grow with the runners serving the model', async () => {
    const t = await taskNetwork(net, { routingWindowSeconds: 3n });
    const requester = await t.requester(FUNDS, FUNDS);
    const asRequester = await t.tasks(requester);
    const text = (value: string): Uint8Array => new Uint8Array(IDL.encode([IDL.Text], [value]));
    const beat = new Uint8Array(IDL.encode([HeartbeatArgs], [heartbeatArgs()]));
    let registered = 0;
    const registerUpTo = async (n: number): Promise<void> => {
      for (; registered < n; registered++) {
        const id = Principal.selfAuthenticating(new Uint8Array(createHash('sha256').update(`window-runner-${registered}`).digest()));
        await net.update(t.registry, 'register_runner', text(JSON.stringify(runnerManifest(id.toText(), [deployment(t.card)]))), id);
        await net.update(t.registry, 'heartbeat', beat, id);
      }
    };
    let measuring = false;
    let spent = 0n;
    net.onExecution((e) => {
      if (measuring && e.canisterId === t.registry.toText()) spent += e.instructions;
    });
    const submitCost = async (key: string): Promise<bigint> => {
      spent = 0n;
      measuring = true;
      const task = okOf(await asRequester.submit_task(t.submitArgs(key)));
      measuring = false;
      expect(task.state).toBe('queued');
      return spent;
    };
    await registerUpTo(64);
    const small = await submitCost('window-64');
    await registerUpTo(320);
    const large = await submitCost('window-320');
    console.log(`submit_task with the routing window on: ${small} instructions at 64 runners of the model, ${large} at 320`);
    expect(large - small).toBeLessThan(SUBMIT_GROWTH_CEILING);
  }, 300_000);
});
