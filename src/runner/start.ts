import { join, resolve } from 'node:path';

import { Principal } from '@dfinity/principal';

import { createAgent } from '../ic/agent.js';
import { workerBlsVerify } from '../ic/bls-verify.js';
import { IcCredit } from '../ic/credit.js';
import { readRecordedIds } from '../ic/deploy.js';
import { loadOrCreateIdentity } from '../ic/identity.js';
import { ledgerClient } from '../ic/ledger.js';
import { registryClient } from '../ic/registry.js';
import { approveBond } from './bond.js';
import type { RunnerConfig } from './config.js';
import { RunnerError } from './errors.js';
import { RunnerMetrics } from './metrics.js';
import { RunnerNode } from './node.js';
import { startMeteredEndpoint, type MeteredEndpoint } from './metered/start.js';
import type { RunnerCreditApi } from '../core/credit/index.js';
import { fileDigest, readGgufFacts } from './probes/gguf.js';
import { probeHardware } from './probes/hardware.js';
import { llamaCppProbe } from './probes/llamacpp.js';
import type { EngineProbe, ProbeResult, ReadyProbe } from './probes/types.js';
import { vllmProbe } from './probes/vllm.js';
import { reconcileManifest, type ProbedFacts } from './reconcile.js';
import { servedWeightsFile } from './served-weights.js';

/** Manifest JSON as the registry reads it: amounts above 2^53 stay exact as decimal strings. */
const manifestText = (value: unknown): string => JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));

export interface StartedRunner {
  node: RunnerNode;
  principal: string;
  registry: string;
  metricsUrl: string;
  /** The metered OpenAI endpoint (what the manifest advertises); absent when `metered.enabled` is false. */
  meteredUrl?: string;
  manifestJson: string;
  /**
   * Settles alone, now, the payers' receipts that are due (held unsettled past `metered.settleAfterSeconds`, or on a
   * closing line); the metered endpoint also does it on its own timer. A no-op without the metered endpoint.
   */
  settleReceipts(): Promise<void>;
  /** Drains (finishes and reports tasks in flight) and closes the metrics server. */
  stop(): Promise<void>;
}

export interface StartRunnerOptions {
  projectDir?: string;
  log?: (event: string, fields?: Record<string, unknown>) => void;
  /** How long to wait for the engine to finish loading before giving up. */
  engineWaitMs?: number;
  /**
   * The registry's credit methods for the metered endpoint (src/core/credit/api.ts). Default: IcCredit over the
   * runner's own registry actor (lines checked there, receipts settled alone there, signed as the runner).
   */
  credit?: RunnerCreditApi;
  /** How often the metered endpoint checks held receipts for settling alone (default 30 s; 0: only `settleReceipts()`). */
  settleCheckMs?: number;
}

async function waitForEngine(
  probe: EngineProbe,
  waitMs: number,
  log: (event: string, fields?: Record<string, unknown>) => void
): Promise<ReadyProbe> {
  const until = Date.now() + waitMs;
  let last: ProbeResult;
  do {
    last = await probe.probe();
    if (last.status === 'ready') return last;
    log('engine-not-ready', {
      status: last.status,
      ...(last.status === 'unreachable' ? { error: last.error.message } : {}),
      ...(last.status === 'malformed' ? { endpoint: last.endpoint } : {})
    });
    await new Promise((r) => setTimeout(r, 1_000));
  } while (Date.now() < until);
  throw new RunnerError('EngineUnreachable', `the ${probe.engine} server did not become ready: last status ${last.status}`);
}

/**
 * Starts a runner node from a resolved configuration: identity, probes, reconciled manifest, registration,
 * heartbeats, task loop and metrics.
 */
export async function startRunner(config: RunnerConfig, options: StartRunnerOptions = {}): Promise<StartedRunner> {
  const projectDir = options.projectDir ?? process.cwd();
  const log = options.log ?? (() => undefined);
  const { identity, created } = loadOrCreateIdentity(resolve(projectDir, config.identity));
  const principal = identity.getPrincipal();
  log(created ? 'identity-created' : 'identity-loaded', { principal: principal.toText(), path: config.identity });
  const registryId = config.network.registry ?? readRecordedIds(projectDir).registry;
  if (registryId === undefined) {
    throw new RunnerError(
      'ManifestInvalid',
      'no registry canister: set network.registry in the runner config, pass --registry, or run `deai deploy` in this directory first'
    );
  }
  const probe =
    config.engine.kind === 'llama.cpp' ? llamaCppProbe({ baseUrl: config.engine.url }) : vllmProbe({ baseUrl: config.engine.url });
  const ready = await waitForEngine(probe, options.engineWaitMs ?? 120_000, log);
  const model = ready.models[0];
  if (model === undefined) throw new RunnerError('ManifestInvalid', `the ${ready.engine} server at ${config.engine.url} serves no model`);
  const hardware = await probeHardware();
  for (const warning of hardware.warnings) log('hardware-warning', { warning });
  const facts: ProbedFacts = { hardware: hardware.hardware, [ready.engine === 'llama.cpp' ? 'llama' : 'vllm']: ready };
  const weights = servedWeightsFile(ready, config.engine.modelPath, projectDir);
  if (weights !== undefined) {
    const { path, source } = weights;
    const configured = config.engine.modelPath === undefined ? undefined : resolve(projectDir, config.engine.modelPath);
    if (configured !== undefined && configured !== path) log('model-path-differs', { configured, served: path });
    log('hashing-model', { path, source });
    facts.gguf = { ...(await readGgufFacts(path)), digest: await fileDigest(path, join(resolve(projectDir, '.deai'), 'digests.json')) };
  }
  const agent = await createAgent(config.network.host, identity);
  // Certificates (heartbeats, settlements) are checked on worker threads, off the loop serving metered requests.
  const registry = registryClient(agent, registryId, { blsVerify: workerBlsVerify });
  let metered: MeteredEndpoint | undefined;
  if (config.metered.enabled)
    metered = await startMeteredEndpoint(config.metered, {
      runner: principal.toText(),
      engineUrl: config.engine.url,
      engineModel: model.id,
      projectDir,
      log,
      credit: options.credit ?? new IcCredit(registry, { registryId: Principal.fromText(registryId), principal }),
      ...(options.settleCheckMs === undefined ? {} : { settleCheckMs: options.settleCheckMs })
    });
  const declared = {
    operator: principal.toText(),
    ...config.manifest,
    ...(metered === undefined ? {} : { endpoint: config.metered.publicUrl ?? metered.url })
  };
  let reconciled: ReturnType<typeof reconcileManifest>;
  try {
    reconciled = reconcileManifest(declared, facts);
  } catch (error) {
    await metered?.close();
    throw error;
  }
  const { manifest, cards } = reconciled;
  metered?.serve(manifest);
  const manifestJson = manifestText(manifest);
  const metrics = new RunnerMetrics();
  const slots = manifest.deployments.reduce((n, d) => n + d.slots, 0);
  const node = new RunnerNode({
    registry,
    prepareRegistration: async () => {
      const bond = await approveBond(
        registry,
        (ledger) => ledgerClient(agent, ledger, { blsVerify: workerBlsVerify }),
        Principal.fromText(registryId),
        principal
      );
      if (bond > 0n) log('bond-approved', { bondE8s: bond.toString() });
    },
    principal,
    engineUrl: config.engine.url,
    engineModel: model.id,
    manifestJson,
    cards: cards.map((card) => ({ id: card.id, digest: card.digest, json: manifestText(card) })),
    slots,
    probe: () => probe.probe(),
    stateFile: resolve(projectDir, config.stateFile),
    pollMs: config.pollMs,
    heartbeatMs: config.heartbeatSeconds * 1000,
    ...(config.leaseMarginSeconds === undefined ? {} : { leaseMarginMs: config.leaseMarginSeconds * 1000 }),
    metrics,
    log
  });
  try {
    await node.start();
  } catch (error) {
    await metered?.close();
    throw error;
  }
  const served = await metrics.serve(config.metricsPort);
  log('ready', { principal: principal.toText(), registry: registryId, model: model.id, slots, metrics: served.url });
  return {
    node,
    principal: principal.toText(),
    registry: registryId,
    metricsUrl: served.url,
    ...(metered === undefined ? {} : { meteredUrl: metered.url }),
    manifestJson,
    settleReceipts: () => metered?.settleNow() ?? Promise.resolve(),
    stop: async () => {
      await node.drain();
      await metered?.close();
      await served.close();
    }
  };
}
