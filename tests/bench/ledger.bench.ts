/**
 * Ledger benchmark: instructions per ICRC-1/2 call and per certified block, host throughput of transfers, agent
 * latency, and ICRC-3 block reads.
 *
 *   npm run bench:ledger [-- --requests 2000 --senders 16 --only throughput|latency|instructions|blocks]
 *                        [--samples 200 --load 800 --blocks 2000] [--profile-host]
 *
 * `--samples` sizes the latency and instruction samples, `--load` the transfers of the certification-under-load
 * case, `--blocks` the log that icrc3_get_blocks pages through.
 * Throughput runs the host in its own process (`deai localnet start`) and drives it with a load generator that
 * signs every request ahead and does not verify certificates, as bench:localnet does: agent-js spends ~30 ms of
 * client CPU per update on BLS verification, which would measure the client rather than the host. `--profile-host`
 * writes a CPU profile of that process to $TMPDIR/deai-host-profile.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';

import { Actor } from '@dfinity/agent';
import { IDL } from '@dfinity/candid';
import { Ed25519KeyIdentity } from '@dfinity/identity';
import { Principal } from '@dfinity/principal';

import {
  ApproveArgs,
  ApproveResult,
  TransferArgs,
  TransferFromArgs,
  TransferFromResult,
  TransferResult
} from '../../src/interface/ledger/index.ts';
import { cyclesForInstructions } from '../../src/localnet/execution/limits.ts';
import type { ExecutionEvent } from '../../src/localnet/execution/messages.ts';
import { Localnet } from '../../src/localnet/localnet.ts';
import { account, approveArgs, ledgerActor, ledgerInit, ledgerWasm, transferArgs, transferFromArgs } from '../support/ledger.ts';
import { certifiedHeight, sendCalls, signedCall } from '../support/load-generator.ts';
import { startLocalnetProcess, stopProcess } from '../support/localnet-process.ts';
import { agentFor } from '../support/probe.ts';
import { flag, hostProfileArgs, sized } from './scale.ts';
import { ms, percentile, printTable, row } from './report.ts';

const REQUESTS = flag('requests', sized(2000, 24));
const SENDERS = flag('senders', sized(16, 4));
const SAMPLES = flag('samples', sized(200, 8));
const BLOCKS = flag('blocks', sized(2000, 24));
const LOAD = flag('load', sized(800, 24));
/** Calls that warm up a fresh ledger (lazily built state) and the JIT (agent and host) before anything is measured. */
const FIRST_CALLS = sized(5, 1);
const WARM_UP = sized(20, 2);
/** Every sender starts rich enough for any number of small transfers. */
const FUNDS = 10n ** 15n;
const TRANSFER_TARGET = 20_000_000n;

const instr = (n: bigint | number): string => BigInt(Math.round(Number(n))).toLocaleString('en-US');

const TIMER_ENTRIES = new Set(['canister_global_timer', 'canister_update <ic-cdk internal> timer_executor']);
const instructionsOf = (events: ExecutionEvent[], entry: string): number[] =>
  events.filter((e) => e.entry === entry).map((e) => Number(e.instructions));
const timerInstructions = (events: ExecutionEvent[]): bigint =>
  events.filter((e) => TIMER_ENTRIES.has(e.entry)).reduce((sum, e) => sum + e.instructions, 0n);
const timerMs = (events: ExecutionEvent[]): number =>
  events.filter((e) => TIMER_ENTRIES.has(e.entry)).reduce((sum, e) => sum + e.durationMs, 0);

/** The block index of an `Ok`; anything else means the benchmark's own setup is wrong. */
function okIndex(type: IDL.Type, bytes: Uint8Array): bigint {
  const [result] = IDL.decode([type], bytes);
  if (typeof result === 'object' && result !== null && 'Ok' in result && typeof result.Ok === 'bigint') return result.Ok;
  throw new Error(`expected Ok, got ${JSON.stringify(result, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`);
}

/** An in-process network with a ledger whose `funded` principals each hold FUNDS. */
async function ledgerOnLocalnet(funded: Principal[]): Promise<{ net: Localnet; ledger: Principal; events: ExecutionEvent[] }> {
  const net = await Localnet.start({ port: 0, stateDir: null });
  const events: ExecutionEvent[] = [];
  net.onExecution((event) => events.push(event));
  const minter = Ed25519KeyIdentity.generate().getPrincipal();
  const ledger = await net.installCanister({
    wasm: ledgerWasm(),
    arg: ledgerInit(minter, { initial_balances: funded.map((p) => [account(p), FUNDS]) })
  });
  await net.tick();
  return { net, ledger, events };
}

const transferBytes = (to: Principal, amount: bigint): Uint8Array =>
  new Uint8Array(IDL.encode([TransferArgs], [transferArgs(account(to), amount)]));

/** Sends `count` transfers from `senders` concurrent host callers (one at a time each), as under ingress load. */
async function concurrentTransfers(net: Localnet, ledger: Principal, senders: Principal[], count: number, to: Principal): Promise<void> {
  let next = 0;
  await Promise.all(
    senders.map(async (sender) => {
      for (let i = next++; i < count; i = next++)
        okIndex(TransferResult, await net.update(ledger, 'icrc1_transfer', transferBytes(to, 1_000n + BigInt(i)), sender));
    })
  );
}

async function instructions(): Promise<void> {
  const alice = Ed25519KeyIdentity.generate().getPrincipal();
  const bob = Ed25519KeyIdentity.generate().getPrincipal();
  const carol = Ed25519KeyIdentity.generate().getPrincipal();
  const senders = Array.from({ length: SENDERS }, () => Ed25519KeyIdentity.generate().getPrincipal());
  const { net, ledger, events } = await ledgerOnLocalnet([alice, ...senders]);
  const runs = Math.max(sized(10, 2), Math.round(SAMPLES / 4));
  // The first calls of a fresh instance pay for lazily built state (stable-map caches, Candid type tables).
  for (let i = 0; i < FIRST_CALLS; i++) await net.update(ledger, 'icrc1_transfer', transferBytes(bob, 1n), alice);
  await net.tick();

  // One transfer per round: the timer hashes and certifies a single block each time.
  events.length = 0;
  for (let i = 0; i < runs; i++) {
    okIndex(TransferResult, await net.update(ledger, 'icrc1_transfer', transferBytes(bob, 1_000n + BigInt(i)), alice));
    await net.tick();
  }
  const transfers = instructionsOf(events, 'canister_update icrc1_transfer');
  const transferMs = percentile(
    events.filter((e) => e.entry === 'canister_update icrc1_transfer').map((e) => e.durationMs),
    50
  );
  const perRoundTimer = timerInstructions(events) / BigInt(runs);
  const transferP50 = percentile(transfers, 50);
  row('instructions: icrc1_transfer p50 / max', `${instr(transferP50)} / ${instr(Math.max(...transfers))}`, `< ${instr(TRANSFER_TARGET)}`);

  events.length = 0;
  for (let i = 0; i < runs; i++) {
    const arg = approveArgs(account(bob), 10n ** 12n + BigInt(i));
    okIndex(ApproveResult, await net.update(ledger, 'icrc2_approve', new Uint8Array(IDL.encode([ApproveArgs], [arg])), alice));
  }
  const approves = instructionsOf(events, 'canister_update icrc2_approve');
  row('instructions: icrc2_approve p50 / max', `${instr(percentile(approves, 50))} / ${instr(Math.max(...approves))}`);

  events.length = 0;
  for (let i = 0; i < runs; i++) {
    const arg = transferFromArgs(account(alice), account(carol), 1_000n + BigInt(i));
    okIndex(
      TransferFromResult,
      await net.update(ledger, 'icrc2_transfer_from', new Uint8Array(IDL.encode([TransferFromArgs], [arg])), bob)
    );
  }
  const transfersFrom = instructionsOf(events, 'canister_update icrc2_transfer_from');
  row('instructions: icrc2_transfer_from p50 / max', `${instr(percentile(transfersFrom, 50))} / ${instr(Math.max(...transfersFrom))}`);
  await net.tick();

  row('certification timer per block, 1 transfer per round (timer_executor + global_timer)', `${instr(perRoundTimer)} instr`);
  events.length = 0;
  await concurrentTransfers(net, ledger, senders, LOAD, carol);
  await net.tick();
  const timerRuns = events.filter((e) => e.entry === 'canister_update <ic-cdk internal> timer_executor').length;
  const loadedTimer = timerInstructions(events) / BigInt(LOAD);
  row(
    `certification timer per block, under load (${LOAD} transfers from ${SENDERS} senders)`,
    `${instr(loadedTimer)} instr (${(LOAD / Math.max(1, timerRuns)).toFixed(1)} blocks per timer run)`
  );
  const perTransfer = BigInt(Math.round(transferP50)) + loadedTimer;
  row(
    'transfer + its share of certification, under load',
    `${instr(perTransfer)} instr = ${cyclesForInstructions(perTransfer).toLocaleString('en-US')} cycles (13-node rates)`
  );
  // What bounds host throughput: Wasm execution time per transfer, the certification timer's share included.
  const loadedTimerMs = timerMs(events) / LOAD;
  row(
    '  host Wasm execution per transfer p50 + certification share',
    `${ms(transferMs)} + ${ms(loadedTimerMs)} (caps the host's one execution thread at ~${(1000 / (transferMs + loadedTimerMs)).toFixed(0)} transfers/s)`
  );
  await net.stop();
}

async function latency(): Promise<void> {
  const alice = Ed25519KeyIdentity.generate();
  const bob = Ed25519KeyIdentity.generate().getPrincipal();
  const { net, ledger, events } = await ledgerOnLocalnet([alice.getPrincipal()]);
  const actor = ledgerActor(await agentFor(net.url, alice), ledger);
  // Warm the JIT on both sides first: the first calls run unoptimised client and host code.
  for (let i = 0; i < WARM_UP; i++) await actor.icrc1_transfer(transferArgs(account(bob), 1n));
  for (let i = 0; i < SAMPLES; i++) await actor.icrc1_balance_of(account(bob));
  const updates: number[] = [];
  for (let i = 0; i < SAMPLES / 2; i++) {
    const t = performance.now();
    const result = await actor.icrc1_transfer(transferArgs(account(bob), 1_000n + BigInt(i)));
    updates.push(performance.now() - t);
    if ('Err' in result) throw new Error(`transfer failed: ${Object.keys(result.Err).join()}`);
  }
  events.length = 0;
  const queries: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const t = performance.now();
    await actor.icrc1_balance_of(account(bob));
    queries.push(performance.now() - t);
  }
  row('icrc1_transfer latency p50 / p99 (agent, verified)', `${ms(percentile(updates, 50))} / ${ms(percentile(updates, 99))}`);
  row('icrc1_balance_of latency p50 / p99 (agent, verified)', `${ms(percentile(queries, 50))} / ${ms(percentile(queries, 99))}`);
  const host = events.filter((e) => e.entry === 'canister_query icrc1_balance_of');
  row(
    '  icrc1_balance_of on the host p50: execution, instructions',
    `${ms(
      percentile(
        host.map((e) => e.durationMs),
        50
      )
    )}, ${instr(
      percentile(
        host.map((e) => Number(e.instructions)),
        50
      )
    )}`
  );
  await net.stop();
}

async function blocks(): Promise<void> {
  const senders = Array.from({ length: SENDERS }, () => Ed25519KeyIdentity.generate().getPrincipal());
  const { net, ledger, events } = await ledgerOnLocalnet(senders);
  const started = performance.now();
  await concurrentTransfers(net, ledger, senders, BLOCKS, Ed25519KeyIdentity.generate().getPrincipal());
  await net.tick();
  console.log(`  (${BLOCKS} transfers appended and certified in ${((performance.now() - started) / 1000).toFixed(1)} s)`);
  const actor = ledgerActor(await agentFor(net.url), ledger);
  const readAll = async (): Promise<number> => {
    let read = 0;
    for (;;) {
      const page = await actor.icrc3_get_blocks([{ start: BigInt(read), length: 100n }]);
      read += page.blocks.length;
      if (page.blocks.length === 0 || BigInt(read) >= page.log_length) return read;
    }
  };
  await readAll(); // warm-up
  events.length = 0;
  const t = performance.now();
  const read = await readAll();
  const seconds = (performance.now() - t) / 1000;
  const pages = events.filter((e) => e.entry === 'canister_query icrc3_get_blocks' && e.instructions > 0n);
  row(`icrc3_get_blocks throughput (agent, verified, 100-block pages of ${read} blocks)`, `${(read / seconds).toFixed(0)} blocks/s`);
  row(
    '  instructions per 100-block page p50 / max',
    `${instr(
      percentile(
        pages.map((e) => Number(e.instructions)),
        50
      )
    )} / ${instr(Math.max(...pages.map((e) => Number(e.instructions))))}`
  );
  row(
    '  host execution per page p50',
    ms(
      percentile(
        pages.map((e) => e.durationMs),
        50
      )
    )
  );
  await net.stop();
}

async function throughput(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'deai-bench-'));
  const { child, url } = await startLocalnetProcess(dir, hostProfileArgs());
  try {
    const controller = Ed25519KeyIdentity.generate();
    const agent = await agentFor(url, controller);
    const senders = Array.from({ length: SENDERS }, () => Ed25519KeyIdentity.generate());
    const minter = Ed25519KeyIdentity.generate().getPrincipal();
    const managementIdl: IDL.InterfaceFactory = ({ IDL: I }) =>
      I.Service({
        provisional_create_canister_with_cycles: I.Func(
          [I.Record({ amount: I.Opt(I.Nat), settings: I.Opt(I.Record({})), specified_id: I.Opt(I.Principal) })],
          [I.Record({ canister_id: I.Principal })],
          []
        ),
        install_code: I.Func(
          [I.Record({ mode: I.Variant({ install: I.Null }), canister_id: I.Principal, wasm_module: I.Vec(I.Nat8), arg: I.Vec(I.Nat8) })],
          [],
          []
        )
      });
    type Management = {
      provisional_create_canister_with_cycles: (a: unknown) => Promise<{ canister_id: Principal }>;
      install_code: (a: unknown) => Promise<void>;
    };
    const management = (effective: Principal): Management =>
      Actor.createActor<Management>(managementIdl, { agent, canisterId: 'aaaaa-aa', effectiveCanisterId: effective });
    const { canister_id: id } = await management(Principal.fromText('aaaaa-aa')).provisional_create_canister_with_cycles({
      amount: [],
      settings: [],
      specified_id: []
    });
    await management(id).install_code({
      mode: { install: null },
      canister_id: id,
      wasm_module: ledgerWasm(),
      arg: ledgerInit(minter, { initial_balances: senders.map((s) => [account(s.getPrincipal()), FUNDS]) })
    });
    const ledger = ledgerActor(await agentFor(url), id);

    // Sign every request ahead of time (one Ed25519 signature each), as a load generator would.
    const recipients = Array.from({ length: 64 }, () => Ed25519KeyIdentity.generate().getPrincipal());
    const expiry = BigInt(Date.now() + 4 * 60_000) * 1_000_000n;
    const bodies: Uint8Array[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const sender = senders[i % senders.length];
      const to = recipients[i % recipients.length];
      if (sender === undefined || to === undefined) continue;
      bodies.push(await signedCall(sender, id, 'icrc1_transfer', transferBytes(to, 1_000n + BigInt(i)), expiry));
    }
    const heightBefore = await certifiedHeight(url);
    const { log_length: logBefore } = await ledger.icrc3_get_blocks([]);
    const { seconds, ok, latencies } = await sendCalls(url, id, bodies, SENDERS);
    const rounds = (await certifiedHeight(url)) - heightBefore;
    const { log_length: logAfter } = await ledger.icrc3_get_blocks([]);
    const appended = Number(logAfter - logBefore);
    row(
      `host throughput, ${SENDERS} senders, pre-signed v3 icrc1_transfer calls`,
      `${(appended / seconds).toFixed(0)} transfers/s (${ok}/${REQUESTS} answered 200, ${appended} blocks appended in ${seconds.toFixed(1)} s)`,
      '>= 150 transfers/s'
    );
    row('  latency p50 / p99 under load', `${ms(percentile(latencies, 50))} / ${ms(percentile(latencies, 99))}`);
    row(
      '  execution rounds (certificates signed)',
      `${rounds} for ${appended} transfers (${(appended / Math.max(1, rounds)).toFixed(1)} per round)`
    );
  } finally {
    await stopProcess(child);
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`Ledger benchmark (node ${process.version}, ${cpus().length} cores)\n`);
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
if (only !== undefined && !['throughput', 'latency', 'instructions', 'blocks'].includes(only))
  throw new Error(`--only takes throughput, latency, instructions or blocks, not ${only}`);
if (only === undefined || only === 'instructions') await instructions();
if (only === undefined || only === 'latency') await latency();
if (only === undefined || only === 'blocks') await blocks();
if (only === undefined || only === 'throughput') await throughput();
printTable();
