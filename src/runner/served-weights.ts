import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

import { RunnerError } from './errors.js';
import type { ReadyProbe } from './probes/types.js';

/** The weights file the runner hashes, and where its path came from. */
export interface WeightsFile {
  path: string;
  /** `engine`: the file llama-server reports loading (`/props` `model_path`); `config`: `engine.modelPath`. */
  source: 'engine' | 'config';
}

/**
 * The file whose digest the runner registers: the one the engine serves, not the one configured. llama-server reports
 * its `model_path` (relative paths are taken from the project directory, where `deai runner start` starts it); a path
 * it reports that this machine cannot read is refused (the runner would otherwise vouch for a file it did not hash).
 * vLLM reports no file, so the configured `modelPath` stays (and its weights are the operator's claim).
 */
export function servedWeightsFile(
  ready: ReadyProbe,
  configuredPath: string | undefined,
  projectDir: string,
  exists: (path: string) => boolean = existsSync
): WeightsFile | undefined {
  const served = ready.engine === 'llama.cpp' ? ready.models[0]?.path : undefined;
  if (served !== undefined) {
    const path = resolve(projectDir, served);
    if (!exists(path)) {
      throw new RunnerError(
        'ServedModelUnreadable',
        `llama-server reports serving ${served}, which this machine cannot read: run the runner where the engine's weights are, so it can hash them`
      );
    }
    return { path, source: 'engine' };
  }
  return configuredPath === undefined ? undefined : { path: resolve(projectDir, configuredPath), source: 'config' };
}
