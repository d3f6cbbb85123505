/**
 * Tasks benchmark: end-to-end tasks/s (submit → claim → complete → accept → payout) with an instant executor and
 * 8 runners, and the latency a task adds on top of the inference itself.
 *
 *   npm run bench:tasks [-- --tasks 200 --senders 16]
 *
 * The host runs in its own process (`deai localnet start`). Throughput is driven like the localnet benchmark: every
 * call is signed ahead and sent as a v3 call without verifying certificates (agent-js spends ~30 ms of client CPU
 * verifying each update's BLS certificate, which would measure the client). Task ids are sequential, so claims,
 * completions and acceptances can be signed ahead too; the phases run one after the other, each with 16 senders.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Actor, type HttpAgent } from '@dfinity/agent';
import { IDL } from '@dfinity/candid';
import { Ed25519KeyIdentity } from '@dfinity/identity';
import { Principal } from '@dfinity/principal';

import { ledgerIdlFactory } from '../../src/interface/ledger/index.ts';
import { registryIdlFactory, registryInitArgs, ResultArgs, SubmitTaskArgs } from '../../src/interface/registry/index.ts';
import { managementActor } from '../../src/ic/management.ts';
import { account, approveArgs, ledgerInit, ledgerWasm, type LedgerActor } from '../support/ledger.ts';
import { signedCall, sendCalls } from '../support/load-generator.ts';
import { startLocalnetProcess, stopProcess } from '../support/localnet-process.ts';
import { deployment, modelCard, runnerManifest } from '../support/manifests.ts';
import { agentFor } from '../support/probe.ts';
import { findRequest, heartbeatArgs, okOf, registryWasm } from '../support/registry.ts';
import { bondConfigArgs, resultArgs, taskConfigArgs, type SubmitTaskArgs as SubmitArgs, type TaskActor } from '../support/tasks.ts';
import { instructionRows } from './task-instructions.ts';
import { creditRows } from './credit-instructions.ts';
import { flag, sized } from './scale.ts';
import { ms, printTable, row } from './report.ts';

const TASKS = flag('tasks', sized(200, 8));
const SENDERS = flag('senders', sized(16, 4));
const RUNNERS = sized(8, 2);
const REQUESTERS = sized(16, 2);
/** Tasks timed one by one through the agent for the added-latency figure. */
const LATENCY_SAMPLES = sized(5, 2);
const REWARD = 1_000_000n;

async function install(agent: HttpAgent, wasm: Uint8Array, arg: Uint8Array): Promise<Principal> {
  const { canister_id: id } = await managementActor(agent).provisional_create_canister_with_cycles({
    amount: [],
    settings: [],
    specified_id: [],
    sender_canister_version: []
  });
  await managementActor(agent, id).install_code({
    mode: { install: null },
    canister_id: id,
    wasm_module: wasm,
    arg,
    sender_canister_version: []
  });
  return id;
}

const send = (url: string, canister: Principal, bodies: Uint8Array[]) => sendCalls(url, canister, bodies, SENDERS);

const dir = mkdtempSync(join(tmpdir(), 'deai-bench-tasks-'));
const { child, url } = await startLocalnetProcess(dir);
try {
  console.log(
    `Tasks benchmark (node ${process.version}, ${(await import('node:os')).cpus().length} cores): ${TASKS} tasks, ${RUNNERS} runners, ${SENDERS} senders\n`
  );
  const admin = Ed25519KeyIdentity.generate();
  const adminAgent = await agentFor(url, admin);
  const requesters = Array.from({ length: REQUESTERS }, () => Ed25519KeyIdentity.generate());
  const runners = Array.from({ length: RUNNERS }, () => Ed25519KeyIdentity.generate());
  const registry = await install(adminAgent, registryWasm(), registryInitArgs({ admins: [admin.getPrincipal()] }));
  const perRequester = (BigInt(Math.ceil(TASKS / REQUESTERS)) + 8n) * (REWARD + 20_000n);
  const ledger = await install(
    adminAgent,
    ledgerWasm(),
    ledgerInit(registry, {
      initial_balances: requesters.map((r) => [account(r.getPrincipal()), perRequester + 20_000n] as [ReturnType<typeof account>, bigint])
    })
  );
  const asAdmin = Actor.createActor<TaskActor>(registryIdlFactory, { agent: adminAgent, canisterId: registry });
  // Routing window 0: runners claim round-robin by id, whatever their rank (paid routing: tests/integration/ranking-cheats.test.ts).
  okOf(
    await asAdmin.set_task_config(
      taskConfigArgs({ ledger: [ledger], treasury: [{ owner: admin.getPrincipal(), subaccount: [] }], routing_window_seconds: [0n] })
    )
  );
  // The task lifecycle is measured, not registration: no runner bond.
  okOf(await asAdmin.set_bond_config(bondConfigArgs({ amount_e8s: [0n] })));
  const card = modelCard();
  okOf(await asAdmin.publish_model_card(JSON.stringify(card)));
  const slots = Math.min(1024, Math.ceil(TASKS / RUNNERS) + 1);
  await Promise.all(
    runners.map(async (runner) => {
      const actor = Actor.createActor<TaskActor>(registryIdlFactory, { agent: await agentFor(url, runner), canisterId: registry });
      okOf(await actor.register_runner(JSON.stringify(runnerManifest(runner.getPrincipal().toText(), [deployment(card, { slots })]))));
      okOf(await actor.heartbeat(heartbeatArgs()));
    })
  );
  await Promise.all(
    requesters.map(async (r) => {
      const token = Actor.createActor<LedgerActor>(ledgerIdlFactory, { agent: await agentFor(url, r), canisterId: ledger });
      okOf(await token.icrc2_approve(approveArgs(account(registry), perRequester)));
    })
  );

  // Sign every call of every phase ahead.
  const expiry = BigInt(Date.now() + 4 * 60_000) * 1_000_000n;
  const deadline = BigInt(Date.now() + 3_600_000) * 1_000_000n;
  const id = (i: number): string => `task-${String(i + 1).padStart(12, '0')}`;
  const submitArg = (i: number): Uint8Array =>
    new Uint8Array(
      IDL.encode(
        [SubmitTaskArgs],
        [
          {
            idempotency_key: `bench-${i}`,
            request: findRequest({ model: [String(card.id)] }),
            input: { inline: [`prompt ${i}`], digest: [], reference: [] },
            limits: { max_output_tokens: 64, temperature: [], seed: [] },
            reward_e8s: REWARD,
            deadline_ns: deadline,
            redundancy: [],
            refund_subaccount: []
          }
        ]
      )
    );
  const phases: Array<[string, Uint8Array[]]> = [];
  const sign = async (who: (i: number) => Ed25519KeyIdentity, method: string, arg: (i: number) => Uint8Array): Promise<Uint8Array[]> =>
    Promise.all(Array.from({ length: TASKS }, (_, i) => signedCall(who(i), registry, method, arg(i), expiry)));
  phases.push([
    'submit (escrow via icrc2_transfer_from)',
    await sign((i) => requesters[i % REQUESTERS] as Ed25519KeyIdentity, 'submit_task', submitArg)
  ]);
  phases.push([
    'claim',
    await sign(
      (i) => runners[i % RUNNERS] as Ed25519KeyIdentity,
      'claim_task',
      (i) => new Uint8Array(IDL.encode([IDL.Opt(IDL.Text)], [[id(i)]]))
    )
  ]);
  phases.push([
    'complete (instant executor)',
    await sign(
      (i) => runners[i % RUNNERS] as Ed25519KeyIdentity,
      'complete_task',
      (i) => new Uint8Array(IDL.encode([IDL.Text, ResultArgs], [id(i), resultArgs(`answer ${i}`)]))
    )
  ]);

  let busySeconds = 0;
  for (const [name, bodies] of phases) {
    const { seconds, ok } = await send(url, registry, bodies);
    busySeconds += seconds;
    row(`  ${name}`, `${(ok / seconds).toFixed(0)} calls/s (${ok}/${TASKS} in ${seconds.toFixed(1)} s)`);
  }
  // Submissions arrive in any order, so which requester owns which task id is read back before signing the accepts
  // (outside the timed phases).
  const owner = new Map(requesters.map((r) => [r.getPrincipal().toText(), r]));
  const ownerOf = await Promise.all(
    Array.from(
      { length: TASKS },
      async (_, i) => owner.get((await asAdmin.get_task(id(i)))[0]?.requester.toText() ?? '') ?? (requesters[0] as Ed25519KeyIdentity)
    )
  );
  const accepts = await sign(
    (i) => ownerOf[i] as Ed25519KeyIdentity,
    'accept_task',
    (i) => new Uint8Array(IDL.encode([IDL.Text], [id(i)]))
  );
  const accepted = await send(url, registry, accepts);
  busySeconds += accepted.seconds;
  row('  accept', `${(accepted.ok / accepted.seconds).toFixed(0)} calls/s (${accepted.ok}/${TASKS} in ${accepted.seconds.toFixed(1)} s)`);
  const payStarted = performance.now();
  const started = payStarted - busySeconds * 1000;
  let passes = 0;
  while (okOf(await asAdmin.list_payouts({ state: [] }, { after: [], limit: [1] })).items.length > 0 && passes < 10_000) {
    okOf(await asAdmin.process_tasks());
    passes++;
  }
  const paySeconds = (performance.now() - payStarted) / 1000;
  row(
    '  payouts (runner + treasury per task, by process_tasks)',
    `${((2 * TASKS) / paySeconds).toFixed(0)} transfers/s (${passes} passes, ${paySeconds.toFixed(1)} s)`
  );
  const total = (performance.now() - started) / 1000;
  const states = new Map<string, number>();
  for (let i = 0; i < TASKS; i++) {
    const state = (await asAdmin.get_task(id(i)))[0]?.state ?? 'missing';
    states.set(state, (states.get(state) ?? 0) + 1);
  }
  const paid = states.get('accepted') ?? 0;
  row(
    `end-to-end tasks/s (submit → paid), ${RUNNERS} runners, instant executor`,
    `${(paid / total).toFixed(1)} tasks/s (${paid} of ${TASKS} tasks accepted and paid in ${total.toFixed(1)} s; states ${JSON.stringify(Object.fromEntries(states))})`
  );

  // Added latency of one task through the normal agent (certificates verified), executor instant.
  const requester = requesters[0] as Ed25519KeyIdentity;
  const asRequester = Actor.createActor<TaskActor>(registryIdlFactory, { agent: await agentFor(url, requester), canisterId: registry });
  const asRunner = Actor.createActor<TaskActor>(registryIdlFactory, {
    agent: await agentFor(url, runners[0] as Ed25519KeyIdentity),
    canisterId: registry
  });
  const steps: Record<string, number[]> = { submit: [], claim: [], complete: [], accept: [], payout: [], total: [] };
  for (let n = 0; n < LATENCY_SAMPLES; n++) {
    const t0 = performance.now();
    const task = okOf(
      await asRequester.submit_task({
        ...(IDL.decode([SubmitTaskArgs], submitArg(TASKS + n))[0] as unknown as SubmitArgs),
        idempotency_key: `latency-${n}`
      })
    );
    const t1 = performance.now();
    okOf(await asRunner.claim_task([task.id]));
    const t2 = performance.now();
    okOf(await asRunner.complete_task(task.id, resultArgs('ok')));
    const t3 = performance.now();
    okOf(await asRequester.accept_task(task.id));
    const t4 = performance.now();
    okOf(await asAdmin.process_tasks());
    const t5 = performance.now();
    for (const [k, v] of [
      ['submit', t1 - t0],
      ['claim', t2 - t1],
      ['complete', t3 - t2],
      ['accept', t4 - t3],
      ['payout', t5 - t4],
      ['total', t5 - t0]
    ] as const)
      steps[k]?.push(v);
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  row(
    `added latency per task through the agent (median of ${LATENCY_SAMPLES})`,
    `${ms(median(steps.total ?? []))}: submit ${ms(median(steps.submit ?? []))}, claim ${ms(median(steps.claim ?? []))}, complete ${ms(median(steps.complete ?? []))}, accept ${ms(median(steps.accept ?? []))}, payout ${ms(median(steps.payout ?? []))}`
  );
} finally {
  await stopProcess(child);
  rmSync(dir, { recursive: true, force: true });
}
await instructionRows(sized(20, 3));
await creditRows(sized(16, 2), sized(256, 8));
printTable();
