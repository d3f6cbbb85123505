import type { Command } from 'commander';

import { DEFAULT_IDENTITY_PATH, LOCAL_HOST } from '../defaults.js';
import type { DeployFlags } from '../deploy-project.js';
import { output, run } from '../output.js';

export { DEFAULT_IDENTITY_PATH };

export function registerDeploy(program: Command): void {
  program
    .command('deploy')
    .description('build if needed, then install or upgrade every canister in dfx.json and record their ids')
    .option('--host <url>', 'IC network to deploy to', LOCAL_HOST)
    .option('--identity <pem>', `PEM identity (Ed25519 or secp256k1, as dfx writes them); default ${DEFAULT_IDENTITY_PATH}`)
    .option('--no-build', 'do not build; deploy the Wasm already in .azle/')
    .option('--json', 'print {"<name>": "<id>", …}', false)
    .action(async (flags: DeployFlags) =>
      run(flags.json, async () => {
        const out = output(flags.json);
        out.info(`Deploying to ${flags.host} …`);
        const { deployProject } = await import('../deploy-project.js');
        const deployed = await deployProject(flags, out);
        const ids = Object.fromEntries(deployed.map((c) => [c.name, c.id]));
        const human =
          deployed.length === 0
            ? 'dfx.json lists no canisters yet: nothing to deploy.'
            : deployed.map((c) => `${c.name.padEnd(12)} ${c.id}  (${c.action})`).join('\n');
        out.result(human, ids);
      })
    );
}
