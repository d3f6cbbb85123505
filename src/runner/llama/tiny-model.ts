/**
 * The test models: random-weight llamas with the real Llama-2 tokenizer, quantized to Q8_0. No trained GGUF is
 * obtainable from a package registry, so make_tiny_gguf.py generates them from the vocab-only GGUF inside the llama.cpp
 * checkout. Generated once into the cache, under a directory named after the generator's hash, so a changed generator
 * yields a new model instead of a stale one.
 *
 * - `tiny` (the tests' model): 4.2 M parameters, 5 MB, ~2,500 tokens/s on 2 cores: inference far cheaper than any real
 *   model's, so whatever sits in front of the engine shows at its largest.
 * - `small` (`bench:gateway --model small`): 60 M parameters, 65 MB, ~200 tokens/s on 2 cores (5 ms a token), still
 *   several times cheaper per token than the smallest real chat models on a CPU.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

import { ensureLlamaServer, execTool, exists, resolveLlamaCacheDir, withCacheLock, type LlamaCacheOptions } from './toolchain.ts';

export const TINY_MODEL_FILE = 'tiny-random-llama-q8_0.gguf';
/** What llama-server reports as `meta.n_params` for the tiny model. */
export const TINY_MODEL_PARAMS = 4_202_816;

export type RandomModelSize = 'tiny' | 'small';

/** make_tiny_gguf.py's shape flags per size (`tiny`: its defaults). */
const SHAPES: Record<RandomModelSize, string[]> = {
  tiny: [],
  small: ['--embd', '512', '--layers', '8', '--heads', '8', '--ff', '1536']
};

const generatorPath = join(import.meta.dirname, 'make_tiny_gguf.py');

/** Returns the path of the cached tiny Q8_0 model, building the toolchain and generating the model if needed. */
export const ensureTinyModel = (options: LlamaCacheOptions = {}): Promise<string> => ensureRandomModel('tiny', options);

/** Returns the path of the cached Q8_0 random model of `size`, building the toolchain and generating it if needed. */
export async function ensureRandomModel(size: RandomModelSize, options: LlamaCacheOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  const progress = options.onProgress ?? (() => undefined);
  const dir = resolveLlamaCacheDir({ cacheDir: options.cacheDir, env });
  const generatorHash = createHash('sha256')
    .update(await readFile(generatorPath))
    .digest('hex')
    .slice(0, 12);
  const modelDir = join(dir, 'models', generatorHash);
  const file = size === 'tiny' ? TINY_MODEL_FILE : `${size}-random-llama-q8_0.gguf`;
  const modelPath = join(modelDir, file);
  if (await exists(modelPath)) return modelPath;

  const toolchain = await ensureLlamaServer({ ...options, cacheDir: dir, env });
  await mkdir(modelDir, { recursive: true });
  return withCacheLock(dir, progress, async () => {
    if (await exists(modelPath)) return modelPath;
    // Unique temporary names, renamed into place last: a reader never sees a half-written model.
    const suffix = randomBytes(4).toString('hex');
    const f32Path = join(modelDir, `${size}-random-llama-f32.${suffix}.tmp`);
    const q8Path = join(modelDir, `${size}-random-llama-q8_0.${suffix}.tmp`);
    try {
      progress(`generating ${file} (random weights, seed 42, Llama-2 SPM vocabulary)`);
      const vocabPath = join(toolchain.sourceDir, 'models', 'ggml-vocab-llama-spm.gguf');
      const pythonEnv = { ...env, PYTHONPATH: join(toolchain.sourceDir, 'gguf-py') };
      await execTool('generate-model', 'python3', [generatorPath, vocabPath, f32Path, ...SHAPES[size], '--name', `${size}-random-llama`], {
        env: pythonEnv
      });
      await execTool('quantize', toolchain.quantizePath, [f32Path, q8Path, 'Q8_0'], { env });
      await rename(q8Path, modelPath);
      progress(`${size} model ready: ${modelPath}`);
      return modelPath;
    } finally {
      await rm(f32Path, { force: true });
      await rm(q8Path, { force: true });
    }
  });
}
