import type { Command } from 'commander';

import type { ExplorerPageConfig } from '../../explorer/serve.js';
import { LOCAL_HOST } from '../defaults.js';
import { output, run } from '../output.js';
import { portOption } from './localnet.js';

export const DEFAULT_EXPLORER_PORT = 4950;

interface ExplorerFlags {
  port: number;
  host: string;
  registry?: string;
  ledger?: string;
  fromCanister: boolean;
  identity?: string;
  json: boolean;
}

/** `deai explorer`: the registry explorer page (static files + config.json) on 127.0.0.1, until Ctrl-C. */
export function registerExplorer(program: Command): void {
  program
    .command('explorer')
    .description('serve the registry explorer (models, runners, tasks, ledger) for the local network')
    .option('--port <port>', 'TCP port on 127.0.0.1, 0 for a free one', portOption, DEFAULT_EXPLORER_PORT)
    .option('--host <url>', 'IC network the page talks to', LOCAL_HOST)
    .option('--registry <id>', 'registry canister id (default: the id `deai deploy` recorded in .dfx/local/canister_ids.json)')
    .option('--ledger <id>', 'ledger canister id (default: the recorded one, else the registry task config)')
    .option('--from-canister', 'upload the page to an asset canister on the network and print its gateway URL', false)
    .option('--identity <pem>', 'with --from-canister: the controller identity (default .deai/identity.pem)')
    .option('--json', 'print the URL and configuration as JSON', false)
    .action(async (flags: ExplorerFlags) =>
      run(flags.json, async () => {
        const out = output(flags.json);
        const [{ resolveRegistryId }, { readRecordedIds }, { startExplorer }] = await Promise.all([
          import('../client.js'),
          import('../../ic/recorded-ids.js'),
          import('../explorer-server.js')
        ]);
        const registry = resolveRegistryId(flags.registry);
        const ledger = flags.ledger ?? readRecordedIds(process.cwd()).ledger;
        const config: ExplorerPageConfig = { host: flags.host, registry, ...(ledger === undefined ? {} : { ledger }) };
        out.info('Building the explorer page if needed …');
        if (flags.fromCanister) {
          const { deployExplorerCanister } = await import('../explorer-canister.js');
          const deployed = await deployExplorerCanister({
            host: flags.host,
            identity: flags.identity,
            config,
            onProgress: (m) => out.info(`  ${m}`)
          });
          out.result(`Explorer canister ${deployed.canisterId}: ${deployed.url}\n  ${deployed.assets.length} certified files`, {
            ...deployed,
            config
          });
          return;
        }
        const explorer = await startExplorer(config, flags.port);
        const stop = (): void => void explorer.close().then(() => process.exit(0));
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        out.result(
          `Explorer: ${explorer.url}\n  network ${config.host} · registry ${registry}${ledger === undefined ? '' : ` · ledger ${ledger}`}\nServing. Press Ctrl-C to stop.`,
          { url: explorer.url, config }
        );
      })
    );
}
