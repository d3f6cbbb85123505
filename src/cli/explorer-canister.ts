import { resolve } from 'node:path';

import { Principal } from '@dfinity/principal';

import { bundleFiles, ensureExplorerBuilt, EXPLORER_DIST_DIR } from '../explorer/build.js';
import type { ExplorerPageConfig } from '../explorer/serve.js';
import { createAgent, isLocalHost } from '../ic/agent.js';
import { deployCanisters } from '../ic/deploy.js';
import { IcError } from '../ic/errors.js';
import { uploadExplorer } from '../ic/explorer-assets.js';
import { loadIdentity, loadOrCreateIdentity } from '../ic/identity.js';
import { buildCanisters } from '../project/build.js';
import { readDfxCanisters } from '../project/dfx-config.js';
import { DEFAULT_IDENTITY_PATH } from './defaults.js';

const PACKAGE_ROOT = resolve(import.meta.dirname, '..', '..');
/** The asset canister's own project (not in dfx.json: `deai deploy` deploys the registry and the ledger). */
export const EXPLORER_CANISTER_DIR = resolve(PACKAGE_ROOT, 'canisters', 'explorer');

export interface ExplorerCanister {
  canisterId: string;
  url: string;
  assets: string[];
}

/** Where browsers open a canister's pages: the local gateway's `<id>.localhost`, or the boundary nodes'. */
export function canisterPageUrl(host: string, canisterId: string): string {
  if (!isLocalHost(host)) return `https://${canisterId}.icp0.io/`;
  const url = new URL(host);
  return `${url.protocol}//${canisterId}.localhost${url.port === '' ? '' : `:${url.port}`}/`;
}

/**
 * `deai explorer --from-canister`: builds the page and the asset canister if needed, creates or upgrades the
 * canister (its id recorded as `explorer` like `deai deploy` records ids), uploads the page and its config.json.
 */
export async function deployExplorerCanister(options: {
  host: string;
  identity?: string;
  config: ExplorerPageConfig;
  projectDir?: string;
  onProgress?: (message: string) => void;
}): Promise<ExplorerCanister> {
  const projectDir = options.projectDir ?? process.cwd();
  const progress = options.onProgress ?? (() => undefined);
  await ensureExplorerBuilt(EXPLORER_DIST_DIR);
  buildCanisters({ projectDir: EXPLORER_CANISTER_DIR, repoRoot: PACKAGE_ROOT, ifNeeded: true, onProgress: (m) => progress(`build ${m}`) });
  const identity =
    options.identity === undefined
      ? loadOrCreateIdentity(resolve(projectDir, DEFAULT_IDENTITY_PATH)).identity
      : loadIdentity(resolve(options.identity));
  const agent = await createAgent(options.host, identity);
  const [deployed] = await deployCanisters({ agent, projectDir, canisters: readDfxCanisters(EXPLORER_CANISTER_DIR), onProgress: progress });
  if (deployed === undefined) throw new IcError('DeployFailed', 'canisters/explorer/dfx.json names no canister');
  const files = bundleFiles(EXPLORER_DIST_DIR).map((f) => f.path);
  progress(`uploading ${files.length} files and config.json to ${deployed.id}`);
  const assets = await uploadExplorer(agent, Principal.fromText(deployed.id), EXPLORER_DIST_DIR, files, options.config);
  return { canisterId: deployed.id, url: canisterPageUrl(options.host, deployed.id), assets };
}
