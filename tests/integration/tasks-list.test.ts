import type { Principal } from '@dfinity/principal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { registryClient, type RegistryActor } from '../../src/ic/registry.ts';
import type { Opt } from '../../src/interface/candid.ts';
import type { TaskFilter, TaskListItem } from '../../src/interface/registry/index.ts';
import { Localnet } from '../../src/localnet/localnet.ts';
import { agentFor } from '../support/probe.ts';
import { errOf, okOf } from '../support/registry.ts';
import { resultArgs, taskNetwork, type TaskNetwork } from '../support/tasks.ts';

const noFilter: TaskFilter = { requester: [], runner: [], state: [] };
/**
 * Below what reading back a single 250 KiB task costs (~450M instructions): the 12-task lists below (96M and 38M
 * measured) read no task whole. Before summaries, they cost ~5.4B and list_claimable passed the 5B query limit.
 */
const LIST_INSTRUCTIONS_CEILING = 300_000_000n;

describe('list_tasks (registry on the localnet)', () => {
  let net: Localnet;
  let t: TaskNetwork;
  let reader: RegistryActor;
  const made: string[] = [];
  let requester: Principal;
  let runner: Principal;

  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
    t = await taskNetwork(net);
    const asker = await t.requester(20_000_000n, 10_000_000n);
    requester = asker.getPrincipal();
    const worker = await t.runner();
    runner = worker.getPrincipal();
    const asRequester = await t.tasks(asker);
    for (const key of ['a', 'b', 'c']) made.push(okOf(await asRequester.submit_task(t.submitArgs(key))).id);
    const asRunner = await t.tasks(worker);
    okOf(await asRunner.claim_task([made[1] ?? '']));
    okOf(await asRunner.complete_task(made[1] ?? '', resultArgs('Hello!')));
    // Another requester's task, so that the requester filter has something to leave out.
    okOf(await (await t.tasks(await t.requester(5_000_000n, 2_000_000n))).submit_task(t.submitArgs('other')));
    reader = registryClient(await agentFor(net.url, t.admin), t.registry);
  });
  afterAll(async () => {
    await net.stop();
  });

  it('lists tasks newest first and pages with the cursor', async () => {
    const all = okOf(await reader.list_tasks(noFilter, { after: [], limit: [] }));
    expect(all.items).toHaveLength(4);
    expect(all.next).toEqual([]);
    const first = okOf(await reader.list_tasks(noFilter, { after: [], limit: [2] }));
    expect(first.items.map((i) => i.id)).toEqual(all.items.slice(0, 2).map((i) => i.id));
    const second = okOf(await reader.list_tasks(noFilter, { after: first.next, limit: [2] }));
    expect(second.items.map((i) => i.id)).toEqual([made[1], made[0]]);
  });

  it('filters by requester, runner and state, and summarises usage', async () => {
    const mine = okOf(await reader.list_tasks({ ...noFilter, requester: [requester] }, { after: [], limit: [] }));
    expect(mine.items.map((i) => i.id)).toEqual([...made].reverse());
    const worked = okOf(await reader.list_tasks({ ...noFilter, runner: [runner] }, { after: [], limit: [] }));
    expect(worked.items).toHaveLength(1);
    expect(worked.items[0]).toMatchObject({
      id: made[1],
      state: 'review',
      results: 1,
      input_tokens: 12n,
      output_tokens: 34n,
      model: t.card.id
    });
    expect(worked.items[0]?.runners.map((r) => r.toText())).toEqual([runner.toText()]);
    const queued = okOf(await reader.list_tasks({ ...noFilter, state: ['queued'] }, { after: [], limit: [] }));
    expect(queued.items.map((i) => i.state)).toEqual(['queued', 'queued', 'queued']);
  });

  it('returns InvalidArgument for a bad limit, state or cursor', async () => {
    expect(errOf(await reader.list_tasks(noFilter, { after: [], limit: [0] }))).toMatchObject({ InvalidArgument: { field: 'limit' } });
    expect(errOf(await reader.list_tasks(noFilter, { after: [], limit: [101] }))).toMatchObject({ InvalidArgument: { field: 'limit' } });
    expect(errOf(await reader.list_tasks({ ...noFilter, state: ['done'] }, { after: [], limit: [] }))).toMatchObject({
      InvalidArgument: { field: 'state' }
    });
    expect(errOf(await reader.list_tasks(noFilter, { after: ['runner-1'], limit: [] }))).toMatchObject({
      InvalidArgument: { field: 'after' }
    });
  });
});

describe('list_tasks over tasks with large inputs', () => {
  it('lists tasks with large inputs from their summaries: one cheap page, and list_claimable stays cheap too', async () => {
    const net = await Localnet.start({ port: 0, stateDir: null });
    try {
      const t = await taskNetwork(net);
      const asker = await t.requester(100_000_000n, 50_000_000n);
      const asRequester = await t.tasks(asker);
      // Reading back a task with a 250 KiB input costs ~450M instructions: 12 of them would pass a query's 5B limit.
      const big = 'x'.repeat(250 * 1024);
      const made: string[] = [];
      for (let i = 0; i < 12; i++)
        made.push(
          okOf(await asRequester.submit_task(t.submitArgs(`big-${i}`, { input: { inline: [big], digest: [], reference: [] } }))).id
        );
      const spent = new Map<string, bigint>();
      net.onExecution((e) => spent.set(e.entry, e.instructions));
      const reader = registryClient(await agentFor(net.url, t.admin), t.registry);
      const page: { items: TaskListItem[]; next: Opt<string> } = okOf(await reader.list_tasks(noFilter, { after: [], limit: [100] }));
      expect(page.items.map((i) => i.id)).toEqual([...made].reverse());
      expect(page.next).toEqual([]);
      expect(spent.get('canister_query list_tasks')).toBeLessThan(LIST_INSTRUCTIONS_CEILING);
      const runner = await t.runner();
      const claimable = await (await t.tasks(runner)).list_claimable();
      expect(claimable.map((c) => c.id)).toEqual(made);
      expect(spent.get('canister_query list_claimable')).toBeLessThan(LIST_INSTRUCTIONS_CEILING);
    } finally {
      await net.stop();
    }
  }, 180_000);
});
