import { resolve } from 'node:path';

import { createAgent } from '../ic/agent.js';
import { defaultCanisterArgs } from '../ic/canister-args.js';
import { deployCanisters, type DeployedCanister } from '../ic/deploy.js';
import { loadIdentity, loadOrCreateIdentity } from '../ic/identity.js';
import { wireRegistryToLedger } from '../ic/wire.js';
import { buildCanisters } from '../project/build.js';
import { readDfxCanisters } from '../project/dfx-config.js';
import { DEFAULT_IDENTITY_PATH } from './defaults.js';
import type { Output } from './output.js';

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
    if ((await wireRegistryToLedger(agent, registry.id, ledger.id, identity.getPrincipal())) === 'configured')
      out.info('  registry: tasks now escrow and pay through the ledger');
  }
  return deployed;
}
