import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

import { z } from 'zod';

import { IcError } from '../ic/errors.js';
import { loadIdentity } from '../ic/identity.js';
import type { RunnerConfig } from '../runner/config.js';
import { safeParsePrometheusText, valuesOf } from '../runner/probes/prometheus-text.js';
import { DeaiClient, DeaiError, type Reputation, type RunnerInfo } from '../sdk/index.js';
import { resolveRegistryId } from './client.js';

export interface RunnerStatus {
  principal: string;
  registry: string;
  host: string;
  /** What the registry holds; undefined when the runner never registered. */
  onChain?: RunnerInfo & { heartbeatAgeSeconds?: number };
  reputation: Reputation;
  /** The runner process on this machine, read from its /metrics; undefined when nothing answers there. */
  local?: {
    metricsUrl: string;
    claimed: number;
    completed: number;
    failed: number;
    /** Results the registry refused (complete_task answered Err); each was then reported with fail_task. */
    completionsRefused: number;
    inFlight: number;
    outputTokens: number;
  };
  /** Tasks the state file says were leased and not yet reported (a restart resumes them). */
  pendingTasks: string[];
  healthy: boolean;
}

const InFlightFile = z.object({ tasks: z.array(z.string()) });
const METRICS_TIMEOUT_MS = 1_500;

/**
 * Everything an operator asks about a runner: is it registered and live on-chain (state, heartbeat age,
 * deployments, reputation), does its process run here (its /metrics), and which leased tasks are unreported.
 */
export async function runnerStatus(config: RunnerConfig, projectDir = process.cwd()): Promise<RunnerStatus> {
  const registry = config.network.registry ?? resolveRegistryId(undefined, projectDir);
  const identityPath = resolve(projectDir, config.identity);
  if (!existsSync(identityPath)) {
    throw new IcError(
      'IdentityNotFound',
      `Runner identity ${identityPath} does not exist: the runner creates it on its first \`deai runner start\`, or pass --identity`
    );
  }
  const principal = loadIdentity(identityPath).getPrincipal();
  const client = await DeaiClient.connect({ host: config.network.host, registryId: registry });
  const [onChain, reputation, local] = await Promise.all([
    client.getRunner(principal).then(
      (info) => info,
      (error: unknown) => {
        if (error instanceof DeaiError && error.code === 'NotFound') return undefined;
        throw error;
      }
    ),
    client.getReputation(principal),
    readLocalMetrics(config.metricsPort)
  ]);
  const nowNs = BigInt(Date.now()) * 1_000_000n;
  const heartbeatAgeSeconds = onChain?.heartbeat === undefined ? undefined : Number((nowNs - onChain.heartbeat.atNs) / 1_000_000n) / 1000;
  return {
    principal: principal.toText(),
    registry,
    host: config.network.host,
    ...(onChain === undefined
      ? {}
      : {
          onChain: { ...onChain, ...(heartbeatAgeSeconds === undefined ? {} : { heartbeatAgeSeconds: Math.max(0, heartbeatAgeSeconds) }) }
        }),
    reputation,
    ...(local === undefined ? {} : { local }),
    pendingTasks: readPendingTasks(resolve(projectDir, config.stateFile)),
    healthy: onChain?.live === true
  };
}

/** The human form of a status. */
export function formatRunnerStatus(status: RunnerStatus): string {
  const lines = [`Runner ${status.principal} (registry ${status.registry} at ${status.host})`];
  const chain = status.onChain;
  if (chain === undefined) {
    lines.push('  not registered: start it with `deai runner start --config runner.yaml`');
  } else {
    const beat = chain.heartbeat;
    lines.push(
      `  ${chain.live ? 'live' : 'NOT LIVE'}${chain.suspended === undefined ? '' : ` (suspended: ${chain.suspended})`}, state ${beat?.state ?? 'none'}, ` +
        (beat === undefined
          ? 'no heartbeat yet'
          : `last heartbeat ${chain.heartbeatAgeSeconds?.toFixed(1) ?? '?'} s ago, ${beat.busySlots} busy slots, queue ${beat.queueDepth}, ${beat.tokensPerSecond.toFixed(1)} tokens/s`),
      `  region ${chain.region}${chain.endpoint === undefined ? '' : `, endpoint ${chain.endpoint}`}`,
      ...chain.deployments.map(
        (d) =>
          `  serves ${d.modelId} on ${d.engine} ${d.engineVersion}: ${d.slots} slots, context ${d.servedContext}, price ${d.inputPricePerMillion}/${d.outputPricePerMillion} e8s per million tokens`
      )
    );
  }
  const r = status.reputation;
  lines.push(
    `  reputation: ${r.completed} completed, ${r.failed} failed, ${r.rejected} rejected, ${r.expiredLeases} expired leases, latency ${r.latencyMsEma.toFixed(0)} ms`
  );
  lines.push(
    status.local === undefined
      ? '  process: no runner answers on its metrics port here'
      : `  process: running (${status.local.metricsUrl}): ${status.local.claimed} claimed, ${status.local.completed} completed, ${status.local.failed} failed (${status.local.completionsRefused} refused completions), ${status.local.inFlight} in flight`
  );
  if (status.pendingTasks.length > 0) lines.push(`  unreported leased tasks (resumed on restart): ${status.pendingTasks.join(', ')}`);
  return lines.join('\n');
}

async function readLocalMetrics(port: number): Promise<RunnerStatus['local']> {
  if (port === 0) return undefined;
  const metricsUrl = `http://127.0.0.1:${port}/metrics`;
  let text: string;
  try {
    const response = await fetch(metricsUrl, { signal: AbortSignal.timeout(METRICS_TIMEOUT_MS) });
    if (!response.ok) return undefined;
    text = await response.text();
  } catch {
    return undefined; // nothing listens there: the process does not run on this machine
  }
  const parsed = safeParsePrometheusText(text);
  if (!parsed.ok) return undefined;
  const samples = parsed.samples;
  const one = (name: string): number => valuesOf(samples, name).reduce((a, b) => a + b, 0);
  if (valuesOf(samples, 'deai_runner_tasks_claimed_total').length === 0) return undefined; // something else answers on that port
  return {
    metricsUrl,
    claimed: one('deai_runner_tasks_claimed_total'),
    completed: one('deai_runner_tasks_completed_total'),
    failed: one('deai_runner_tasks_failed_total'),
    completionsRefused: one('deai_runner_task_completions_refused_total'),
    inFlight: one('deai_runner_tasks_in_flight'),
    outputTokens: samples
      .filter((s) => s.name === 'deai_runner_tokens_total' && s.labels.kind === 'output')
      .reduce((a, s) => a + s.value, 0)
  };
}

function readPendingTasks(file: string): string[] {
  if (!existsSync(file)) return [];
  try {
    const parsed = InFlightFile.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    return parsed.success ? parsed.data.tasks : [];
  } catch {
    return [];
  }
}
