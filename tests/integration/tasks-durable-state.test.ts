import type { Identity } from '@dfinity/agent';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { registryInitArgs } from '../../src/interface/registry/index.ts';
import { Localnet } from '../../src/localnet/localnet.ts';
import { findRequest, heartbeatArgs, okOf, registryWasm } from '../support/registry.ts';
import { resultArgs, taskNetwork, type TaskNetwork } from '../support/tasks.ts';

const FUNDS = 10_000_000n;

/**
 * Issue 16, on the built registry: affinity bindings survive an upgrade. Fails on the registry as it was before (the
 * bindings were heap-only; checked).
 */
describe('state that must outlive a message: affinity bindings', () => {
  let net: Localnet;
  let t: TaskNetwork;

  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
    t = await taskNetwork(net);
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
