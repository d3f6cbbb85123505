import { resolve } from 'node:path';

import type { Command } from 'commander';

import { DEFAULT_PORT, DEFAULT_STATE_DIR } from '../../localnet/defaults.js';
import type { RunningDemo } from '../demo.js';
import type { DemoGateway } from '../gateway-demo.js';
import { output, run } from '../output.js';
import { DEFAULT_EXPLORER_PORT } from './explorer.js';
import { DEFAULT_GATEWAY_PORT } from './gateway.js';
import { portOption } from './localnet.js';

interface StartFlags {
  port: number;
  stateDir: string;
  clean: boolean;
  json: boolean;
  demo: boolean;
  exitAfterDemo: boolean;
  gateway: boolean;
  gatewayPort: number;
}

const jsonSafe = (value: unknown): unknown =>
  JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));

/**
 * `npm start`: the local network, every canister of dfx.json deployed, and (unless --no-demo) the whole system at
 * work: a runner on a real llama-server executes a dApp task that is accepted and paid.
 */
export function registerStart(program: Command): void {
  program
    .command('start')
    .description(
      'start the local network, deploy every canister, run the demo (runner + task), the OpenAI-compatible gateway, and keep serving'
    )
    .option('--port <port>', 'TCP port on 127.0.0.1, 0 for a free one', portOption, DEFAULT_PORT)
    .option('--state-dir <dir>', 'where canisters and keys are kept', DEFAULT_STATE_DIR)
    .option('--clean', 'discard the saved state first', false)
    .option('--no-demo', 'only the network and the canisters: no llama-server, runner or demo task')
    .option('--exit-after-demo', 'stop everything and exit once the demo task is paid', false)
    .option('--gateway-port <port>', 'port of the OpenAI-compatible gateway, 0 for a free one', portOption, DEFAULT_GATEWAY_PORT)
    .option('--no-gateway', 'do not start the OpenAI-compatible gateway')
    .option('--json', 'print the result as JSON', false)
    .action(async (flags: StartFlags) =>
      run(flags.json, async () => {
        const out = output(flags.json);
        out.info(`Starting the local ICP network (state in ${flags.stateDir}${flags.clean ? ', starting clean' : ''}) …`);
        // Loaded on use, so that other commands start fast.
        const [{ Localnet }, { deployProject }, { runDemo, DEMO_MODEL_ID }, { startExplorer }, { startDemoGateway }] = await Promise.all([
          import('../../localnet/localnet.js'),
          import('../deploy-project.js'),
          import('../demo.js'),
          import('../explorer-server.js'),
          import('../gateway-demo.js')
        ]);
        const net = await Localnet.start({ port: flags.port, stateDir: flags.stateDir, clean: flags.clean });
        let demo: RunningDemo | undefined;
        let explorer: { url: string; close(): Promise<void> } | undefined;
        let gateway: DemoGateway | undefined;
        const shutdown = async (code: number): Promise<never> => {
          out.info('Stopping: draining the runner, then llama-server and the local network …');
          await explorer?.close();
          await gateway?.close();
          await demo?.stop().catch((error: unknown) => console.error(`while stopping the demo: ${String(error)}`));
          await net.stop();
          process.exit(code);
        };
        process.once('SIGINT', () => void shutdown(0));
        process.once('SIGTERM', () => void shutdown(0));
        try {
          out.info('Building (if needed) and deploying the canisters …');
          const deployed = await deployProject({ host: net.url, build: true, json: flags.json }, out);
          const ids = Object.fromEntries(deployed.map((c) => [c.name, c.id]));
          const registry = ids.registry;
          if (flags.demo && registry !== undefined)
            demo = await runDemo({ host: net.url, registryId: registry, projectDir: process.cwd(), out });
          if (flags.gateway && registry !== undefined)
            gateway = await startDemoGateway({
              host: net.url,
              registryId: registry,
              port: flags.gatewayPort,
              projectDir: process.cwd(),
              payerBooksFile: resolve(flags.stateDir, 'gateway-payer.json'),
              ...(demo === undefined ? {} : { model: DEMO_MODEL_ID }),
              out
            });
          // The explorer is a convenience: a page that cannot be built must not stop the network.
          if (registry !== undefined && !flags.exitAfterDemo) {
            explorer = await startExplorer(
              { host: net.url, registry, ...(ids.ledger === undefined ? {} : { ledger: ids.ledger }) },
              DEFAULT_EXPLORER_PORT,
              true
            ).catch((error: unknown) => {
              out.info(`Explorer unavailable: ${error instanceof Error ? error.message : String(error)}`);
              return undefined;
            });
          }
          const lines = [
            `Local ICP network: ${net.url}`,
            `Root key: ${net.rootKeyHex}`,
            ...(deployed.length === 0
              ? ['No canisters in dfx.json yet.']
              : deployed.map((c) => `  ${c.name.padEnd(12)} ${c.id}  (${c.action})`)),
            ...(demo === undefined
              ? []
              : [
                  `Demo task ${demo.result.taskId}: "${demo.result.output}"`,
                  `llama-server: ${demo.result.urls.llamaServer}`,
                  `runner metrics: ${demo.result.urls.runnerMetrics}`
                ]),
            ...(explorer === undefined ? [] : [`Explorer: ${explorer.url}`]),
            ...(gateway === undefined
              ? []
              : [
                  `Gateway (OpenAI-compatible): ${gateway.baseURL}`,
                  `  demo API key: ${gateway.apiKey} (also in .deai/gateway.json)`,
                  `  pays runners as ${gateway.payer}${gateway.settlement === undefined ? '' : `; the demo request settled on-chain: ${gateway.settlement.settledE8s} e8s to the runner (accrued ${gateway.settlement.runnerAccruedE8s} e8s)`}`,
                  `  curl ${gateway.baseURL}/models`
                ]),
            flags.exitAfterDemo ? 'Demo done; exiting.' : 'Serving. Press Ctrl-C to stop (state is kept).'
          ];
          out.result(lines.join('\n'), {
            url: net.url,
            rootKey: net.rootKeyHex,
            canisters: ids,
            demo: demo === undefined ? null : jsonSafe(demo.result),
            explorer: explorer?.url ?? null,
            gateway:
              gateway === undefined
                ? null
                : {
                    baseURL: gateway.baseURL,
                    apiKey: gateway.apiKey,
                    configFile: gateway.configFile,
                    check: gateway.check ?? null,
                    payer: gateway.payer,
                    settlement: gateway.settlement ?? null
                  }
          });
        } catch (error) {
          await explorer?.close();
          await gateway?.close();
          await demo?.stop().catch(() => undefined);
          await net.stop();
          throw error;
        }
        if (flags.exitAfterDemo) await shutdown(0);
      })
    );
}
