/**
 * Gateway benchmark (issue 17): what the paid fast path costs next to llama-server alone, measured side by side in one
 * run on the tiny random llama (a real llama-server, several slots) and an in-process localnet.
 *
 *   npm run bench:gateway [-- --requests 40 --tokens 64 --load 192 --clients 16 --model tiny|small]
 *
 * Three paths to the same llama-server: direct (the `openai` client on llama-server's /v1), metered (the payer client
 * → the runner's metered endpoint, signed, receipts, settled in batches) and the gateway (the `openai` client →
 * `deai gateway` with the paid transport → the same metered endpoint). The runner (`deai runner start`) and the gateway
 * (`deai gateway`) each run in their own process, as in production, so the clients measuring here (and the
 * in-process localnet) share no event loop with them; `--profile-host` writes their CPU profiles to
 * $TMPDIR/deai-host-profile. The metered path's payer signs as the SDK does (the identity's
 * pure-JS Ed25519), the gateway's with OpenSSL (src/gateway/native-signer.ts). Interleaved
 * streamed requests give the p50 time to first token and generation tokens/s of each; `clients` concurrent loops of
 * short generations give requests/s. The registry's settle_usage messages (the payers' default batches: 100 requests
 * or 10 s) give the instructions per settled request, and the ledger's block count the transfers per 1,000 requests
 * (deposits, approvals and the runner's withdrawal; reservations and settlement move no tokens on the ledger).
 *
 * `--model small` runs it all on the 60 M-parameter random llama (~5 ms a token on 2 cores) instead of the 4.2 M tiny one
 * (~0.4 ms a token): inference that costs more per token, as every real model's does, next to the same fixed cost of the
 * two hops in front of it.
 *
 * A fourth path is the floor of any such design: the same clients through two pass-through Node HTTP hops in their own
 * processes (tests/bench/pass-through.ts: no signing, metering or books), which is what the gateway and the runner are
 * before they do anything of their own. On a small machine, where every process shares the cores with llama-server,
 * its ratios say how much of the gateway's distance to a target is the two hops themselves.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Ed25519KeyIdentity } from '@dfinity/identity';

import type { PayerCreditApi } from '../../src/core/credit/index.ts';
import { KeyStore } from '../../src/gateway/keys.ts';
import { IcCredit } from '../../src/ic/credit.ts';
import { ed25519Pem, loadOrCreateIdentity } from '../../src/ic/identity.ts';
import { Localnet } from '../../src/localnet/localnet.ts';
import { RunnerConfigSchema } from '../../src/runner/config.ts';
import { PayerClient, type PaidTarget } from '../../src/sdk/paid/payer.ts';
import { spawnGateway } from '../support/gateway.ts';
import { llamaFixture } from '../support/llama.ts';
import { spawnRunner } from '../support/runner-process.ts';
import { payoutsOf, processTasks, taskNetwork, type TaskNetwork } from '../support/tasks.ts';
import {
  meteredPath,
  openaiPath,
  requestsPerSecond,
  retrying,
  startPassThrough,
  tokensPerSecond,
  type Path,
  type StreamRun
} from './gateway-paths.ts';
import { cpuDuring } from './process-cpu.ts';
import { percentile, printTable, row } from './report.ts';
import { choice, flag, hostProfileArgs, sized } from './scale.ts';

const REQUESTS = flag('requests', sized(40, 4));
const TOKENS = flag('tokens', sized(64, 16));
const LOAD = flag('load', sized(192, 32));
const LOAD_TOKENS = 8;
const CLIENTS = flag('clients', 16);
const SLOTS = 4;
const MODEL_SIZE = choice('model', ['tiny', 'small'] as const, 'tiny');
const MODEL_ID = `deai/${MODEL_SIZE}-random-llama`;
const PRICES = { inputPerMillion: 10_000_000n, outputPerMillion: 30_000_000n };
const prompt = (i: number): string => `Write a short story about lighthouse number ${i}.`;
const M = (n: number): string => `${(n / 1e6).toFixed(2)}M`;

/**
 * settle_usage as the payers call it: the registry's instructions and batches (every payer's, from the localnet), and
 * the items and requests of the batches of payers in this process (`wrap`); the gateway's payer, in its own process,
 * settles its one line per batch.
 */
class SettleMeter {
  instructions = 0n;
  batches = 0;
  /** Batches, items and requests settled by the payers wrapped here. */
  wrappedBatches = 0;
  items = 0;
  requests = 0n;
  private readonly settled = new Map<bigint, bigint>();

  constructor(net: Localnet, registry: string) {
    net.onExecution((e) => {
      if (e.canisterId !== registry || !e.entry.includes('settle_usage')) return;
      this.instructions += e.instructions;
      this.batches += 1;
    });
  }

  wrap(credit: IcCredit): PayerCreditApi {
    return {
      depositCredit: (amount) => credit.depositCredit(amount),
      reserveCredit: (runner, amount) => credit.reserveCredit(runner, amount),
      findCreditLine: (payer, runner) => credit.findCreditLine(payer, runner),
      getCreditAccount: (owner) => credit.getCreditAccount(owner),
      settleUsage: async (items) => {
        const outcomes = await credit.settleUsage(items);
        this.wrappedBatches += 1;
        this.items += items.length;
        items.forEach((item, i) => {
          if (outcomes[i]?.ok !== true) return;
          this.requests += item.requests - (this.settled.get(item.lineId) ?? 0n);
          this.settled.set(item.lineId, item.requests);
        });
        return outcomes;
      }
    };
  }
}

async function blockCount(t: TaskNetwork): Promise<bigint> {
  return (await (await t.token(t.admin)).icrc3_get_blocks([{ start: 0n, length: 0n }])).log_length;
}

/**
 * A payer with `depositE8s` of credit in the registry (one approval and one transfer_from on the ledger), signing with
 * the identity's pure-JS Ed25519 as the SDK does.
 */
async function openPayer(t: TaskNetwork, meter: SettleMeter, depositE8s: bigint): Promise<PayerClient> {
  const identity = Ed25519KeyIdentity.generate();
  await t.fund(identity, depositE8s + 1_000_000n);
  const credit = new IcCredit(await t.tasks(identity), {
    registryId: t.registry,
    principal: identity.getPrincipal(),
    ledger: await t.token(identity)
  });
  await credit.depositCredit(depositE8s);
  return PayerClient.open({ identity, credit: meter.wrap(credit) });
}

const llama = await llamaFixture({ slots: SLOTS, size: MODEL_SIZE });
const net = await Localnet.start({ port: 0, stateDir: null });
const dir = mkdtempSync(join(tmpdir(), 'deai-bench-gateway-'));
const stops: Array<() => Promise<unknown>> = [];
try {
  console.log(
    `Gateway benchmark (node ${process.version}): ${MODEL_SIZE} random llama (llama.cpp ${llama.commit}), ${SLOTS} slots; ` +
      `${REQUESTS} interleaved streamed requests of ${TOKENS} tokens per path; ${CLIENTS} clients × ${LOAD} requests of ${LOAD_TOKENS} tokens per path\n`
  );
  const t = await taskNetwork(net);
  const meter = new SettleMeter(net, t.registry.toText());
  const fundedFrom = await blockCount(t);

  // The runner, in its own process: its identity known beforehand, so that the credit client here withdraws as it.
  const runnerPem = join(dir, 'runner.pem');
  const { identity: runnerIdentity } = loadOrCreateIdentity(runnerPem);
  const runnerPrincipal = runnerIdentity.getPrincipal().toText();
  const runnerCredit = new IcCredit(await t.tasks(runnerIdentity), { registryId: t.registry, principal: runnerIdentity.getPrincipal() });
  const config = RunnerConfigSchema.parse({
    network: { host: net.url, registry: t.registry.toText() },
    identity: runnerPem,
    engine: { kind: 'llama.cpp', url: llama.url, modelPath: llama.modelPath },
    manifest: {
      region: 'local',
      deployments: [
        {
          model: { id: MODEL_ID },
          price: { inputPerMillion: Number(PRICES.inputPerMillion), outputPerMillion: Number(PRICES.outputPerMillion) },
          card: { version: '1.0.0', family: 'llama', license: 'MIT' }
        }
      ]
    },
    heartbeatSeconds: 30,
    // No task polling during the measurements: this benchmark is about the paid direct path.
    pollMs: 60_000,
    metricsPort: 0,
    metered: { port: 0 },
    stateFile: join(dir, 'runner-state.json')
  });
  const runner = await spawnRunner(dir, config, { nodeArgs: hostProfileArgs() });
  stops.push(() => runner.stop());

  const depositE8s = 1_000_000_000n;
  const meteredPayer = await openPayer(t, meter, depositE8s);
  // The gateway, in its own process: `deai gateway` paying as its own funded identity (deposited at its start), with
  // its default batches (100 requests or 10 s), signing with OpenSSL.
  const gatewayIdentity = Ed25519KeyIdentity.generate();
  writeFileSync(join(dir, 'gateway.pem'), ed25519Pem(gatewayIdentity));
  await t.fund(gatewayIdentity, depositE8s + 1_000_000n);
  const keysFile = join(dir, '.deai', 'gateway-keys.json');
  const { key } = new KeyStore(keysFile).create({ name: 'bench', limitE8s: 10n ** 20n, ratePerMinute: 1_000_000 });
  const gateway = await spawnGateway(
    dir,
    [
      ...['--port', '0', '--host', net.url, '--registry', t.registry.toText(), '--identity', join(dir, 'gateway.pem')],
      ...['--keys', keysFile, '--deposit-e8s', String(depositE8s)]
    ],
    hostProfileArgs()
  );
  stops.push(() => gateway.stop());

  const target: PaidTarget = { runner: runnerPrincipal, endpoint: runner.meteredUrl, prices: PRICES };
  const inner = await startPassThrough(llama.url);
  stops.push(() => inner.stop());
  const outer = await startPassThrough(inner.url);
  stops.push(() => outer.stop());
  // Each path's resends after a connection error, shown with its figures.
  const resent = [{ count: 0 }, { count: 0 }, { count: 0 }, { count: 0 }];
  const paths: Array<[name: string, path: Path]> = [
    ['direct to llama-server', retrying(openaiPath(`${llama.url}/v1`, 'none', llama.alias), resent[0]!)],
    ['metered runner endpoint (payer client → runner → llama-server)', retrying(meteredPath(meteredPayer, target, MODEL_ID), resent[1]!)],
    ['gateway (openai → gateway → runner → llama-server)', retrying(openaiPath(gateway.baseURL, key, MODEL_ID), resent[2]!)],
    [
      'two pass-through hops (openai → Node proxy → Node proxy → llama-server)',
      retrying(openaiPath(`${outer.url}/v1`, 'none', llama.alias), resent[3]!)
    ]
  ];

  // Warm-up: connections, the gateway's catalog, each payer's credit line.
  for (const [, path] of paths) for (let i = 0; i < 3; i++) await path({ prompt: 'warm up', maxTokens: 8 });

  // Latency and generation speed: the paths take turns, so drift on a busy machine hits all alike. Each request has a
  // prompt of its own: the same prompt again would find llama-server's prompt cache warm for every path but the first
  // (on the small model that is ~10 ms of prompt evaluation the first path alone would pay).
  const runs = paths.map((): StreamRun[] => []);
  for (let i = 0; i < REQUESTS; i++)
    for (const [p, [, path]] of paths.entries()) runs[p]!.push(await path({ prompt: prompt(i * paths.length + p), maxTokens: TOKENS }));
  const ttft = runs.map((r) =>
    percentile(
      r.map((x) => x.firstTokenMs),
      50
    )
  );
  const total = runs.map((r) =>
    percentile(
      r.map((x) => x.totalMs),
      50
    )
  );
  const speed = runs.map((r) => percentile(r.map(tokensPerSecond), 50));
  for (const [p, [name]] of paths.entries())
    row(
      `${name}: time to first token / total p50, generation speed (${TOKENS}-token streams)`,
      `${ttft[p]!.toFixed(1)} ms / ${total[p]!.toFixed(1)} ms, ${speed[p]!.toFixed(0)} tokens/s`
    );
  const [, metered, viaGateway, floor] = [0, 1, 2, 3];
  row('p50 time-to-first-token overhead, metered endpoint vs direct', `${(ttft[metered]! - ttft[0]!).toFixed(1)} ms`);
  row('p50 time-to-first-token overhead, gateway vs direct', `${(ttft[viaGateway]! - ttft[0]!).toFixed(1)} ms`, '≤ 10 ms');
  row('generation tokens/s ratio, metered endpoint / direct', (speed[metered]! / speed[0]!).toFixed(3));
  row('generation tokens/s ratio, gateway / direct', (speed[viaGateway]! / speed[0]!).toFixed(3), '≥ 0.95');
  row(
    'p50 time-to-first-token overhead / tokens/s ratio, two pass-through hops (the floor)',
    `${(ttft[floor]! - ttft[0]!).toFixed(1)} ms / ${(speed[floor]! / speed[0]!).toFixed(3)}`
  );

  // Throughput: the same clients on each path in turn.
  const ask = (i: number) => ({ prompt: prompt(i), maxTokens: LOAD_TOKENS });
  const rps: number[] = [];
  const pids = {
    'llama-server': llama.server.pid,
    runner: runner.child.pid,
    gateway: gateway.child.pid,
    'hop 1': outer.pid,
    'hop 2': inner.pid
  };
  const cpu: Array<Record<string, number>> = [];
  for (const [, path] of paths) {
    const { result, cpuMs } = await cpuDuring(pids, () => requestsPerSecond(path, CLIENTS, LOAD, ask));
    rps.push(result);
    cpu.push(cpuMs);
  }
  const retries = (p: number): string =>
    resent[p]!.count === 0 ? '' : `; ${resent[p]!.count} resent after a connection error (whole run)`;
  row(`requests/s, ${CLIENTS} clients, direct to llama-server (${LOAD_TOKENS}-token streams)`, `${rps[0]!.toFixed(1)}${retries(0)}`);
  row(
    `requests/s, ${CLIENTS} clients, metered endpoint`,
    `${rps[metered]!.toFixed(1)} (ratio ${(rps[metered]! / rps[0]!).toFixed(3)})${retries(metered)}`
  );
  row(
    `requests/s, ${CLIENTS} clients, gateway`,
    `${rps[viaGateway]!.toFixed(1)} (ratio ${(rps[viaGateway]! / rps[0]!).toFixed(3)})${retries(viaGateway)}`,
    'ratio ≥ 0.8'
  );
  row(
    `requests/s, ${CLIENTS} clients, two pass-through hops (the floor of a two-hop path)`,
    `${rps[floor]!.toFixed(1)} (ratio ${(rps[floor]! / rps[0]!).toFixed(3)})${retries(floor)}`
  );
  // Where the two cores went: CPU per request of each process (the benchmark's own holds the clients and the localnet).
  for (const [p, [name]] of paths.entries())
    row(
      `CPU per request by process, ${CLIENTS} clients, ${name.split(' (')[0]}`,
      Object.entries(cpu[p]!)
        .map(([proc, ms]) => `${proc} ${(ms / LOAD).toFixed(2)} ms`)
        .join(', ')
    );

  // Settlement: what is left settles now (as closing payers do: the gateway settles as it stops); the runner withdraws
  // its accrued credit once. The gateway payer's requests settled: its line's settled seq (one receipt per request).
  await meteredPayer.close();
  const gatewayExit = await gateway.stop();
  if (gatewayExit !== 0) throw new Error(`deai gateway exited ${String(gatewayExit)}: ${gateway.log().slice(-2_000)}`);
  const gatewayLine = await runnerCredit.findCreditLine(gatewayIdentity.getPrincipal().toText(), runnerPrincipal);
  const settledRequests = meter.requests + (gatewayLine?.settledSeq ?? 0n);
  const items = meter.items + (meter.batches - meter.wrappedBatches);
  const paid = 2 * (3 + REQUESTS + LOAD);
  if (settledRequests < BigInt(paid)) throw new Error(`settled ${settledRequests} requests of ${paid}`);
  const perRequest = Number(meter.instructions) / Number(settledRequests);
  row(
    `registry instructions per settled request, amortized (settle_usage: ${meter.batches} batches, ${items} items, ${settledRequests} requests; payers' default 100 requests or 10 s per batch)`,
    `${M(perRequest)}; ${M(Number(meter.instructions) / meter.batches)} per batch`,
    '≤ 2M'
  );
  await runnerCredit.withdrawAccrued();
  for (let pass = 0; pass < 20 && (await payoutsOf(t)).length > 0; pass++) await processTasks(t);
  const blocks = Number((await blockCount(t)) - fundedFrom) - 2; // less the two test fundings of the payers
  row(
    `ledger transfers per 1,000 paid requests (2 payers' approve + deposit, runner's withdrawal; ${paid} requests)`,
    `${((blocks / paid) * 1000).toFixed(1)} (${blocks} blocks)`,
    '≪ 1,000'
  );
  printTable();
} catch (error) {
  // Printed here: an uncaught error would go through Binaryen's handler, which prints a megabyte source line and exits 7.
  console.error(`bench:gateway failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
} finally {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  await llama.stop();
  await net.stop();
  rmSync(dir, { recursive: true, force: true });
}
