/**
 * Registry benchmark at scale: registers N runners (default 10,000) with 3 deployments each over 50 model cards,
 * then measures find_runners (latency through the agent, instructions), heartbeat and registration
 * instructions, heartbeat throughput of the host, stable memory per runner, and the daily cycles cost.
 *
 *   npm run bench:registry [-- --runners 10000 --interval 180]
 */
import { createHash } from 'node:crypto';

import { requestIdOf } from '@dfinity/agent';
import { IDL } from '@dfinity/candid';
import { Ed25519KeyIdentity } from '@dfinity/identity';
import { Principal } from '@dfinity/principal';

import { HeartbeatArgs, registryInitArgs } from '../../src/interface/registry/index.ts';
import { encodeCbor } from '../../src/localnet/crypto/cbor.ts';
import { cyclesForInstructions } from '../../src/localnet/execution/limits.ts';
import type { ExecutionEvent } from '../../src/localnet/execution/messages.ts';
import { Localnet } from '../../src/localnet/localnet.ts';
import { deployment, digestOf, modelCard, runnerManifest } from '../support/manifests.ts';
import { agentFor } from '../support/probe.ts';
import { findRequest, heartbeatArgs, registryActor, registryWasm } from '../support/registry.ts';
import { flag, sized } from './scale.ts';
import { percentile, printTable, row } from './report.ts';

const RUNNERS = flag('runners', sized(10_000, 12));
const MODELS = sized(50, 4);
const INTERVAL_SECONDS = flag('interval', 180);
const HEARTBEATS = flag('heartbeats', sized(2_000, 16));
const SENDERS = sized(16, 4);
/** Sizes of the instruction and latency samples. */
const HEARTBEAT_SAMPLES = sized(200, 8);
const FIND_SAMPLES = sized(60, 8);
/** Ingress reception fee on a 13-node subnet (base + per byte) and the per-update execution charge. */
const INGRESS_BASE_CYCLES = 1_200_000n;
const INGRESS_BYTE_CYCLES = 2_000n;

const fakePrincipal = (i: number): Principal =>
  Principal.selfAuthenticating(new Uint8Array(createHash('sha256').update(`runner-${i}`).digest()));

console.log(`Registry benchmark: ${RUNNERS} runners x 3 deployments over ${MODELS} models, heartbeat every ${INTERVAL_SECONDS} s\n`);
const net = await Localnet.start({ port: 0, stateDir: null });
const events: ExecutionEvent[] = [];
net.onExecution((e) => events.push(e));
const admin = Ed25519KeyIdentity.generate();
const registry = await net.installCanister({
  wasm: registryWasm(),
  arg: registryInitArgs({
    admins: [admin.getPrincipal()],
    heartbeatIntervalSeconds: BigInt(INTERVAL_SECONDS),
    heartbeatTtlSeconds: BigInt(INTERVAL_SECONDS * 3)
  })
});
const canister = net.engine.getCanister(registry);
if (canister === undefined) throw new Error('registry missing');
const text = (value: string): Uint8Array => new Uint8Array(IDL.encode([IDL.Text], [value]));

const cards = Array.from({ length: MODELS }, (_, i) => modelCard({ id: `org-${i}/model-${i}`, digest: digestOf(`model-${i}`) }));
for (const card of cards) await net.update(registry, 'publish_model_card', text(JSON.stringify(card)), admin.getPrincipal());

const stableBefore = canister.stable.nonZeroPages().size;
const registerInstructions: bigint[] = [];
const started = performance.now();
for (let i = 0; i < RUNNERS; i++) {
  const id = fakePrincipal(i);
  const picks = [cards[i % MODELS], cards[(i * 7 + 3) % MODELS], cards[(i * 13 + 5) % MODELS]];
  const unique = [...new Set(picks)].filter((c): c is Record<string, unknown> => c !== undefined);
  const manifest = runnerManifest(
    id.toText(),
    unique.map((c, k) =>
      deployment(c, {
        slots: 2 + (i % 6),
        price: { inputPerMillion: 500 + ((i * 31 + k) % 2000), outputPerMillion: 1500 + ((i * 17) % 4000) }
      })
    ),
    {
      region: ['eu-west', 'us-east', 'ap-south'][i % 3]
    }
  );
  events.length = 0;
  await net.update(registry, 'register_runner', text(JSON.stringify(manifest)), id);
  const exec = events.find((e) => e.entry === 'canister_update register_runner');
  if (exec !== undefined) registerInstructions.push(exec.instructions);
  events.length = 0;
  await net.update(registry, 'heartbeat', new Uint8Array(IDL.encode([HeartbeatArgs], [heartbeatArgs({ busy_slots: i % 2 })])), id);
  if ((i + 1) % 1000 === 0) console.log(`  … ${i + 1} runners registered (${((performance.now() - started) / 1000).toFixed(0)} s)`);
}
const stablePages = canister.stable.nonZeroPages().size - stableBefore;
row('registration instructions p50', percentile(registerInstructions.map(Number), 50).toLocaleString());
row('stable memory per runner (non-zero pages written / runners)', `${((stablePages * 65536) / RUNNERS).toFixed(0)} bytes`);
row('wasm heap after registration', `${(canister.loaded?.memory.buffer.byteLength ?? 0) / 1048576} MiB`);

// Heartbeat instructions.
const heartbeatInstructions: bigint[] = [];
for (let i = 0; i < HEARTBEAT_SAMPLES; i++) {
  events.length = 0;
  await net.update(
    registry,
    'heartbeat',
    new Uint8Array(IDL.encode([HeartbeatArgs], [heartbeatArgs({ busy_slots: 1 })])),
    fakePrincipal(i)
  );
  const exec = events.find((e) => e.entry === 'canister_update heartbeat');
  if (exec !== undefined) heartbeatInstructions.push(exec.instructions);
}
const hbInstr = BigInt(Math.round(percentile(heartbeatInstructions.map(Number), 50)));
row('heartbeat instructions p50', hbInstr.toLocaleString(), '< 10,000,000');

// find_runners through the agent.
const agent = await agentFor(net.url);
const actor = registryActor(agent, registry);
const latencies: number[] = [];
const findInstructions: bigint[] = [];
const findHostMs: number[] = [];
for (let i = 0; i < FIND_SAMPLES; i++) {
  events.length = 0;
  const t = performance.now();
  const result = await actor.find_runners(findRequest({ model: [`org-${i % MODELS}/model-${i % MODELS}`], limit: [10] }));
  latencies.push(performance.now() - t);
  if ('Err' in result) throw new Error(JSON.stringify(result.Err));
  const exec = events.find((e) => e.entry === 'canister_query find_runners');
  if (exec !== undefined) {
    findInstructions.push(exec.instructions);
    findHostMs.push(exec.durationMs);
  }
}
row('  of which canister execution on the host, p50', `${percentile(findHostMs, 50).toFixed(1)} ms`);
row(
  'find_runners latency p50 / p99 (agent, verified)',
  `${percentile(latencies, 50).toFixed(1)} / ${percentile(latencies, 99).toFixed(1)} ms`,
  'p50 < 50 ms'
);
row(
  'find_runners instructions p50 / max',
  `${percentile(findInstructions.map(Number), 50).toLocaleString()} / ${Math.max(...findInstructions.map(Number)).toLocaleString()}`,
  '< 500,000,000'
);
events.length = 0;
const unfilteredResult = await actor.find_runners(findRequest({ limit: [10] }));
const unfiltered = events.find((e) => e.entry === 'canister_query find_runners');
row(
  'find_runners without a model filter',
  `${'Err' in unfilteredResult ? `refused (${Object.keys(unfilteredResult.Err)[0] ?? 'Err'})` : 'answered'}, ${unfiltered?.instructions.toLocaleString() ?? 'n/a'} instructions`
);

// Heartbeat throughput from pre-signed requests of distinct runner identities.
const identities = Array.from({ length: Math.min(HEARTBEATS, 2000) }, () => Ed25519KeyIdentity.generate());
for (const identity of identities) {
  const manifest = runnerManifest(identity.getPrincipal().toText(), [deployment(cards[0] ?? {})]);
  await net.update(registry, 'register_runner', text(JSON.stringify(manifest)), identity.getPrincipal());
}
const expiry = BigInt(Date.now() + 4 * 60_000) * 1_000_000n;
const bodies: Uint8Array[] = [];
for (let i = 0; i < HEARTBEATS; i++) {
  const identity = identities[i % identities.length];
  if (identity === undefined) continue;
  const content = {
    request_type: 'call',
    canister_id: registry.toUint8Array(),
    method_name: 'heartbeat',
    arg: new Uint8Array(IDL.encode([HeartbeatArgs], [heartbeatArgs()])),
    sender: identity.getPrincipal().toUint8Array(),
    ingress_expiry: expiry,
    nonce: crypto.getRandomValues(new Uint8Array(16))
  };
  const signature = await identity.sign(new Uint8Array([...new TextEncoder().encode('\x0Aic-request'), ...requestIdOf(content)]));
  bodies.push(
    encodeCbor({ content, sender_pubkey: new Uint8Array(identity.getPublicKey().toDer()), sender_sig: new Uint8Array(signature) })
  );
}
let next = 0;
let ok = 0;
const hbStarted = performance.now();
await Promise.all(
  Array.from({ length: SENDERS }, async () => {
    for (let i = next++; i < bodies.length; i = next++) {
      const response = await fetch(`${net.url}/api/v3/canister/${registry.toText()}/call`, {
        method: 'POST',
        headers: { 'content-type': 'application/cbor' },
        body: Buffer.from(bodies[i] ?? new Uint8Array())
      });
      await response.arrayBuffer();
      if (response.status === 200) ok++;
    }
  })
);
const hbPerSecond = ok / ((performance.now() - hbStarted) / 1000);
const needed = RUNNERS / INTERVAL_SECONDS;
row(
  `heartbeat throughput (${SENDERS} senders, pre-signed)`,
  `${hbPerSecond.toFixed(0)} updates/s`,
  `>= ${needed.toFixed(0)}/s for ${RUNNERS} runners every ${INTERVAL_SECONDS} s`
);

// Daily cost of heartbeats at mainnet (13-node) rates.
const perHeartbeat = cyclesForInstructions(hbInstr) + INGRESS_BASE_CYCLES + INGRESS_BYTE_CYCLES * BigInt(bodies[0]?.length ?? 300);
const perDay = perHeartbeat * BigInt(RUNNERS) * BigInt(Math.round(86_400 / INTERVAL_SECONDS));
row(
  'heartbeat cost',
  `${perHeartbeat.toLocaleString()} cycles each; ${(Number(perDay) / 1e12).toFixed(2)} T cycles/day for ${RUNNERS} runners (~$${((Number(perDay) / 1e12) * 1.35).toFixed(2)}/day)`
);
row('mainnet round budget used by heartbeats', `${(((Number(hbInstr) * needed) / 2e9) * 100).toFixed(1)}% of ~2B instructions/s`);

await net.stop();
printTable();
