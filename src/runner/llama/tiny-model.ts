/**
 * The test model: a 4.2 M-parameter random-weight llama with the real Llama-2 tokenizer, quantized to Q8_0
 * (5 MB). No trained GGUF is obtainable from a package registry, so make_tiny_gguf.py generates one from the
 * vocab-only GGUF inside the llama.cpp checkout. Generated once into the cache, under a directory named after
 * the generator's hash, so a changed generator yields a new model instead of a stale one.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

import { ensureLlamaServer, execTool, exists, resolveLlamaCacheDir, withCacheLock, type LlamaCacheOptions } from './toolchain.ts';

export const TINY_MODEL_FILE = 'tiny-random-llama-q8_0.gguf';
/** What llama-server reports as `meta.n_params` for the tiny model. */
export const TINY_MODEL_PARAMS = 4_202_816;

const generatorPath = join(import.meta.dirname, 'make_tiny_gguf.py');

/** Returns the path of the cached tiny Q8_0 model, building the toolchain and generating the model if needed. */
export async function ensureTinyModel(options: LlamaCacheOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  const progress = options.onProgress ?? (() => undefined);
  const dir = resolveLlamaCacheDir({ cacheDir: options.cacheDir, env });
  const generatorHash = createHash('sha256')
    .update(await readFile(generatorPath))
    .digest('hex')
    .slice(0, 12);
  const modelDir = join(dir, 'models', generatorHash);
  const modelPath = join(modelDir, TINY_MODEL_FILE);
  if (await exists(modelPath)) return modelPath;

  const toolchain = await ensureLlamaServer({ ...options, cacheDir: dir, env });
  await mkdir(modelDir, { recursive: true });
  return withCacheLock(dir, progress, async () => {
    if (await exists(modelPath)) return modelPath;
    // Unique temporary names, renamed into place last: a reader never sees a half-written model.
    const suffix = randomBytes(4).toString('hex');
    const f32Path = join(modelDir, `tiny-random-llama-f32.${suffix}.tmp`);
    const q8Path = join(modelDir, `tiny-random-llama-q8_0.${suffix}.tmp`);
    try {
      progress(`generating ${TINY_MODEL_FILE} (random weights, seed 42, Llama-2 SPM vocabulary)`);
      const vocabPath = join(toolchain.sourceDir, 'models', 'ggml-vocab-llama-spm.gguf');
      const pythonEnv = { ...env, PYTHONPATH: join(toolchain.sourceDir, 'gguf-py') };
      await execTool('generate-model', 'python3', [generatorPath, vocabPath, f32Path], { env: pythonEnv });
      await execTool('quantize', toolchain.quantizePath, [f32Path, q8Path, 'Q8_0'], { env });
      await rename(q8Path, modelPath);
      progress(`tiny model ready: ${modelPath}`);
      return modelPath;
    } finally {
      await rm(f32Path, { force: true });
      await rm(q8Path, { force: true });
    }
  });
}
