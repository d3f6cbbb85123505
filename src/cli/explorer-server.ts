import { ensureExplorerBuilt, EXPLORER_DIST_DIR } from '../explorer/build.js';
import { serveExplorer, type ExplorerPageConfig, type RunningExplorer } from '../explorer/serve.js';

/** Builds the page if needed and serves it with a config.json pointing at `config`'s network and canisters. */
export async function startExplorer(config: ExplorerPageConfig, port: number, fallbackToFreePort = false): Promise<RunningExplorer> {
  await ensureExplorerBuilt(EXPLORER_DIST_DIR);
  return serveExplorer({ dir: EXPLORER_DIST_DIR, config, port, fallbackToFreePort });
}
