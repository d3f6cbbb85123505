import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { registryInitArgs } from '../../src/interface/registry/index.ts';
import { Localnet } from '../../src/localnet/localnet.ts';
import { errOf, okOf, registryWasm } from '../support/registry.ts';
import { escrowBalance, FEE, payoutsOf, resultArgs, REWARD, setCanisterRunning, taskNetwork, type TaskNetwork } from '../support/tasks.ts';

/**
 * Issue 15 on the built registry Wasm: what a caller meets between an ending (a review window, an escrow's reply) and
 * the maintenance timer that settles it.
 */
const FUNDS = 10_000_000n;
const ALLOWANCE = 5_000_000n;
/** A test result's metered cost (12 + 34 tokens at the test runners' 1,000 / 3,000 per million, rounded up). */
const RUNNER_NET = 1n;
/** Past the 120 s after which an escrow whose reply never came is retried (STALE_ESCROW_NS), plus a timer interval. */
const STALE_ESCROW_MS = 126_000;
const firstTaskId = `task-${'1'.padStart(12, '0')}`;

describe('settlement races (issue 15)', () => {
  let net: Localnet;
  /** Resolvers waiting for the registry's next timer run. */
  let timerWaiters: Array<() => void> = [];
  let registryId = '';

  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
    net.onExecution((e) => {
      if (e.canisterId !== registryId || !e.entry.includes('timer')) return;
      const waiting = timerWaiters;
      timerWaiters = [];
      for (const resolve of waiting) resolve();
    });
  });
  afterAll(async () => {
    await net.stop();
  });

  /** Resolves once the registry's timers have run (they run every 5 s of canister time, which follows the wall clock). */
  const afterTimerRun = (): Promise<void> => new Promise((resolve) => timerWaiters.push(() => setImmediate(resolve)));

  async function stateOf(t: TaskNetwork, id: string): Promise<string | undefined> {
    return (await (await t.tasks(t.admin)).get_task(id))[0]?.state;
  }

  it('refuses a reject after the review window ended, before the timer settled it (ReviewEnded); an accept still accepts; the timer accepts and pays the other', async () => {
    // A window of 0: the review ends as the result is recorded, and the next message sees it ended.
    const t = await taskNetwork(net, { reviewWindowSeconds: 0n });
    registryId = t.registry.toText();
    const requester = await t.requester(FUNDS, ALLOWANCE);
    const asRequester = await t.tasks(requester);
    const runner = await t.runner(4);
    const asRunner = await t.tasks(runner);

    // Just after a timer run, so that the next one (5 s later) cannot settle the review between the two calls; should
    // a loaded machine still let it in, the attempt shows it (NotInReview, accepted) and is made again.
    let refused: unknown;
    let late = '';
    let served = 0n;
    for (let attempt = 0; attempt < 3 && refused === undefined; attempt++) {
      const task = okOf(await asRequester.submit_task(t.submitArgs(`late-${attempt}`)));
      okOf(await asRunner.claim_task([task.id]));
      await afterTimerRun();
      okOf(await asRunner.complete_task(task.id, resultArgs('Hello!')));
      served++;
      const answer = await asRequester.reject_task(task.id, 'too late');
      if ('Err' in answer && 'NotInReview' in answer.Err) continue;
      refused = errOf(answer);
      late = task.id;
    }
    const endedAt = (await (await t.tasks(requester)).get_task(late))[0]?.review_ends_at_ns[0];
    expect(endedAt).toBeDefined();
    expect(refused).toEqual({ ReviewEnded: { task: late, ended_at_ns: endedAt } });
    // Refused, nothing changed: the result still counts as accepted when the timer comes.
    expect(await stateOf(t, late)).toBe('review');

    // Accepting after the window is allowed: it is what the timer would do.
    const other = okOf(await asRequester.submit_task(t.submitArgs('accepted-late')));
    okOf(await asRunner.claim_task([other.id]));
    okOf(await asRunner.complete_task(other.id, resultArgs('Hello!')));
    served++;
    expect(okOf(await asRequester.accept_task(other.id)).state).toBe('accepted');

    for (let i = 0; i < 6 && ((await stateOf(t, late)) !== 'accepted' || (await payoutsOf(t)).length > 0); i++)
      await net.advanceTime(5_000);
    expect(await stateOf(t, late)).toBe('accepted');
    expect(await payoutsOf(t)).toEqual([]);
    // Every task served was paid once, the refused reject's too (and any attempt the timer settled first).
    expect(await t.balance(runner)).toBe(served * RUNNER_NET);
    expect(await escrowBalance(t)).toBe(0n);
  }, 120_000);

  it('retries an escrow whose reply was lost (an upgrade between call and reply) until the ledger answers, and escrows it exactly once', async () => {
    const t = await taskNetwork(net);
    registryId = t.registry.toText();
    const requester = await t.requester(FUNDS, ALLOWANCE);
    const asRequester = await t.tasks(requester);
    const funded = await t.balance(requester);

    // The registry is upgraded after the ledger moved the money and before its reply comes back: the reply is lost.
    let armed = true;
    net.onExecution((e) => {
      if (!armed || e.canisterId !== t.ledger.toText() || e.entry !== 'canister_update icrc2_transfer_from') return;
      armed = false;
      void net.installCode(t.registry, 'upgrade', registryWasm(), registryInitArgs(undefined));
    });
    await expect(asRequester.submit_task(t.submitArgs('lost-reply'))).rejects.toThrow();
    expect(armed).toBe(false);
    expect(await stateOf(t, firstTaskId)).toBe('escrowing');
    expect(await t.balance(requester)).toBe(funded - REWARD - FEE);
    expect(await escrowBalance(t)).toBe(REWARD);

    // The first retry meets a stopped ledger: the call is rejected, which proves nothing, so the task stays escrowing
    // (before, it was dropped, and the escrowed money was left without a task to refund it).
    await setCanisterRunning(net, t.ledger, false);
    await net.advanceTime(STALE_ESCROW_MS);
    expect(await stateOf(t, firstTaskId)).toBe('escrowing');

    // The ledger is back: the next retry learns the transfer went through (Duplicate) and queues the task.
    await setCanisterRunning(net, t.ledger, true);
    await net.advanceTime(STALE_ESCROW_MS);
    const task = (await asRequester.get_task(firstTaskId))[0];
    expect(task?.state).toBe('queued');
    expect(task?.escrow_block).toHaveLength(1);
    // The same idempotency key returns the task; nothing moved twice.
    expect(okOf(await asRequester.submit_task(t.submitArgs('lost-reply'))).id).toBe(firstTaskId);
    expect(await t.balance(requester)).toBe(funded - REWARD - FEE);
    expect(await escrowBalance(t)).toBe(REWARD);

    // And it is served and paid like any other task.
    const runner = await t.runner();
    const asRunner = await t.tasks(runner);
    okOf(await asRunner.claim_task([firstTaskId]));
    okOf(await asRunner.complete_task(firstTaskId, resultArgs('Hello!')));
    okOf(await asRequester.accept_task(firstTaskId));
    for (let i = 0; i < 4 && (await payoutsOf(t)).length > 0; i++) await net.advanceTime(5_000);
    expect(await t.balance(runner)).toBe(RUNNER_NET);
    expect(await escrowBalance(t)).toBe(0n);
  }, 120_000);
});
