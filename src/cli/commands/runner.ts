import type { Command } from 'commander';

import { loadRunnerConfig } from '../../runner/config.js';
import { output, run } from '../output.js';
import { clientOptions, connectClient, runClient, type ClientFlags } from '../client.js';
import { NOT_LIVE_EXIT_CODE } from '../runner-exit-codes.js';
import { portOption } from './localnet.js';

export interface RunnerFlags {
  config: string;
  json: boolean;
  host?: string;
  registry?: string;
  identity?: string;
  engineUrl?: string;
  metricsPort?: number;
}

/** One log line: JSON (`--json`, for log shippers) or a human sentence. */
function logger(json: boolean): (event: string, fields?: Record<string, unknown>) => void {
  return (event, fields = {}) => {
    if (json) {
      console.log(JSON.stringify({ at: new Date().toISOString(), event, ...fields }));
      return;
    }
    const details = Object.entries(fields)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    console.log(`${new Date().toISOString().slice(11, 19)} ${event}${details ? `  ${details}` : ''}`);
  };
}

export function registerRunner(program: Command): void {
  const runner = program.command('runner').description('run an inference runner node next to a llama.cpp or vLLM server');
  runner
    .command('start')
    .description('probe the local engine, register what it serves, heartbeat, and execute tasks (Ctrl-C / SIGTERM drains)')
    .option('--config <file>', 'runner configuration (YAML)', 'runner.yaml')
    .option('--host <url>', 'IC network (overrides network.host)')
    .option('--registry <id>', 'registry canister id (overrides network.registry)')
    .option('--identity <pem>', 'runner identity PEM (created on first start, mode 0600)')
    .option('--engine-url <url>', 'inference server URL (overrides engine.url)')
    .option('--metrics-port <port>', 'port of the runner’s own /metrics (0 = free port)', portOption)
    .option('--json', 'log JSON lines', false)
    .action(async (flags: RunnerFlags) =>
      run(flags.json, async () => {
        const log = logger(flags.json);
        const config = loadRunnerConfig(
          flags.config,
          {
            host: flags.host,
            registry: flags.registry,
            identity: flags.identity,
            engineUrl: flags.engineUrl,
            metricsPort: flags.metricsPort
          },
          { DEAI_HOST: process.env.DEAI_HOST, DEAI_REGISTRY: process.env.DEAI_REGISTRY }
        );
        const { startRunner } = await import('../../runner/start.js');
        const started = await startRunner(config, { log });
        if (!flags.json)
          console.log(
            `Runner ${started.principal} serving for registry ${started.registry}; metrics on ${started.metricsUrl}. Ctrl-C drains and stops.`
          );
        const status = setInterval(() => {
          log('status', { state: started.node.currentState });
        }, 30_000);
        const shutdown = (signal: string): void => {
          clearInterval(status);
          log('signal', { signal });
          started.stop().then(
            () => process.exit(0),
            (error: unknown) => {
              console.error(`Error while draining: ${error instanceof Error ? error.message : String(error)}`);
              process.exit(1);
            }
          );
        };
        process.once('SIGINT', () => shutdown('SIGINT'));
        process.once('SIGTERM', () => shutdown('SIGTERM'));
      })
    );
  runner
    .command('status')
    .description(
      `is this runner registered and live, what does it serve, how is it doing? (exit 0: live, ${NOT_LIVE_EXIT_CODE}: not registered or not live)`
    )
    .option('--config <file>', 'runner configuration (YAML)', 'runner.yaml')
    .option('--host <url>', 'IC network (overrides network.host)')
    .option('--registry <id>', 'registry canister id (overrides network.registry)')
    .option('--identity <pem>', 'runner identity PEM (overrides identity)')
    .option('--metrics-port <port>', 'port of the runner’s /metrics on this machine (overrides metricsPort)', portOption)
    .option('--json', 'print the status as JSON', false)
    .action(async (flags: Omit<RunnerFlags, 'engineUrl'>) =>
      runClient(flags.json, async () => {
        const config = loadRunnerConfig(
          flags.config,
          { host: flags.host, registry: flags.registry, identity: flags.identity, metricsPort: flags.metricsPort },
          { DEAI_HOST: process.env.DEAI_HOST, DEAI_REGISTRY: process.env.DEAI_REGISTRY }
        );
        const { formatRunnerStatus, runnerStatus } = await import('../runner-status.js');
        const status = await runnerStatus(config);
        output(flags.json).result(formatRunnerStatus(status), status);
        if (!status.healthy) process.exitCode = NOT_LIVE_EXIT_CODE;
      })
    );
  clientOptions(
    runner
      .command('bond')
      .description("the registry's runner bond settings and a runner's bond (default: the --identity's own)")
      .option('--runner <principal>', 'whose bond to show')
  ).action(async (flags: ClientFlags & { runner?: string }) =>
    runClient(flags.json, async () => {
      const client = await connectClient(flags);
      const runnerId = flags.runner ?? client.principal.toText();
      const [settings, bond] = await Promise.all([client.bondSettings(), client.getBond(runnerId)]);
      const lines = [
        `Bond required at registration: ${settings.amountE8s} e8s (returned ${settings.cooldownSeconds} s after deregistration; ` +
          `slash ${settings.slashBps / 100}% per lost vote or ${settings.expiredLeaseThreshold} expired leases)`,
        bond === undefined
          ? `Runner ${runnerId}: no bond`
          : `Runner ${runnerId}: ${bond.state}, holds ${bond.amountE8s} of ${bond.lockedE8s} e8s, ${bond.slashes} slash(es)` +
            (bond.releaseAtNs === undefined ? '' : `, returned at ${new Date(Number(bond.releaseAtNs / 1_000_000n)).toISOString()}`)
      ];
      output(flags.json).result(lines.join('\n'), { runner: runnerId, settings, bond: bond ?? null });
    })
  );
  clientOptions(
    runner
      .command('accept-operator')
      .description('as the operator a runner names, accept it: its pay goes to you and it counts in your quota')
      .argument('<runner>', "the runner's principal")
  ).action(async (runnerId: string, flags: ClientFlags) =>
    runClient(flags.json, async () => {
      const client = await connectClient(flags);
      const accepted = await client.acceptOperator(runnerId);
      output(flags.json).result(`Accepted runner ${accepted.id}: its pay now goes to ${accepted.operator}.`, accepted);
    })
  );
}
