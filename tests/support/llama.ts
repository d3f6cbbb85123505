import { startLlamaServer, type LlamaServer } from '../../src/runner/llama/server.ts';
import { ensureRandomModel, type RandomModelSize } from '../../src/runner/llama/tiny-model.ts';
import { ensureLlamaServer } from '../../src/runner/llama/toolchain.ts';

export const TINY_ALIAS = 'tiny-random-llama';

export interface LlamaFixture {
  url: string;
  modelPath: string;
  serverPath: string;
  alias: string;
  /** llama.cpp commit the server was built from. */
  commit: string;
  server: LlamaServer;
  stop(): Promise<void>;
}

/**
 * A real llama-server on a random model (`size`: the tiny one unless asked). The first call on a machine builds llama.cpp (~5-6 min on
 * 2 cores) into the shared cache; later calls start in well under a second. Give the beforeAll a long timeout.
 */
export async function llamaFixture(
  options: { slots?: number; ctx?: number; threads?: number; size?: RandomModelSize } = {}
): Promise<LlamaFixture> {
  const onProgress = (message: string) => console.log(`[llama] ${message}`);
  const { size = 'tiny', ...serverOptions } = options;
  const toolchain = await ensureLlamaServer({ onProgress });
  const modelPath = await ensureRandomModel(size, { onProgress });
  const alias = size === 'tiny' ? TINY_ALIAS : `${size}-random-llama`;
  const server = await startLlamaServer({ modelPath, serverPath: toolchain.serverPath, alias, ...serverOptions });
  return {
    url: server.url,
    modelPath,
    serverPath: toolchain.serverPath,
    alias,
    commit: toolchain.commit,
    server,
    stop: server.stop
  };
}
