/**
 * Builds (once per machine) the cached llama-server and the tiny random test model, then prints their paths.
 * CI runs it as a warm-up step so the first test that needs real inference does not pay the ~5 minute build.
 *
 *   npx tsx scripts/llama-toolchain.ts [--cache-dir DIR] [--json]
 */
import { ensureTinyModel } from '../src/runner/llama/tiny-model.ts';
import { ensureLlamaServer, LlamaToolchainError, resolveLlamaCacheDir } from '../src/runner/llama/toolchain.ts';

const args = process.argv.slice(2);
const cacheDirIndex = args.indexOf('--cache-dir');
const cacheDir = cacheDirIndex === -1 ? undefined : args[cacheDirIndex + 1];
const json = args.includes('--json');
const onProgress = (message: string) => console.error(`  ${message}`);

try {
  const startedMs = Date.now();
  const toolchain = await ensureLlamaServer({ cacheDir, onProgress });
  const modelPath = await ensureTinyModel({ cacheDir, onProgress });
  const result = { cacheDir: resolveLlamaCacheDir({ cacheDir, env: process.env }), ...toolchain, modelPath };
  if (json) {
    console.log(JSON.stringify(result, null, 2));
  } else {
    console.log(`cache dir     ${result.cacheDir}`);
    console.log(`llama-server  ${result.serverPath}`);
    console.log(`llama-quantize ${result.quantizePath}`);
    console.log(`source        ${result.sourceDir} (commit ${result.commit})`);
    console.log(`tiny model    ${result.modelPath}`);
    console.log(`ready in ${((Date.now() - startedMs) / 1000).toFixed(1)} s`);
  }
} catch (error) {
  const code = error instanceof LlamaToolchainError ? ` [${error.code}]` : '';
  console.error(`llama toolchain failed${code}: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
