import { join, resolve } from 'node:path';

import { Principal } from '@dfinity/principal';

import { createAgent } from '../ic/agent.js';
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
  /** Drains (finishes and reports tasks in flight) and closes the metrics server. */
  stop(): Promise<void>;
}

export interface StartRunnerOptions {
  projectDir?: string;
  log?: (event: string, fields?: Record<string, unknown>) => void;
  /** How long to wait for the engine to finish loading before giving up. */
  engineWaitMs?: number;
  /**
   * The registry's credit methods for the metered endpoint (src/core/credit/api.ts). Default: none, so every paid
   * request is refused with 402 `no_credit_line` until the registry's credit canister methods are wired in.
   */
  credit?: RunnerCreditApi;
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
  let metered: MeteredEndpoint | undefined;
  if (config.metered.enabled)
    metered = await startMeteredEndpoint(config.metered, {
      runner: principal.toText(),
      engineUrl: config.engine.url,
      engineModel: model.id,
      projectDir,
      log,
      ...(options.credit === undefined ? {} : { credit: options.credit })
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
  const agent = await createAgent(config.network.host, identity);
  const metrics = new RunnerMetrics();
  const slots = manifest.deployments.reduce((n, d) => n + d.slots, 0);
  const registry = registryClient(agent, registryId);
  const node = new RunnerNode({
    registry,
    prepareRegistration: async () => {
      const bond = await approveBond(registry, (ledger) => ledgerClient(agent, ledger), Principal.fromText(registryId), principal);
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
    stop: async () => {
      await node.drain();
      await metered?.close();
      await served.close();
    }
  };
}
