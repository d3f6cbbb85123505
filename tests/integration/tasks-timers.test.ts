import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Localnet } from '../../src/localnet/localnet.ts';
import { okOf } from '../support/registry.ts';
import { FEE, payoutsOf, resultArgs, REWARD, setCanisterRunning, taskNetwork, type TaskNetwork } from '../support/tasks.ts';

/**
 * Issue 15 on the built registry Wasm, through its own timers (no process_tasks): task transitions, payouts and
 * escrow retries run as three timer messages every 5 s, so an attacker's queue cannot hold back an honest task's
 * transitions or its payout, and failed payouts cannot hold back a new one.
 */
const SECOND_NS = 1_000_000_000n;
/** The runner receives its metered cost (12 + 34 tokens at the test runners' 1,000 / 3,000 per million, rounded up). */
const RUNNER_NET = 1n;
const REFUND_NET = REWARD - FEE;
/** What an accepted task's requester gets back: the budget less the runner's cost, the fee floor and two ledger fees. */
const UNUSED_NET = REWARD - (RUNNER_NET + FEE) - 20_000n - FEE;
/** Tasks the attacker's runner leases and fails (each stays queued, "done" for its only place). */
const FAILED_TASKS = 40;
/** Refunds that fail while the ledger is stopped, then wait in the retry lane, due again. */
const FAILED_PAYOUTS = 100;

describe('maintenance timers (issue 15: nobody can freeze the market)', () => {
  let net: Localnet;
  let t: TaskNetwork;
  const timerMessages: bigint[] = [];

  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
    t = await taskNetwork(net, { reviewWindowSeconds: 30n });
    net.onExecution((e) => {
      if (e.canisterId === t.registry.toText() && e.entry.includes('timer_executor')) timerMessages.push(e.instructions);
    });
  });
  afterAll(async () => {
    await net.stop();
  });

  /** Advances canister time 5 s at a time (each step runs the due timers) until `done` or `steps` steps. */
  async function runTimers(steps: number, done: () => Promise<boolean> = async () => false): Promise<number> {
    for (let i = 1; i <= steps; i++) {
      await net.advanceTime(5_000);
      if (await done()) return i;
    }
    return steps;
  }

  it("runs transitions, payouts and escrow retries as separate timer messages, and an attacker's failed tasks hold back no honest transition or payout", async () => {
    // Three messages per 5 s: a trap or IC0522 in one cannot roll back another's work.
    const before = timerMessages.length;
    await runTimers(1);
    expect(timerMessages.length - before).toBeGreaterThanOrEqual(3);

    const attacker = await t.requester(BigInt(FAILED_TASKS + 5) * (REWARD + FEE), BigInt(FAILED_TASKS + 5) * (REWARD + FEE));
    const asAttacker = await t.tasks(attacker);
    const attackerRunner = await t.tasks(await t.runner(2));
    const deadline = net.engine.now() + 3_600n * SECOND_NS;
    for (let i = 0; i < FAILED_TASKS; i++) {
      const task = okOf(await asAttacker.submit_task(t.submitArgs(`bait-${i}`, { deadline_ns: deadline })));
      okOf(await attackerRunner.claim_task([task.id]));
      okOf(await attackerRunner.fail_task(task.id, 'on purpose'));
    }

    const victim = await t.requester(10_000_000n, 5_000_000n);
    const asVictim = await t.tasks(victim);
    const honest = await t.runner();
    const asHonest = await t.tasks(honest);
    // One task nobody serves before its deadline (refunded), one answered and left in review (accepted at its end).
    const expiring = okOf(await asVictim.submit_task(t.submitArgs('expiring', { deadline_ns: net.engine.now() + 20n * SECOND_NS })));
    const answered = okOf(await asVictim.submit_task(t.submitArgs('answered')));
    okOf(await asHonest.claim_task([answered.id]));
    okOf(await asHonest.complete_task(answered.id, resultArgs('Hello!')));
    expect((await asVictim.get_task(answered.id))[0]?.state).toBe('review');
    const victimBefore = await t.balance(victim);

    // Both fall due within 30 s; the timers settle and pay them at the next runs, whatever the attacker queued.
    const steps = await runTimers(
      10,
      async () => (await t.balance(honest)) === RUNNER_NET && (await t.balance(victim)) === victimBefore + REFUND_NET + UNUSED_NET
    );
    expect(steps).toBeLessThanOrEqual(7);
    expect((await asVictim.get_task(expiring.id))[0]?.state).toBe('expired');
    expect((await asVictim.get_task(answered.id))[0]?.state).toBe('accepted');
    expect(await t.balance(victim)).toBe(victimBefore + REFUND_NET + UNUSED_NET);
    expect(await t.balance(honest)).toBe(RUNNER_NET);
    // The failed tasks stay queued until their deadline, visited by no timer run meanwhile.
    expect((await asAttacker.get_task(`task-${'1'.padStart(12, '0')}`))[0]?.state).toBe('queued');
    for (const instructions of timerMessages) expect(instructions).toBeLessThan(4_500_000_000n);
  }, 600_000);

  it(`pays a new payout in the next run behind ${FAILED_PAYOUTS} that failed (backed off, due again)`, async () => {
    const requester = await t.requester(BigInt(FAILED_PAYOUTS + 5) * (REWARD + FEE), BigInt(FAILED_PAYOUTS + 5) * (REWARD + FEE));
    const asRequester = await t.tasks(requester);
    // Far enough ahead for the submissions however slow the machine; time is then advanced past it.
    const deadline = net.engine.now() + 600n * SECOND_NS;
    for (let i = 0; i < FAILED_PAYOUTS; i++) okOf(await asRequester.submit_task(t.submitArgs(`refund-${i}`, { deadline_ns: deadline })));
    const victim = await t.requester(10_000_000n, 5_000_000n);
    const late = okOf(await (await t.tasks(victim)).submit_task(t.submitArgs('late', { deadline_ns: deadline + 60n * SECOND_NS })));

    // The ledger stops: every refund's first attempt fails and is backed off.
    await setCanisterRunning(net, t.ledger, false);
    await net.advanceTime(Number((deadline - net.engine.now()) / 1_000_000n) + 1_000);
    await runTimers(12, async () => {
      const pending = await payoutsOf(t, 'pending');
      return pending.length === FAILED_PAYOUTS && pending.every((p) => p.attempts >= 1);
    });
    const failed = await payoutsOf(t, 'pending');
    expect(failed).toHaveLength(FAILED_PAYOUTS);
    for (const p of failed) expect(p.last_error[0]).toMatch(/stopped|IC0508/i);

    // Back up, with all of them due again when the victim's refund is recorded: it is paid in the run that follows.
    await setCanisterRunning(net, t.ledger, true);
    const victimBefore = await t.balance(victim);
    await net.advanceTime(Number((deadline + 60n * SECOND_NS - net.engine.now()) / 1_000_000n) + 1_000);
    const steps = await runTimers(6, async () => (await t.balance(victim)) > victimBefore);
    expect((await (await t.tasks(victim)).get_task(late.id))[0]?.state).toBe('expired');
    expect(await t.balance(victim)).toBe(victimBefore + REFUND_NET);
    expect(steps).toBe(1);
  }, 600_000);
});
