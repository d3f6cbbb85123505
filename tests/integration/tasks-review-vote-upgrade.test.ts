import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { registryInitArgs } from '../../src/interface/registry/index.ts';
import { Localnet } from '../../src/localnet/localnet.ts';
import { olderRegistry, type OlderRegistry } from '../support/older-registry.ts';
import { okOf, registryWasm } from '../support/registry.ts';
import { resultArgs, taskNetwork } from '../support/tasks.ts';

/**
 * A task in review at an upgrade from a registry older than the vote recorded at review entry (the parent of 7114b02,
 * which began recording it) gets its vote recorded once, by the migration's timer steps after the upgrade
 * (src/core/tasks/review-vote-migration.ts), so a requester that moves vote weights after the upgrade cannot turn the
 * majority it read into no majority (an escalation and, at the bound, a refund). Fails on the registry as it was before
 * the migration (checked: the accept recounted, found no majority and left the task in review). The older registry is
 * built from git history once and cached (tests/support/older-registry.ts); its Candid contract is this one.
 */
const BEFORE_RECORDED_VOTE = '21563017e0982ccb0bf6888a97d1e1d9fde2e560';
const DETERMINISTIC = { max_output_tokens: 64, temperature: [0] as [number], seed: [42n] as [bigint] };

describe('review votes across an upgrade from a registry that did not record them', () => {
  let net: Localnet;
  let older: OlderRegistry;

  beforeAll(async () => {
    older = olderRegistry(BEFORE_RECORDED_VOTE);
    net = await Localnet.start({ port: 0, stateDir: null });
  }, 300_000);
  afterAll(async () => {
    await net?.stop();
  });

  it('a task in review at the upgrade settles by the vote counted at the upgrade, not by weights moved after it', async () => {
    const t = await taskNetwork(net, { registryWasm: older.wasm });
    const requester = await t.requester(20_000_000n, 15_000_000n);
    const asRequester = await t.tasks(requester);
    const [honest1, honest2, sybil] = [await t.runner(), await t.runner(), await t.runner()];
    const task = okOf(await asRequester.submit_task(t.submitArgs('contested', { limits: DETERMINISTIC, redundancy: [3] })));
    for (const [runner, output] of [
      [honest1, 'Paris'],
      [honest2, 'Paris'],
      [sybil, 'garbage']
    ] as const) {
      const asRunner = await t.tasks(runner);
      okOf(await asRunner.claim_task([task.id]));
      okOf(await asRunner.complete_task(task.id, resultArgs(output)));
    }
    // In review on the older registry: the requester reads the majority's output, and no vote is recorded.
    expect((await asRequester.get_task(task.id))[0]?.results.map((r) => r.output)).toEqual([['Paris'], ['Paris'], []]);

    await net.installCode(t.registry, 'upgrade', registryWasm(), registryInitArgs(undefined));
    // The migration's first step is a timer at once after the upgrade.
    await net.tick();

    // The requester then moves weights: it accepts a small task of its Sybil (another operator, so independent work),
    // which doubles the Sybil's record; a recount would now find no majority of vote weight.
    const small = okOf(await asRequester.submit_task(t.submitArgs('sybil-record')));
    const asSybil = await t.tasks(sybil);
    okOf(await asSybil.claim_task([small.id]));
    okOf(await asSybil.complete_task(small.id, resultArgs('Hello')));
    expect(okOf(await asRequester.accept_task(small.id)).state).toBe('accepted');

    // Accepting settles by the vote the migration recorded: the honest majority is paid.
    const settled = okOf(await asRequester.accept_task(task.id));
    expect(settled.state).toBe('accepted');
    expect(settled.paid_runners.map((p) => p.toText())).toEqual([honest1.getPrincipal().toText(), honest2.getPrincipal().toText()]);
  }, 300_000);
});
