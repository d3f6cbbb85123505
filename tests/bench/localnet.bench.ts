/**
 * Localnet benchmark: boot + deploy, agent latency, host throughput, instructions per call.
 *
 *   npm run bench:localnet [-- --requests 2000 --senders 16]
 *
 * Throughput runs the host in its own process (`deai localnet start`) and drives it with a load generator that
 * signs every request ahead and does not verify certificates: agent-js spends ~30 ms of client CPU per update
 * on BLS verification, which would measure the client rather than the host.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { HttpAgent } from '@dfinity/agent';
import { ed25519 } from '@noble/curves/ed25519';
import { IDL } from '@dfinity/candid';
import { Ed25519KeyIdentity } from '@dfinity/identity';
import { Principal } from '@dfinity/principal';

import { cyclesForInstructions } from '../../src/localnet/execution/limits.ts';
import type { ExecutionEvent } from '../../src/localnet/execution/messages.ts';
import { Localnet } from '../../src/localnet/localnet.ts';
import { certifiedHeight, sendCalls, signedCall } from '../support/load-generator.ts';
import { startLocalnetProcess, stopProcess } from '../support/localnet-process.ts';
import { agentFor, probeActor, probeWasm } from '../support/probe.ts';
import { flag, hostProfileArgs, sized } from './scale.ts';
import { ms, percentile, printTable, row } from './report.ts';

const REQUESTS = flag('requests', sized(2000, 24));
const SENDERS = flag('senders', sized(16, 4));
const SAMPLES = flag('samples', sized(200, 8));

async function bootAndDeploy(cacheDir: string, label: string): Promise<void> {
  const started = performance.now();
  const net = await Localnet.start({ port: 0, stateDir: null, codeCacheDir: cacheDir });
  await net.installCanister({ wasm: probeWasm() });
  await net.installCanister({ wasm: probeWasm() });
  const elapsed = performance.now() - started;
  await net.stop();
  row(`boot + deploy 2 azle canisters (${label})`, ms(elapsed), label === 'instrumentation cached' ? '< 3000 ms' : '');
}

async function latencyAndInstructions(): Promise<void> {
  const net = await Localnet.start({ port: 0, stateDir: null });
  const events: ExecutionEvent[] = [];
  net.onExecution((event) => events.push(event));
  const id = await net.installCanister({ wasm: probeWasm() });
  const other = await net.installCanister({ wasm: probeWasm() });
  const actor = probeActor(await agentFor(net.url, Ed25519KeyIdentity.generate()), id);
  // Warm the JIT on both sides first: the first few hundred calls run unoptimised client and host code.
  for (let i = 0; i < SAMPLES; i++) await actor.greet('warm-up');
  await actor.put('warm', 'up');
  const queries: number[] = [];
  events.length = 0;
  for (let i = 0; i < SAMPLES; i++) {
    const t = performance.now();
    await actor.greet(`q${i}`);
    queries.push(performance.now() - t);
  }
  const updates: number[] = [];
  for (let i = 0; i < SAMPLES / 2; i++) {
    const t = performance.now();
    await actor.put(`k${i}`, 'v');
    updates.push(performance.now() - t);
  }
  row('query latency p50 / p99 (agent, verified)', `${ms(percentile(queries, 50))} / ${ms(percentile(queries, 99))}`, 'p50 < 5 ms');
  const hostQuery = events.filter((e) => e.entry === 'canister_query greet').map((e) => e.durationMs);
  row('  of which canister execution on the host, p50', ms(percentile(hostQuery, 50)));
  const anonymous = probeActor(await agentFor(net.url), id);
  const anonymousQueries: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const t = performance.now();
    await anonymous.greet(`a${i}`);
    anonymousQueries.push(performance.now() - t);
  }
  row('query latency p50, anonymous caller (no request signing)', ms(percentile(anonymousQueries, 50)));
  // The client's share: agent-js signs requests and verifies the node's response signature in pure JS (noble).
  const unverifiedAgent = await HttpAgent.create({
    host: net.url,
    shouldFetchRootKey: true,
    identity: Ed25519KeyIdentity.generate(),
    verifyQuerySignatures: false
  });
  const unverified = probeActor(unverifiedAgent, id);
  const unverifiedQueries: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const t = performance.now();
    await unverified.greet(`u${i}`);
    unverifiedQueries.push(performance.now() - t);
  }
  row('query latency p50, signed, agent skips response-signature check', ms(percentile(unverifiedQueries, 50)), '< 5 ms (host share)');
  const key = ed25519.utils.randomPrivateKey();
  const message = new Uint8Array(64);
  const signature = ed25519.sign(message, key);
  const publicKey = ed25519.getPublicKey(key);
  const verifyStarted = performance.now();
  for (let i = 0; i < SAMPLES; i++) ed25519.verify(signature, message, publicKey);
  const signStarted = performance.now();
  for (let i = 0; i < SAMPLES; i++) ed25519.sign(message, key);
  const signEnded = performance.now();
  row(
    '  client CPU per query in noble Ed25519: sign + verify',
    `${ms((signEnded - signStarted) / SAMPLES)} + ${ms((signStarted - verifyStarted) / SAMPLES)}`
  );
  row('update latency p50 / p99 (agent, verified)', `${ms(percentile(updates, 50))} / ${ms(percentile(updates, 99))}`);

  events.length = 0;
  await actor.greet('x');
  await actor.put('instr', 'value');
  await actor.increment();
  await actor.call_greet(other, 'x');
  await actor.work(100_000);
  console.log('\n  instructions per execution (IC cycles at 13-node rates):');
  for (const e of events) {
    console.log(
      `    ${e.canisterId.slice(0, 11)} ${e.entry.padEnd(34)} ${e.instructions.toLocaleString().padStart(15)} instr  ${cyclesForInstructions(e.instructions).toLocaleString().padStart(15)} cycles  ${e.durationMs.toFixed(2)} ms`
    );
  }
  const put = events.find((e) => e.entry === 'canister_update put');
  if (put !== undefined) row('instructions: put (1 StableBTreeMap insert)', put.instructions.toLocaleString());
  const greet = events.find((e) => e.entry === 'canister_query greet');
  if (greet !== undefined) row('instructions: greet query', greet.instructions.toLocaleString());
  await net.stop();
}

async function throughput(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'deai-bench-'));
  const { child, url } = await startLocalnetProcess(dir, hostProfileArgs());
  try {
    const identity = Ed25519KeyIdentity.generate();
    const agent = await agentFor(url, identity);
    const { Actor } = await import('@dfinity/agent');
    const createIdl: IDL.InterfaceFactory = ({ IDL: I }) =>
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
    type Ic = {
      provisional_create_canister_with_cycles: (a: unknown) => Promise<{ canister_id: Principal }>;
      install_code: (a: unknown) => Promise<void>;
    };
    const create = Actor.createActor<Ic>(createIdl, { agent, canisterId: 'aaaaa-aa', effectiveCanisterId: Principal.fromText('aaaaa-aa') });
    const { canister_id: id } = await create.provisional_create_canister_with_cycles({ amount: [], settings: [], specified_id: [] });
    await Actor.createActor<Ic>(createIdl, { agent, canisterId: 'aaaaa-aa', effectiveCanisterId: id }).install_code({
      mode: { install: null },
      canister_id: id,
      wasm_module: probeWasm(),
      arg: new Uint8Array(IDL.encode([], []))
    });

    // Sign every request ahead of time (one Ed25519 signature each), as a load generator would.
    const expiry = BigInt(Date.now() + 4 * 60_000) * 1_000_000n;
    const bodies: Uint8Array[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      bodies.push(
        await signedCall(identity, id, 'put', new Uint8Array(IDL.encode([IDL.Text, IDL.Text], [`load-${i}`, 'x'.repeat(64)])), expiry)
      );
    }
    const heightBefore = await certifiedHeight(url);
    const { seconds, ok, latencies } = await sendCalls(url, id, bodies, SENDERS);
    const rounds = (await certifiedHeight(url)) - heightBefore;
    row(
      `host throughput, ${SENDERS} senders, pre-signed v3 calls`,
      `${(ok / seconds).toFixed(0)} updates/s (${ok}/${REQUESTS} ok in ${seconds.toFixed(1)} s)`,
      '>= 150 updates/s'
    );
    row('  latency p50 / p99 under load', `${ms(percentile(latencies, 50))} / ${ms(percentile(latencies, 99))}`);
    row('  execution rounds (certificates signed)', `${rounds} for ${ok} updates (${(ok / Math.max(1, rounds)).toFixed(1)} per round)`);
  } finally {
    await stopProcess(child);
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`Localnet benchmark (node ${process.version}, ${(await import('node:os')).cpus().length} cores)\n`);
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
if (only === undefined || only === 'boot') {
  const coldCache = mkdtempSync(join(tmpdir(), 'deai-cache-'));
  await bootAndDeploy(coldCache, 'cold: instrumenting the module');
  await bootAndDeploy(coldCache, 'instrumentation cached');
  rmSync(coldCache, { recursive: true, force: true });
}
if (only === undefined || only === 'latency') await latencyAndInstructions();
if (only === undefined || only === 'throughput') await throughput();
printTable();
