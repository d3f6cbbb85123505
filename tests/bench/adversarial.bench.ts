/**
 * Adversarial benchmark: what a runner's claim and one maintenance pass cost while other callers' tasks pile up
 * (issue 15: both must stay flat, whatever other models have queued).
 *
 *   npm run bench:adversarial [-- --sizes 0,1000,10000]
 *
 * Measured on the built registry Wasm in an in-process localnet, through the agent: the seeded tasks are real
 * submit_task calls (escrowed on the ledger), sent in parallel batches from several requesters, for a model that the
 * measuring runner does not serve. Instructions are the localnet's metered counts of the single message.
 */
import type { ActorSubclass } from '@dfinity/agent';

import type { RegistryService } from '../../src/interface/registry/index.ts';
import { Localnet } from '../../src/localnet/localnet.ts';
import { MAX_OPEN_TASKS } from '../../src/core/tasks/limits.ts';
import { findRequest, heartbeatArgs, okOf } from '../support/registry.ts';
import { processTasks, taskNetwork, type TaskNetwork } from '../support/tasks.ts';
import { attackRows } from './adversarial-calls.ts';
import { payoutRows } from './adversarial-payouts.ts';
import { epochCloseRows } from './epoch-close.ts';
import { printTable, row } from './report.ts';
import { SMOKE } from './scale.ts';

const SIZES = (() => {
  const index = process.argv.indexOf('--sizes');
  const given = index >= 0 ? (process.argv[index + 1] ?? '') : '';
  // Without --sizes, '' must give no size (Number('') is 0: the defaults below were never used).
  const parsed = given
    .split(',')
    .filter((part) => part.trim() !== '')
    .map(Number)
    .filter(Number.isFinite);
  return parsed.length > 0 ? parsed : SMOKE ? [0, 20] : [0, 1_000, 10_000];
})();
const BATCH = 128;
/** Requesters the seeded tasks are spread over: each may hold 500 open tasks (the default quota). */
const SENDERS = 24;
/** Room under MAX_OPEN_TASKS for the measured tasks (one per size, 50 due ones): the largest size is seeded to the rest. */
const RESERVED = 100;
const OTHER_MODEL = 'other-org/Unserved-Model-70B';
const SECOND_NS = 1_000_000_000n;
const M = (n: bigint): string => `${(Number(n) / 1e6).toFixed(1)}M instructions`;

interface Seeder {
  seeded: number;
  grow(to: number): Promise<void>;
}

async function seeder(t: TaskNetwork, net: Localnet): Promise<Seeder> {
  const senders: Array<ActorSubclass<RegistryService>> = [];
  for (let i = 0; i < SENDERS; i++) senders.push(await t.tasks(await t.requester(2_000_000_000n, 2_000_000_000n)));
  const state = {
    seeded: 0,
    async grow(wanted: number): Promise<void> {
      const to = Math.min(wanted, MAX_OPEN_TASKS - RESERVED);
      while (state.seeded < to) {
        const batch = Math.min(BATCH, to - state.seeded);
        const deadline = net.engine.now() + 6n * 24n * 3600n * SECOND_NS;
        await Promise.all(
          Array.from({ length: batch }, async (_, i) => {
            const n = state.seeded + i;
            const actor = senders[n % SENDERS] as ActorSubclass<RegistryService>;
            okOf(
              await actor.submit_task(t.submitArgs(`seed-${n}`, { request: findRequest({ model: [OTHER_MODEL] }), deadline_ns: deadline }))
            );
          })
        );
        state.seeded += batch;
      }
    }
  };
  return state;
}

/** A claim_task(None) of a runner serving one model, with `queued` tasks of another model in the queue. */
async function claimRows(t: TaskNetwork, seed: Seeder, spent: Map<string, bigint>): Promise<void> {
  const asker = await t.tasks(await t.requester(1_000_000_000n, 1_000_000_000n));
  const runner = await t.tasks(await t.runner(64));
  for (const wanted of SIZES) {
    await seed.grow(wanted);
    const size = seed.seeded;
    // Seeding can outlast the heartbeat's time to live.
    okOf(await runner.heartbeat(heartbeatArgs()));
    okOf(await asker.submit_task(t.submitArgs(`served-${size}`)));
    spent.clear();
    okOf(await runner.claim_task([]));
    row(`claim_task(None), ${size} queued tasks of another model`, M(spent.get('canister_update claim_task') ?? 0n), 'flat, < 20M');
    spent.clear();
    await runner.list_claimable();
    row(`list_claimable, ${size} queued tasks of another model`, M(spent.get('canister_query list_claimable') ?? 0n), 'flat');
  }
}

/** One maintenance pass (process_tasks: tick, payouts, escrow retries) with everything seeded open and nothing due. */
async function timerRows(t: TaskNetwork, seed: Seeder, spent: Map<string, bigint>): Promise<void> {
  spent.clear();
  await processTasks(t);
  row(`maintenance pass, ${seed.seeded + SIZES.length} open tasks, none due`, M(spent.get('canister_update process_tasks') ?? 0n), '< 2B');
  // 50 more tasks whose deadline passes now: one pass expires and refunds them (the timer fires during the advance too).
  // Five minutes ahead: beside 10,000 open tasks on a loaded machine the 50 submits took longer than 30 s.
  const asker = await t.tasks(await t.requester(1_000_000_000n, 1_000_000_000n));
  const deadline = net(t).engine.now() + DUE_IN_S * SECOND_NS;
  await Promise.all(
    Array.from({ length: 50 }, async (_, i) => okOf(await asker.submit_task(t.submitArgs(`due-${i}`, { deadline_ns: deadline }))))
  );
  spent.clear();
  await net(t).advanceTime((Number(DUE_IN_S) + 1) * 1_000);
  await processTasks(t);
  const busiest = [...spent.entries()].filter(([entry]) => !entry.startsWith('canister_query')).reduce((a, [, n]) => (n > a ? n : a), 0n);
  row(`busiest message while 50 of ${seed.seeded + SIZES.length + 50} open tasks fall due`, M(busiest), '< 2B + payouts');
}

const net = (t: TaskNetwork): Localnet => t.net;
const DUE_IN_S = 300n;

async function main(): Promise<void> {
  const localnet = await Localnet.start({ port: 0, stateDir: null });
  try {
    const t = await taskNetwork(localnet);
    const spent = new Map<string, bigint>();
    localnet.onExecution((e) => {
      if (e.canisterId === t.registry.toText())
        spent.set(e.entry, e.instructions > (spent.get(e.entry) ?? 0n) ? e.instructions : (spent.get(e.entry) ?? 0n));
    });
    const seed = await seeder(t, localnet);
    console.log(`adversarial benchmark: sizes ${SIZES.join(', ')} (queued tasks of a model the runner does not serve)`);
    await attackRows(t, spent);
    const started = Date.now();
    await claimRows(t, seed, spent);
    console.log(`  (seeded ${seed.seeded} tasks in ${((Date.now() - started) / 1000).toFixed(0)} s)`);
    await timerRows(t, seed, spent);
    payoutRows();
    // Its own localnet: the credit table is filled by real accepted tasks of fresh requesters (slow: 6 calls a pair).
    await epochCloseRows(SMOKE ? 10 : 200);
    printTable();
  } finally {
    await localnet.stop();
  }
}

await main();
