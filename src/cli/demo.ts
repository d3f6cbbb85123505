import { resolve } from 'node:path';

import { Principal } from '@dfinity/principal';

import { loadOrCreateIdentity } from '../ic/identity.js';
import { startLlamaServer, type LlamaServer } from '../runner/llama/server.js';
import { ensureTinyModel } from '../runner/llama/tiny-model.js';
import { ensureLlamaServer } from '../runner/llama/toolchain.js';
import { RunnerConfigSchema } from '../runner/config.js';
import { startRunner, type StartedRunner } from '../runner/start.js';
import { DeaiClient } from '../sdk/index.js';
import { DEFAULT_IDENTITY_PATH } from './defaults.js';
import type { Output } from './output.js';

export const DEMO_MODEL_ID = 'deai/tiny-random-llama';

export interface DemoResult {
  taskId: string;
  output: string;
  outputTokens: bigint;
  requester: string;
  runner: string;
  balances: { requesterE8s: bigint; runnerE8s: bigint };
  urls: { llamaServer: string; runnerMetrics: string };
}

export interface RunningDemo {
  result: DemoResult;
  stop(): Promise<void>;
}

const formatTokens = (e8s: bigint): string => `${e8s / 100_000_000n}.${(e8s % 100_000_000n).toString().padStart(8, '0')} DEAI`;

/**
 * The whole system on one machine: a real llama-server on a tiny model (built once into ~/.cache/deai), a runner
 * node registered with what it measured, and a dApp task submitted with the SDK, executed, accepted and paid.
 */
export async function runDemo(options: { host: string; registryId: string; projectDir: string; out: Output }): Promise<RunningDemo> {
  const { out, projectDir } = options;
  const started = Date.now();
  out.info(
    'Demo: preparing llama-server and the tiny model (the first run on a machine builds llama.cpp: ~5–6 min on 2 cores; later runs take a second) …'
  );
  const progress = (message: string): void => out.info(`  llama: ${message}`);
  const toolchain = await ensureLlamaServer({ onProgress: progress });
  const modelPath = await ensureTinyModel({ onProgress: progress });
  out.info(`  llama-server ready (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  let llama: LlamaServer | undefined;
  let runner: StartedRunner | undefined;
  const stop = async (): Promise<void> => {
    await runner?.stop();
    await llama?.stop();
  };
  try {
    llama = await startLlamaServer({ modelPath, serverPath: toolchain.serverPath, alias: 'tiny-random-llama', slots: 1 });
    out.info(`Demo: llama-server on ${llama.url}; starting a runner node …`);
    const config = RunnerConfigSchema.parse({
      network: { host: options.host, registry: options.registryId },
      identity: '.deai/runner.pem',
      engine: { kind: 'llama.cpp', url: llama.url, modelPath },
      manifest: {
        // The gateway (and `chat({ via: 'direct' })`) reach the runner here.
        endpoint: llama.url,
        region: 'local',
        deployments: [
          {
            model: { id: DEMO_MODEL_ID },
            price: { inputPerMillion: 100, outputPerMillion: 300 },
            card: { version: '1.0.0', family: 'llama', license: 'MIT' }
          }
        ]
      },
      heartbeatSeconds: 10,
      pollMs: 200,
      metricsPort: 0,
      metered: { port: 0 },
      stateFile: '.deai/runner-state.json'
    });
    // While bonds are on, the runner registers with a bond: the deployer (funded at deploy) pays for it once.
    const deployer = await DeaiClient.connect({
      host: options.host,
      registryId: options.registryId,
      identity: loadOrCreateIdentity(resolve(projectDir, DEFAULT_IDENTITY_PATH)).identity
    });
    const runnerId = loadOrCreateIdentity(resolve(projectDir, config.identity)).identity.getPrincipal();
    const bondCost = await deployer.bondCost();
    if (bondCost > 0n && (await deployer.getBond(runnerId)) === undefined) {
      const held = await deployer.balance({ owner: runnerId });
      if (held < bondCost) await deployer.transfer({ owner: runnerId }, bondCost - held);
    }
    runner = await startRunner(config, {
      projectDir,
      log: (event, fields) =>
        event === 'ready' || event === 'task-completed' ? out.info(`  runner: ${event} ${JSON.stringify(fields ?? {})}`) : undefined
    });
    out.info(`  runner ${runner.principal} registered and live`);

    const { identity } = loadOrCreateIdentity(resolve(projectDir, DEFAULT_IDENTITY_PATH));
    const client = await DeaiClient.connect({ host: options.host, registryId: options.registryId, identity });
    const reward = 1_000_000n;
    out.info(
      `Demo: submitting a task as ${identity.getPrincipal().toText()} (budget ${formatTokens(reward)}: the runner is paid its metered tokens × its prices, the rest refunded) …`
    );
    const task = await client.submitTask({
      model: DEMO_MODEL_ID,
      prompt: 'Write one sentence about the sea.',
      rewardE8s: reward,
      maxOutputTokens: 48,
      temperature: 0,
      seed: 7n,
      idempotencyKey: `demo-${Date.now()}`
    });
    const result = await client.waitForResult(task.id, {
      timeoutMs: 120_000,
      onProgress: (state) => out.info(`  task ${task.id}: ${state}`)
    });
    await client.accept(task.id);
    out.info(`  accepted; the registry pays the runner from escrow (payout timer, every 5 s) …`);
    const runnerAccount = Principal.fromText(runner.principal);
    const cost = (await client.getTask(task.id)).results[0]?.costE8s ?? 0n;
    let runnerBalance = await client.balance({ owner: runnerAccount });
    for (let i = 0; i < 60 && runnerBalance < cost; i++) {
      await new Promise((r) => setTimeout(r, 500));
      runnerBalance = await client.balance({ owner: runnerAccount });
    }
    const demo: DemoResult = {
      taskId: task.id,
      output: result.output ?? '',
      outputTokens: result.outputTokens,
      requester: identity.getPrincipal().toText(),
      runner: runner.principal,
      balances: { requesterE8s: await client.balance(), runnerE8s: runnerBalance },
      urls: { llamaServer: llama.url, runnerMetrics: runner.metricsUrl }
    };
    out.info(
      `Demo result (${task.id}): "${demo.output}" (${demo.outputTokens} tokens; a tiny random-weight model, so the words are gibberish by design: the point is the path they took)`
    );
    out.info(`Balances: requester ${formatTokens(demo.balances.requesterE8s)}, runner ${formatTokens(demo.balances.runnerE8s)}`);
    return { result: demo, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
