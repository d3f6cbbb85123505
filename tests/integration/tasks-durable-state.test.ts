import type { Identity } from '@dfinity/agent';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { registryInitArgs } from '../../src/interface/registry/index.ts';
import { Localnet } from '../../src/localnet/localnet.ts';
import { findRequest, heartbeatArgs, okOf, registryWasm } from '../support/registry.ts';
import { payoutsOf, processTasks, resultArgs, taskNetwork, type TaskNetwork } from '../support/tasks.ts';

const SECOND_NS = 1_000_000_000n;
const EPOCH_NS = 60n * SECOND_NS;
const FUNDS = 10_000_000n;
/** The protocol fee of a default task: its floor (min_protocol_fee_e8s). */
const PROTOCOL_FEE = 20_000n;

/**
 * Issue 16, on the built registry: the epoch's close is settled by the maintenance timer, never in the user's call
 * that crosses the epoch's end, and is paid once across an upgrade; affinity bindings survive an upgrade. Both fail on
 * the registry as it was before (the crossing accept_task recorded the emission payout itself; the bindings were
 * heap-only; checked).
 */
describe('state that must outlive a message: the epoch close and affinity bindings', () => {
  let net: Localnet;
  let t: TaskNetwork;

  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
    net.freezeTime();
    t = await taskNetwork(net, { emissionPerEpoch: 1_000_000_000n, epochSeconds: EPOCH_NS / SECOND_NS });
    // Just after an hour boundary (also a 60 s one): the epoch opened before epoch_seconds was set may run an hour.
    const hourNs = 3600n * SECOND_NS;
    await net.advanceTime(Number((hourNs - (net.engine.now() % hourNs)) / 1_000_000n) + 1_000);
    await processTasks(t);
  });
  afterAll(async () => {
    await net.stop();
  });

  const upgrade = (): Promise<void> => net.installCode(t.registry, 'upgrade', registryWasm(), registryInitArgs(undefined));

  /** A task of `requester` answered by `runner`, waiting in review. */
  async function answered(requester: Identity, runner: Identity, key: string, affinityKey?: string): Promise<string> {
    const args = t.submitArgs(
      key,
      affinityKey === undefined ? {} : { request: findRequest({ model: [String(t.card.id)], affinity_key: [affinityKey] }) }
    );
    const id = okOf(await (await t.tasks(requester)).submit_task(args)).id;
    okOf(await (await t.tasks(runner)).claim_task([id]));
    okOf(await (await t.tasks(runner)).complete_task(id, resultArgs(`answer ${key}`)));
    return id;
  }

  it('the accept_task that crosses an epoch end pays no emission itself; the timer mints it once, across an upgrade', async () => {
    // runner-1's work is the ended epoch's one counted task; runner-2's task is accepted across the end.
    const [runner1, runner2] = [await t.runner(), await t.runner()];
    const first = await t.requester(FUNDS, FUNDS);
    okOf(await (await t.tasks(first)).accept_task(await answered(first, runner1, 'in-epoch')));
    const second = await t.requester(FUNDS, FUNDS);
    const crossing = await answered(second, runner2, 'crossing');
    await processTasks(t);
    // Time stops 1 ms before the epoch's end (timers due by then run; each message moves a frozen canister clock by
    // 1 ns), then crosses it with no timer due in between.
    const endNs = net.engine.now() - (net.engine.now() % EPOCH_NS) + EPOCH_NS;
    net.engine.advanceTime(endNs - 1_000_000n - net.engine.now());
    await net.tick();
    const before = await t.balance(runner1);
    net.engine.advanceTime(1_000_000n);

    okOf(await (await t.tasks(second)).accept_task(crossing));
    expect((await payoutsOf(t)).filter((p) => p.id.startsWith('epoch-'))).toEqual([]);
    expect(await t.balance(runner1)).toBe(before);

    await upgrade();
    await net.advanceTime(5_000);
    await processTasks(t);
    // The ended epoch's one counted task: its fee back as emission (below the budget), once.
    expect(await t.balance(runner1)).toBe(before + PROTOCOL_FEE);
    await net.advanceTime(5_000);
    await processTasks(t);
    expect(await t.balance(runner1)).toBe(before + PROTOCOL_FEE);
  });

  it('an affinity binding survives an upgrade: the session stays on the runner that served it', { timeout: 120_000 }, async () => {
    const served = await t.runner();
    const requester = await t.requester(FUNDS, FUNDS);
    okOf(await (await t.tasks(requester)).accept_task(await answered(requester, served, 'affinity', 'session-7')));
    // Another runner, cheaper, that ranking alone would put first.
    await t.runner(2, { price: { inputPerMillion: 0, outputPerMillion: 0 } });
    const first = async () => {
      okOf(await (await t.tasks(served)).heartbeat(heartbeatArgs()));
      const found = okOf(
        await (await t.tasks(requester)).find_runners(findRequest({ model: [String(t.card.id)], affinity_key: ['session-7'] }))
      );
      return found[0];
    };
    expect(await first()).toMatchObject({ affinity: true });
    expect((await first())?.runner.toText()).toBe(served.getPrincipal().toText());

    await upgrade();
    const after = await first();
    expect(after?.affinity).toBe(true);
    expect(after?.runner.toText()).toBe(served.getPrincipal().toText());
  });
});
