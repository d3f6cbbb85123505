import { Actor, AnonymousIdentity, type Identity } from '@dfinity/agent';
import { Ed25519KeyIdentity } from '@dfinity/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { registryIdlFactory, registryInitArgs } from '../../src/interface/registry/index.ts';
import { Localnet } from '../../src/localnet/localnet.ts';
import { agentFor } from '../support/probe.ts';
import { errOf, okOf, registryWasm } from '../support/registry.ts';
import {
  endReview,
  escrowBalance,
  FEE,
  processTasks,
  resultArgs,
  REWARD,
  setCanisterRunning,
  taskConfigArgs,
  taskNetwork,
  type TaskActor,
  type TaskNetwork,
  type TaskView,
  payoutsOf
} from '../support/tasks.ts';

const SECOND_NS = 1_000_000_000n;
const FUNDS = 10_000_000n;
const ALLOWANCE = 5_000_000n;
/** A test result's metered cost: 12 input + 34 output tokens at the test runners' 1,000 / 3,000 per million, rounded up. */
const COST = 1n;
/** The protocol fee: 5 % of COST is below the default floor of 20,000, paid to the treasury. */
const PROTOCOL_FEE = 20_000n;
/** The runner receives its metered cost exactly (the escrow pays the transfer's ledger fee). */
const RUNNER_NET = COST;
const TREASURY_NET = PROTOCOL_FEE - FEE;
const REFUND_NET = REWARD - FEE;
/** What the requester gets back of an accepted task's budget: what the runner and the fee did not use. */
const UNUSED_NET = REWARD - (COST + FEE) - PROTOCOL_FEE - FEE;
/** A requester's balance after the approve and one escrowed submit of REWARD. */
const AFTER_ONE_SUBMIT = FUNDS - FEE - REWARD - FEE;
/** Redundant tasks must be reproducible: greedy decoding with a fixed seed. */
const DETERMINISTIC = { max_output_tokens: 64, temperature: [0] as [number], seed: [42n] as [bigint] };

const text = (identity: Identity): string => identity.getPrincipal().toText();

describe('task flows: leases, deadlines, reviews, failures, payouts, redundancy, upgrades, emission', () => {
  let net: Localnet;

  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
  });
  afterAll(async () => {
    await net.stop();
  });

  async function taskOf(t: TaskNetwork, id: string): Promise<TaskView> {
    const found = (await (await t.tasks(t.admin)).get_task(id))[0];
    if (found === undefined) throw new Error(`task ${id} not found`);
    return found;
  }

  async function reputationOf(t: TaskNetwork, runner: Identity) {
    return (await (await t.tasks(t.admin)).get_reputation(runner.getPrincipal()))[0];
  }

  it('an expired lease requeues the task and counts against its runner; only the runner that finished is paid', async () => {
    const t = await taskNetwork(net, { leaseSeconds: 30n });
    const requester = await t.requester(FUNDS, ALLOWANCE);
    const a = await t.runner();
    const b = await t.runner();
    const [asRequester, asA, asB] = [await t.tasks(requester), await t.tasks(a), await t.tasks(b)];
    const task = okOf(await asRequester.submit_task(t.submitArgs('lease-expiry')));

    const lease = okOf(await asA.claim_task([task.id])).leases[0];
    expect(lease?.expires_at_ns).toBe((lease?.claimed_at_ns ?? 0n) + 30n * SECOND_NS);
    expect(await asB.list_claimable()).toEqual([]); // redundancy 1: no place while A holds the lease

    await net.advanceTime(31_000);
    await processTasks(t);
    expect(await reputationOf(t, a)).toMatchObject({ expired_leases: 1, completed: 0, failed: 0 });
    const requeued = await taskOf(t, task.id);
    expect(requeued).toMatchObject({ state: 'queued', leases: [] });
    expect(requeued.failures.map((f) => [f.runner.toText(), f.reason])).toEqual([[text(a), 'lease expired']]);
    // The expired lease frees its place: B is offered the task (open_places = redundancy − results − running leases).
    expect(
      (await asB.list_claimable()).map((c) => c.id),
      'list_claimable must offer the requeued task'
    ).toEqual([task.id]);
    expect(await asA.list_claimable()).toEqual([]); // A had its turn
    expect(errOf(await asA.claim_task([task.id]))).toEqual({ TaskNotClaimable: { task: task.id, state: 'queued' } });

    okOf(await asB.claim_task([task.id]));
    const late = { Unauthorized: { reason: `no active lease on ${task.id}` } };
    expect(errOf(await asA.complete_task(task.id, resultArgs('too late')))).toEqual(late);
    okOf(await asB.complete_task(task.id, resultArgs('Hello!')));
    const accepted = okOf(await asRequester.accept_task(task.id));
    expect(accepted.paid_runners.map((p) => p.toText())).toEqual([text(b)]);
    await processTasks(t);

    expect(await t.balance(b)).toBe(RUNNER_NET);
    expect(await t.balance(a)).toBe(0n);
    expect(await t.balance(t.treasury)).toBe(TREASURY_NET);
    expect(await t.balance(requester)).toBe(AFTER_ONE_SUBMIT + UNUSED_NET);
    expect(await escrowBalance(t)).toBe(0n);
    expect(errOf(await asA.complete_task(task.id, resultArgs('much too late')))).toEqual(late);
    expect(await reputationOf(t, b)).toMatchObject({ completed: 1, expired_leases: 0 });
  });

  it('a task nobody claims before its deadline expires and refunds the reward minus the ledger fee', async () => {
    const t = await taskNetwork(net);
    const requester = await t.requester(FUNDS, ALLOWANCE);
    const runner = await t.runner();
    const task = okOf(
      await (await t.tasks(requester)).submit_task(t.submitArgs('deadline', { deadline_ns: net.engine.now() + 60n * SECOND_NS }))
    );
    expect(await t.balance(requester)).toBe(AFTER_ONE_SUBMIT);

    await net.advanceTime(61_000);
    await processTasks(t);
    const expired = await taskOf(t, task.id);
    expect(expired.state).toBe('expired');
    expect(expired.outcome[0]).toMatch(/deadline/);
    expect(await t.balance(requester)).toBe(AFTER_ONE_SUBMIT + REFUND_NET);
    expect(await escrowBalance(t)).toBe(0n);
    expect(await payoutsOf(t)).toEqual([]);
    expect(errOf(await (await t.tasks(runner)).claim_task([task.id]))).toEqual({ NotFound: { kind: { Task: null }, id: task.id } });
  });

  it('a review window that ends without a decision accepts the result and pays the runner', async () => {
    const t = await taskNetwork(net, { reviewWindowSeconds: 60n });
    const requester = await t.requester(FUNDS, ALLOWANCE);
    const runner = await t.runner();
    const asRunner = await t.tasks(runner);
    const task = okOf(await (await t.tasks(requester)).submit_task(t.submitArgs('silence')));
    okOf(await asRunner.claim_task([task.id]));
    const before = net.engine.now();
    okOf(await asRunner.complete_task(task.id, resultArgs('Hello!')));
    const inReview = await taskOf(t, task.id);
    expect(inReview.state).toBe('review');
    expect(inReview.review_ends_at_ns[0]).toBeGreaterThanOrEqual(before + 60n * SECOND_NS);

    await processTasks(t); // the window is still open
    expect((await taskOf(t, task.id)).state).toBe('review');

    await net.advanceTime(61_000);
    await processTasks(t);
    const accepted = await taskOf(t, task.id);
    expect(accepted.state).toBe('accepted');
    expect(accepted.outcome[0]).toMatch(/review window ended/);
    expect(await t.balance(runner)).toBe(RUNNER_NET);
    expect(await t.balance(t.treasury)).toBe(TREASURY_NET);
    expect(await t.balance(requester)).toBe(AFTER_ONE_SUBMIT + UNUSED_NET);
    expect(await escrowBalance(t)).toBe(0n);
  });

  it('a runner whose heartbeat went stale may not claim a named task (NotServing) and finds nothing claimable', async () => {
    const t = await taskNetwork(net);
    const asRequester = await t.tasks(await t.requester(FUNDS, ALLOWANCE));
    const asRunner = await t.tasks(await t.runner());
    const task = okOf(await asRequester.submit_task(t.submitArgs('stale')));
    await net.advanceTime(600_000); // past the heartbeat TTL, well before the task's one-hour deadline
    expect(errOf(await asRunner.claim_task([task.id]))).toEqual({ NotServing: { model: task.model } });
    expect(errOf(await asRunner.claim_task([]))).toEqual({ NotFound: { kind: { ClaimableTask: null }, id: '' } });
  });

  it('a second completion returns the first result; three failures by lease holders fail the task and refund it', async () => {
    const t = await taskNetwork(net);
    const requester = await t.requester(FUNDS, ALLOWANCE);
    const asRequester = await t.tasks(requester);
    const [r1, r2, r3, r4] = [await t.runner(), await t.runner(), await t.runner(), await t.runner()];
    const [as1, as2, as3, as4] = [await t.tasks(r1), await t.tasks(r2), await t.tasks(r3), await t.tasks(r4)];

    const twice = okOf(await asRequester.submit_task(t.submitArgs('complete-twice')));
    okOf(await as4.claim_task([twice.id]));
    const first = okOf(await as4.complete_task(twice.id, resultArgs('first answer')));
    expect(okOf(await as4.complete_task(twice.id, resultArgs('second answer', { output_tokens: 1n })))).toEqual(first);
    const reviewed = await taskOf(t, twice.id);
    expect(reviewed.state).toBe('review');
    expect(reviewed.results).toEqual([first]);
    expect((await reputationOf(t, r4))?.completed).toBe(1);

    const doomed = okOf(await asRequester.submit_task(t.submitArgs('fail-three-times')));
    okOf(await as1.claim_task([doomed.id]));
    expect(errOf(await as2.fail_task(doomed.id, 'not mine'))).toEqual({ Unauthorized: { reason: `no active lease on ${doomed.id}` } });
    const once = okOf(await as1.fail_task(doomed.id, 'out of memory'));
    expect(once).toMatchObject({ state: 'queued', leases: [] });
    expect(once.failures.map((f) => [f.runner.toText(), f.reason])).toEqual([[text(r1), 'out of memory']]);
    // Reporting the failure again changes nothing.
    expect(okOf(await as1.fail_task(doomed.id, 'out of memory again')).failures).toHaveLength(1);
    expect(await reputationOf(t, r1)).toMatchObject({ failed: 1, completed: 0 });
    expect(errOf(await as1.claim_task([doomed.id]))).toEqual({ TaskNotClaimable: { task: doomed.id, state: 'queued' } });
    // A failed runner frees its place for another runner.
    expect(
      (await as2.list_claimable()).map((c) => c.id),
      'list_claimable must offer a task whose runner failed'
    ).toContain(doomed.id);

    okOf(await as2.claim_task([doomed.id]));
    expect(okOf(await as2.fail_task(doomed.id, 'timeout')).state).toBe('queued');
    okOf(await as3.claim_task([doomed.id]));
    const failed = okOf(await as3.fail_task(doomed.id, 'engine crashed'));
    expect(failed.state).toBe('failed');
    expect(failed.outcome[0]).toMatch(/failed 3 times/);
    await processTasks(t);

    expect(await t.balance(requester)).toBe(FUNDS - FEE - 2n * (REWARD + FEE) + REFUND_NET);
    expect(await escrowBalance(t)).toBe(REWARD); // the task in review still holds its escrow
    for (const r of [r1, r2, r3]) expect(await t.balance(r)).toBe(0n);
    expect(await payoutsOf(t)).toEqual([]);
  });

  it('a payout made while the ledger is stopped stays pending and is paid exactly once after it starts', async () => {
    const t = await taskNetwork(net);
    const requester = await t.requester(FUNDS, ALLOWANCE);
    const runner = await t.runner();
    const asRunner = await t.tasks(runner);
    const task = okOf(await (await t.tasks(requester)).submit_task(t.submitArgs('ledger-down')));
    okOf(await asRunner.claim_task([task.id]));
    okOf(await asRunner.complete_task(task.id, resultArgs('Hello!')));

    // Stopped before the accept, so that no timer pass can pay before the ledger is down.
    await setCanisterRunning(net, t.ledger, false);
    expect(okOf(await (await t.tasks(requester)).accept_task(task.id)).state).toBe('accepted');
    await processTasks(t);
    const pending = await payoutsOf(t);
    expect(pending.map((p) => [p.kind, p.amount_e8s]).sort()).toEqual([
      ['refund', UNUSED_NET + FEE],
      ['runner', COST + FEE],
      ['treasury', PROTOCOL_FEE]
    ]);
    for (const payout of pending) {
      expect(payout.attempts).toBeGreaterThanOrEqual(1);
      expect(payout.last_error[0]).toMatch(/stopped|IC0508/i);
    }
    await expect(t.balance(runner)).rejects.toThrow(/stopped|IC0508/i);

    await setCanisterRunning(net, t.ledger, true);
    // Each failed attempt backs the payout off (5 s after the first): the next pass after that pays it.
    await net.advanceTime(6_000);
    await processTasks(t);
    expect(await payoutsOf(t)).toEqual([]);
    expect(await t.balance(runner)).toBe(RUNNER_NET);
    expect(await t.balance(t.treasury)).toBe(TREASURY_NET);
    expect(await escrowBalance(t)).toBe(0n);

    await processTasks(t);
    expect(await t.balance(runner)).toBe(RUNNER_NET);
    expect(await t.balance(t.treasury)).toBe(TREASURY_NET);
    expect(await escrowBalance(t)).toBe(0n);
  });

  it('redundancy 3 pays the agreeing majority exactly, rejects the outlier, and refunds when nobody agrees up to the escalation bound', async () => {
    const t = await taskNetwork(net);
    const requester = await t.requester(FUNDS, ALLOWANCE);
    const asRequester = await t.tasks(requester);
    const [a, b, c] = [await t.runner(), await t.runner(), await t.runner()];
    const [asA, asB, asC] = [await t.tasks(a), await t.tasks(b), await t.tasks(c)];

    for (const limits of [
      { max_output_tokens: 64, temperature: [] as [], seed: [] as [] },
      { max_output_tokens: 64, temperature: [0] as [number], seed: [] as [] },
      { max_output_tokens: 64, temperature: [0.7] as [number], seed: [42n] as [bigint] }
    ]) {
      expect(errOf(await asRequester.submit_task(t.submitArgs('nondeterministic', { limits, redundancy: [3] })))).toMatchObject({
        InvalidArgument: { field: 'limits' }
      });
    }
    expect(await t.balance(requester)).toBe(FUNDS - FEE);

    // Each agreeing runner is paid its own metered cost; the budget's unused part goes back to the requester.
    const reward = REWARD + 1n;
    const majority = okOf(
      await asRequester.submit_task(t.submitArgs('majority', { limits: DETERMINISTIC, redundancy: [3], reward_e8s: reward }))
    );
    expect((await asA.list_claimable()).find((s) => s.id === majority.id)?.open_places).toBe(3);
    for (const actor of [asA, asB, asC]) okOf(await actor.claim_task([majority.id]));
    okOf(await asA.complete_task(majority.id, resultArgs('Paris')));
    okOf(await asC.complete_task(majority.id, resultArgs('Lyon')));
    expect((await taskOf(t, majority.id)).state).toBe('queued');
    okOf(await asB.complete_task(majority.id, resultArgs('Paris')));
    expect((await taskOf(t, majority.id)).state).toBe('review');
    const accepted = okOf(await asRequester.accept_task(majority.id));
    expect(accepted.state).toBe('accepted');
    expect(accepted.paid_runners.map((p) => p.toText())).toEqual([text(a), text(b)]);
    await processTasks(t);

    expect(await t.balance(a)).toBe(RUNNER_NET);
    expect(await t.balance(b)).toBe(RUNNER_NET);
    expect(await t.balance(c)).toBe(0n);
    expect(await t.balance(t.treasury)).toBe(TREASURY_NET);
    expect(await escrowBalance(t)).toBe(0n);
    // The out-voted result counts as rejected, not also as completed.
    expect(await reputationOf(t, c)).toMatchObject({ completed: 0, rejected: 1 });
    for (const r of [a, b]) expect(await reputationOf(t, r)).toMatchObject({ completed: 1, rejected: 0 });

    const split = okOf(await asRequester.submit_task(t.submitArgs('no-majority', { limits: DETERMINISTIC, redundancy: [3] })));
    for (const actor of [asA, asB, asC]) okOf(await actor.claim_task([split.id]));
    okOf(await asA.complete_task(split.id, resultArgs('Paris')));
    okOf(await asB.complete_task(split.id, resultArgs('Lyon')));
    okOf(await asC.complete_task(split.id, resultArgs('Marseille')));
    // No majority escalates (by the timer, when the review ends) for 2 more results from further operators; still none
    // at the bound is the dispute.
    expect(okOf(await asRequester.accept_task(split.id)).state).toBe('review');
    await endReview(t, split.id);
    const escalated = await taskOf(t, split.id);
    expect(escalated.state).toBe('queued');
    expect(escalated.outcome[0]).toMatch(/^escalated: no majority/);
    const [d, e] = [await t.runner(), await t.runner()];
    for (const [runner, output] of [
      [d, 'Rome'],
      [e, 'Nice']
    ] as const) {
      const actor = await t.tasks(runner);
      okOf(await actor.claim_task([split.id]));
      okOf(await actor.complete_task(split.id, resultArgs(output)));
    }
    await endReview(t, split.id);
    expect((await taskOf(t, split.id)).state).toBe('queued');
    const [f, g] = [await t.runner(), await t.runner()];
    for (const [runner, output] of [
      [f, 'Oslo'],
      [g, 'Bern']
    ] as const) {
      const actor = await t.tasks(runner);
      okOf(await actor.claim_task([split.id]));
      okOf(await actor.complete_task(split.id, resultArgs(output)));
    }
    await endReview(t, split.id);
    const failed = await taskOf(t, split.id);
    expect(failed.state).toBe('failed');
    expect(failed.paid_runners).toEqual([]);
    expect(failed.outcome[0]).toMatch(/^disputed: no majority/);
    await processTasks(t);

    const majorityUnused = reward - 2n * (COST + FEE) - PROTOCOL_FEE - FEE;
    expect(await t.balance(requester)).toBe(FUNDS - FEE - (reward + FEE) - (REWARD + FEE) + REFUND_NET + majorityUnused);
    expect(await t.balance(a)).toBe(RUNNER_NET);
    expect(await t.balance(b)).toBe(RUNNER_NET);
    expect(await t.balance(c)).toBe(0n);
    expect(await t.balance(t.treasury)).toBe(TREASURY_NET);
    expect(await escrowBalance(t)).toBe(0n);
  }, 180_000);

  it('returns every task error variant through the agent', async () => {
    const t = await taskNetwork(net);
    const requester = await t.requester(FUNDS, ALLOWANCE);
    const asRequester = await t.tasks(requester);
    const runner = await t.runner(1);
    const asRunner = await t.tasks(runner);
    const stranger = Ed25519KeyIdentity.generate();
    const asStranger = await t.tasks(stranger);
    const asAnonymous = await t.tasks(new AnonymousIdentity());
    const missing = 'task-999999999999';

    // AnonymousCaller: anonymous ingress is refused by inspect_message before the method runs (IC0406); the typed
    // variant, what a calling canister gets, is asserted for each method in tests/unit/core/tasks.test.ts.
    const refused = /rejected the message|IC0406/;
    await expect(asAnonymous.submit_task(t.submitArgs('anonymous'))).rejects.toThrow(refused);
    await expect(asAnonymous.claim_task([])).rejects.toThrow(refused);
    await expect(asAnonymous.complete_task(missing, resultArgs('x'))).rejects.toThrow(refused);
    await expect(asAnonymous.accept_task(missing)).rejects.toThrow(refused);

    // NotConfigured: a registry whose tasks were never configured.
    const bare = await net.installCanister({ wasm: registryWasm(), arg: registryInitArgs({ admins: [t.admin.getPrincipal()] }) });
    const asBare = Actor.createActor<TaskActor>(registryIdlFactory, { agent: await agentFor(net.url, requester), canisterId: bare });
    expect(errOf(await asBare.submit_task(t.submitArgs('unconfigured')))).toMatchObject({
      NotConfigured: { what: expect.stringMatching(/ledger/) }
    });

    // InvalidArgument: nothing is escrowed for a refused submit.
    const now = net.engine.now();
    const invalid = [
      { field: 'reward_e8s', overrides: { reward_e8s: 99_999n } },
      { field: 'deadline_ns', overrides: { deadline_ns: now - 1n } },
      { field: 'deadline_ns', overrides: { deadline_ns: now + 8n * 24n * 3600n * SECOND_NS } },
      {
        field: 'input.digest',
        overrides: {
          input: { inline: [] as [], digest: ['sha256:1234'] as [string], reference: ['https://example.org/prompt'] as [string] }
        }
      }
    ];
    for (const { field, overrides } of invalid) {
      expect(errOf(await asRequester.submit_task(t.submitArgs(`bad-${field}`, overrides))), field).toMatchObject({
        InvalidArgument: { field }
      });
    }
    // An inline input just over 256 KiB is refused with InvalidArgument; it used to trap (IC0522) because Azle's
    // TextDecoder polyfill decodes Candid text in quadratic time (canisters/common/text-codec.ts replaces it).
    const oversized = t.submitArgs('bad-input.inline', { input: { inline: ['x'.repeat(256 * 1024 + 1)], digest: [], reference: [] } });
    const oversizedReply = await asRequester.submit_task(oversized).catch((error: unknown) => ({
      Trapped: String(error)
        .split('\n')
        .find((l) => l.includes('Reject text'))
    }));
    expect(
      oversizedReply,
      `an oversized input must be refused, not trap: ${JSON.stringify(oversizedReply, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)).slice(0, 300)}`
    ).toMatchObject({ Err: { InvalidArgument: { field: 'input.inline' } } });
    expect(await t.balance(requester)).toBe(FUNDS - FEE);
    expect(errOf(await (await t.tasks(t.admin)).set_task_config(taskConfigArgs({ lease_seconds: [1n] })))).toMatchObject({
      InvalidArgument: { field: 'lease_seconds' }
    });

    // NotFound
    expect(errOf(await asRequester.accept_task(missing))).toEqual({ NotFound: { kind: { Task: null }, id: missing } });
    expect(errOf(await asRunner.complete_task(missing, resultArgs('x')))).toEqual({ NotFound: { kind: { Task: null }, id: missing } });
    expect(errOf(await asRunner.claim_task([missing]))).toEqual({ NotFound: { kind: { Task: null }, id: missing } });
    expect(await asRequester.get_task(missing)).toEqual([]);

    // LedgerError: no allowance, and an allowance without the funds behind it.
    const unapproved = await t.requester(FUNDS);
    const noAllowance = errOf(await (await t.tasks(unapproved)).submit_task(t.submitArgs('no-allowance')));
    expect(noAllowance).toMatchObject({ LedgerError: { operation: 'icrc2_transfer_from' } });
    expect(JSON.stringify(noAllowance)).toMatch(/InsufficientAllowance/);
    const broke = await t.requester(2n * FEE, ALLOWANCE);
    expect(JSON.stringify(errOf(await (await t.tasks(broke)).submit_task(t.submitArgs('no-funds'))))).toMatch(
      /LedgerError.*InsufficientFunds/
    );
    expect(await t.balance(unapproved)).toBe(FUNDS);
    expect(await t.balance(broke)).toBe(FEE);

    const first = okOf(await asRequester.submit_task(t.submitArgs('first')));
    const second = okOf(await asRequester.submit_task(t.submitArgs('second')));
    expect(errOf(await (await t.tasks(stranger)).claim_task([first.id]))).toEqual({
      NotFound: { kind: { Runner: null }, id: text(stranger) }
    });

    // NotInReview
    expect(errOf(await asRequester.accept_task(first.id))).toEqual({ NotInReview: { task: first.id, state: 'queued' } });
    expect(errOf(await asRequester.reject_task(first.id, 'too early'))).toEqual({ NotInReview: { task: first.id, state: 'queued' } });

    // Unauthorized
    const noLease = { Unauthorized: { reason: `no active lease on ${first.id}` } };
    expect(errOf(await asRunner.complete_task(first.id, resultArgs('unleased')))).toEqual(noLease);
    expect(errOf(await asRunner.fail_task(first.id, 'unleased'))).toEqual(noLease);

    // NoCapacity: one slot, one lease held.
    okOf(await asRunner.claim_task([first.id]));
    expect(errOf(await asRunner.claim_task([second.id]))).toEqual({ NoCapacity: { slots: 1 } });
    expect(errOf(await asRunner.claim_task([]))).toEqual({ NoCapacity: { slots: 1 } });

    expect(errOf(await asRunner.complete_task(first.id, resultArgs('x', { output_digest: 'sha256:nothex' })))).toMatchObject({
      InvalidArgument: { field: 'output_digest' }
    });
    okOf(await asRunner.complete_task(first.id, resultArgs('Hello!')));
    const notRequester = { Unauthorized: { reason: 'only the requester may accept or reject a task' } };
    expect(errOf(await asStranger.accept_task(first.id))).toEqual(notRequester);
    expect(errOf(await asStranger.reject_task(first.id, 'mine now'))).toEqual(notRequester);
    expect(errOf(await asRunner.accept_task(first.id))).toEqual(notRequester);
    const notAdmin = { Unauthorized: { reason: 'only registry admins may do this' } };
    expect(errOf(await asStranger.set_task_config(taskConfigArgs({ protocol_fee_bps: [0] })))).toEqual(notAdmin);
    expect(errOf(await asStranger.process_tasks())).toEqual(notAdmin);
    expect((await asRequester.get_task_config()).protocol_fee_bps).toBe(500);
    expect((await taskOf(t, first.id)).state).toBe('review');
  });

  it('a task in flight survives a registry upgrade and is paid afterwards; the task config and the timer survive too', async () => {
    const t = await taskNetwork(net, { leaseSeconds: 300n, reviewWindowSeconds: 60n });
    const requester = await t.requester(FUNDS, ALLOWANCE);
    const asRequester = await t.tasks(requester);
    const runner = await t.runner();
    const asRunner = await t.tasks(runner);
    const admin = await t.tasks(t.admin);
    const configBefore = await admin.get_task_config();
    const task = okOf(await asRequester.submit_task(t.submitArgs('across-upgrade')));
    okOf(await asRunner.claim_task([task.id]));
    const silent = okOf(await asRequester.submit_task(t.submitArgs('silent-across-upgrade')));
    okOf(await asRunner.claim_task([silent.id]));
    okOf(await asRunner.complete_task(silent.id, resultArgs('Bonjour!')));

    await net.installCode(t.registry, 'upgrade', registryWasm(), registryInitArgs(undefined));

    expect(await admin.get_task_config()).toEqual(configBefore);
    expect((await taskOf(t, task.id)).leases.map((l) => l.runner.toText())).toEqual([text(runner)]);
    // The idempotency index survived: the same key returns the same task and escrows nothing.
    expect(okOf(await asRequester.submit_task(t.submitArgs('across-upgrade'))).id).toBe(task.id);
    okOf(await asRunner.complete_task(task.id, resultArgs('Hello!')));
    expect(okOf(await asRequester.accept_task(task.id)).state).toBe('accepted');
    await processTasks(t);
    expect(await t.balance(runner)).toBe(RUNNER_NET);
    expect(await t.balance(requester)).toBe(FUNDS - FEE - 2n * (REWARD + FEE) + UNUSED_NET);

    // No process_tasks call: the maintenance timer restarted by post_upgrade ends the review and pays.
    await net.advanceTime(61_000);
    await net.tick();
    expect((await taskOf(t, silent.id)).state).toBe('accepted');
    // Payouts are the payout timer's, a message of its own: its next run (5 s) pays what the transition recorded.
    await net.advanceTime(5_000);
    await net.tick();
    expect(await t.balance(runner)).toBe(2n * RUNNER_NET);
    expect(await t.balance(t.treasury)).toBe(2n * TREASURY_NET);
    expect(await escrowBalance(t)).toBe(0n);
  });

  it("mints each epoch's emission to the runners by the protocol fees their accepted work paid, never by reported tokens", async () => {
    const budget = 1_000_000_003n;
    const epochNs = 60n * SECOND_NS;
    const t = await taskNetwork(net, { emissionPerEpoch: budget, epochSeconds: 60n });
    const untilNextEpochMs = (): number => Number((epochNs - (net.engine.now() % epochNs)) / 1_000_000n) + 1_000;
    // Start just after an hour boundary (the epoch opened before epoch_seconds was set may last an hour), so that
    // both tasks are accepted within one 60 s epoch.
    const hourNs = 3600n * SECOND_NS;
    await net.advanceTime(Number((hourNs - (net.engine.now() % hourNs)) / 1_000_000n) + 1_000);
    await processTasks(t);

    const requester = await t.requester(FUNDS, ALLOWANCE);
    const asRequester = await t.tasks(requester);
    const a = await t.runner();
    const b = await t.runner();
    // b reports far more tokens than a: it earns no more, since both tasks paid the same fee.
    const work: Array<[Ed25519KeyIdentity, bigint, bigint]> = [
      [a, 3n, 4n],
      [b, 500n, 8n]
    ];
    for (const [runner, inputTokens, outputTokens] of work) {
      const asRunner = await t.tasks(runner);
      const task = okOf(await asRequester.submit_task(t.submitArgs(`work-${text(runner)}`)));
      okOf(await asRunner.claim_task([task.id]));
      okOf(
        await asRunner.complete_task(
          task.id,
          resultArgs(`answer of ${text(runner)}`, { input_tokens: inputTokens, output_tokens: outputTokens })
        )
      );
      okOf(await asRequester.accept_task(task.id));
    }
    await processTasks(t);
    expect(await t.balance(a)).toBe(RUNNER_NET);
    expect(await t.balance(b)).toBe(RUNNER_NET);
    const supplyBefore = await (await t.token(t.admin)).icrc1_total_supply();

    await net.advanceTime(untilNextEpochMs());
    await processTasks(t);
    expect(await payoutsOf(t)).toEqual([]);
    const mintedA = (await t.balance(a)) - RUNNER_NET;
    const mintedB = (await t.balance(b)) - RUNNER_NET;
    // The fees paid (2 × PROTOCOL_FEE) are far below the budget: the epoch mints them back, no more.
    expect([mintedA, mintedB]).toEqual([PROTOCOL_FEE, PROTOCOL_FEE]);
    expect(await (await t.token(t.admin)).icrc1_total_supply()).toBe(supplyBefore + 2n * PROTOCOL_FEE);

    // An epoch without accepted work mints nothing.
    await net.advanceTime(untilNextEpochMs());
    await processTasks(t);
    expect(await t.balance(a)).toBe(RUNNER_NET + mintedA);
    expect(await t.balance(b)).toBe(RUNNER_NET + mintedB);
    expect(await (await t.token(t.admin)).icrc1_total_supply()).toBe(supplyBefore + 2n * PROTOCOL_FEE);
  });
});
