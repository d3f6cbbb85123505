import { resolve } from 'node:path';

import type { Command } from 'commander';

import { createAgent, LOCAL_HOST } from '../../ic/agent.js';
import { defaultCanisterArgs } from '../../ic/canister-args.js';
import { deployCanisters, type DeployedCanister } from '../../ic/deploy.js';
import { loadIdentity, loadOrCreateIdentity } from '../../ic/identity.js';
import { wireRegistryToLedger } from '../../ic/wire.js';
import { buildCanisters } from '../../project/build.js';
import { readDfxCanisters } from '../../project/dfx-config.js';
import { output, run, type Output } from '../output.js';

export const DEFAULT_IDENTITY_PATH = '.deai/identity.pem';

export interface DeployFlags {
  host: string;
  identity?: string;
  build: boolean;
  json: boolean;
}

/** Builds what changed, then installs or upgrades every canister of dfx.json on `host`. */
export async function deployProject(flags: DeployFlags, out: Output, projectDir = process.cwd()): Promise<DeployedCanister[]> {
  const canisters = readDfxCanisters(projectDir);
  if (flags.build && canisters.length > 0) {
    buildCanisters({ projectDir, repoRoot: projectDir, ifNeeded: true, onProgress: (m) => out.info(`  build ${m}`) });
  }
  let identity;
  if (flags.identity !== undefined) {
    identity = loadIdentity(resolve(flags.identity));
  } else {
    const loaded = loadOrCreateIdentity(resolve(projectDir, DEFAULT_IDENTITY_PATH));
    if (loaded.created) out.info(`  created the deploy identity ${DEFAULT_IDENTITY_PATH} (${loaded.identity.getPrincipal().toText()})`);
    identity = loaded.identity;
  }
  const agent = await createAgent(flags.host, identity);
  const args = defaultCanisterArgs(identity.getPrincipal());
  const deployed = await deployCanisters({ agent, projectDir, canisters, args, onProgress: (m) => out.info(`  ${m}`) });
  const registry = deployed.find((c) => c.name === 'registry');
  const ledger = deployed.find((c) => c.name === 'ledger');
  if (registry !== undefined && ledger !== undefined) {
    if ((await wireRegistryToLedger(agent, registry.id, ledger.id, identity.getPrincipal())) === 'configured') out.info('  registry: tasks now escrow and pay through the ledger');
  }
  return deployed;
}

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
        const deployed = await deployProject(flags, out);
        const ids = Object.fromEntries(deployed.map((c) => [c.name, c.id]));
        const human = deployed.length === 0 ? 'dfx.json lists no canisters yet: nothing to deploy.' : deployed.map((c) => `${c.name.padEnd(12)} ${c.id}  (${c.action})`).join('\n');
        out.result(human, ids);
      })
    );
}
