import type { Command } from 'commander';

import { DEFAULT_PORT, DEFAULT_STATE_DIR } from '../../localnet/localnet.js';
import { output, run } from '../output.js';
import { deployProject } from './deploy.js';
import { portOption, startLocalnet, type LocalnetFlags } from './localnet.js';

/** `npm start`: the local network plus every canister of dfx.json, deployed and ready. */
export function registerStart(program: Command): void {
  program
    .command('start')
    .description('start the local network, deploy every canister of dfx.json, and keep serving')
    .option('--port <port>', 'TCP port on 127.0.0.1, 0 for a free one', portOption, DEFAULT_PORT)
    .option('--state-dir <dir>', 'where canisters and keys are kept', DEFAULT_STATE_DIR)
    .option('--clean', 'discard the saved state first', false)
    .option('--json', 'print the result as JSON', false)
    .action(async (flags: LocalnetFlags) =>
      run(flags.json, async () => {
        const out = output(flags.json);
        const net = await startLocalnet(flags, out);
        const deployed = await deployProject({ host: net.url, build: true, json: flags.json }, out);
        const lines = [
          `Local ICP network: ${net.url}`,
          `Root key: ${net.rootKeyHex}`,
          ...(deployed.length === 0 ? ['No canisters in dfx.json yet.'] : deployed.map((c) => `  ${c.name.padEnd(12)} ${c.id}  (${c.action})`)),
          'Serving. Press Ctrl-C to stop (state is kept).'
        ];
        out.result(lines.join('\n'), { url: net.url, rootKey: net.rootKeyHex, canisters: Object.fromEntries(deployed.map((c) => [c.name, c.id])) });
      })
    );
}
