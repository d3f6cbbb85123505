/**
 * Facts read from a GGUF weights file: its header (via @huggingface/gguf, ~50–90 ms whatever the
 * size) and the sha256 of its bytes (streamed, cached per path + size + mtime, since hashing a
 * multi-GiB file takes minutes and the file rarely changes between runner starts).
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { gguf, GGMLFileQuantizationType } from '@huggingface/gguf';
import { z } from 'zod';
import { isGgufFileType, type GgufFileType } from '../../core/manifest/index.js';
import { describeError, RunnerError } from '../errors.js';
import { decodeValue } from './http.js';

export interface GgufFacts {
  /** Absolute path of the file read. */
  path: string;
  sizeBytes: number;
  /** `general.architecture`, e.g. `llama`, `qwen2`. */
  architecture: string;
  /** `<architecture>.context_length`: the context the weights were trained for. */
  contextLength: number;
  /** `general.file_type` by name, e.g. `Q8_0`. */
  quantization: GgufFileType;
  /** Average bits per weight over all tensors; absent when a tensor type is unknown to this table. */
  bitsPerWeight?: number;
  /** Sum of the tensors' element counts. */
  parameters: number;
  name?: string;
  license?: string;
  version?: string;
  chatTemplate?: string;
}

/** A GGUF integer is a number (u32 and smaller) or a bigint (u64); both must fit a safe integer. */
const GgufInt = z.union([z.int(), z.bigint()]).transform((value, ctx): number => {
  const number = Number(value);
  if (!Number.isSafeInteger(number)) {
    ctx.addIssue({ code: 'custom', input: value, message: `expected a safe integer, got ${String(value)}` });
    return z.NEVER;
  }
  return number;
});

const GeneralSchema = z.object({
  'general.architecture': z.string().regex(/^[a-z0-9][a-z0-9._-]*$/),
  'general.file_type': GgufInt.optional(),
  'general.name': z.string().min(1).optional(),
  'general.license': z.string().min(1).optional(),
  'general.version': z.string().min(1).optional(),
  'tokenizer.chat_template': z.string().min(1).optional()
});

/** Reads the header of a local GGUF file; throws `RunnerError` (GgufUnreadable | GgufIncomplete). */
export async function readGgufFacts(path: string): Promise<GgufFacts> {
  const absolute = resolve(path);
  let parsed: Awaited<ReturnType<typeof readHeader>>;
  let sizeBytes: number;
  try {
    sizeBytes = (await stat(absolute)).size;
    parsed = await readHeader(absolute);
  } catch (error) {
    throw new RunnerError('GgufUnreadable', `${absolute}: cannot read a GGUF header (${describeError(error)})`, {
      cause: error
    });
  }
  const metadata: Record<string, unknown> = { ...parsed.metadata };
  const general = decodeValue(metadata, GeneralSchema);
  if (!general.ok) throw incomplete(absolute, general.issues.map((issue) => `${issue.path}: ${issue.message}`).join('; '));
  const architecture = general.value['general.architecture'];
  const contextKey = `${architecture}.context_length`;
  const context = decodeValue(metadata[contextKey], GgufInt.pipe(z.int().min(1)));
  if (!context.ok) throw incomplete(absolute, `${contextKey}: ${context.issues[0]?.message ?? 'invalid'}`);
  const quantization = fileTypeName(general.value['general.file_type']);
  if (quantization === undefined) {
    throw incomplete(
      absolute,
      `general.file_type ${String(general.value['general.file_type'])} is not a GGUF file type of the manifest standard`
    );
  }
  return {
    path: absolute,
    sizeBytes,
    architecture,
    contextLength: context.value,
    quantization,
    bitsPerWeight: bitsPerWeight(parsed.tensorInfos),
    parameters: parsed.parameterCount,
    name: general.value['general.name'],
    license: general.value['general.license'],
    version: general.value['general.version'],
    chatTemplate: general.value['tokenizer.chat_template']
  };
}

function readHeader(absolute: string) {
  return gguf(absolute, { allowLocalFile: true, computeParametersCount: true });
}

function incomplete(path: string, detail: string): RunnerError {
  return new RunnerError('GgufIncomplete', `${path}: ${detail}`);
}

function fileTypeName(fileType: number | undefined): GgufFileType | undefined {
  if (fileType === undefined) return undefined;
  const name: unknown = GGMLFileQuantizationType[fileType];
  return typeof name === 'string' && isGgufFileType(name) ? name : undefined;
}

/** ggml tensor types (GGMLQuantizationType ids) → [elements per block, bytes per block]. */
const BLOCK_LAYOUT: Readonly<Record<number, readonly [number, number]>> = {
  0: [1, 4],
  1: [1, 2],
  2: [32, 18],
  3: [32, 20],
  6: [32, 22],
  7: [32, 24],
  8: [32, 34],
  9: [32, 36],
  10: [256, 84],
  11: [256, 110],
  12: [256, 144],
  13: [256, 176],
  14: [256, 210],
  15: [256, 292],
  16: [256, 66],
  17: [256, 74],
  18: [256, 98],
  19: [256, 50],
  20: [32, 18],
  21: [256, 110],
  22: [256, 82],
  23: [256, 136],
  24: [1, 1],
  25: [1, 2],
  26: [1, 4],
  27: [1, 8],
  28: [1, 8],
  29: [256, 56],
  30: [1, 2],
  34: [256, 54],
  35: [256, 66],
  39: [32, 17],
  40: [64, 36],
  41: [128, 18],
  42: [64, 18]
};

function bitsPerWeight(tensors: ReadonlyArray<{ shape: bigint[]; dtype: number }>): number | undefined {
  let elements = 0;
  let bits = 0;
  for (const tensor of tensors) {
    const layout = BLOCK_LAYOUT[tensor.dtype];
    if (layout === undefined) return undefined;
    const count = tensor.shape.reduce((product, dim) => product * Number(dim), 1);
    elements += count;
    bits += (count * layout[1] * 8) / layout[0];
  }
  return elements === 0 ? undefined : Math.round((bits / elements) * 1e4) / 1e4;
}

// ── digest ─────────────────────────────────────────────────────────────────────────────────────

const DigestCacheSchema = z.object({
  version: z.literal(1),
  entries: z.record(z.string(), z.object({ size: z.number(), mtimeMs: z.number(), sha256: z.string().regex(/^[0-9a-f]{64}$/) }))
});

type DigestCache = z.infer<typeof DigestCacheSchema>;

/**
 * The sha256 (64 lowercase hex digits) of the file's bytes. With `cacheFile`, a file whose absolute
 * path, size and mtime match the cached entry is not read again. Throws `RunnerError` (DigestFailed).
 */
export async function fileDigest(path: string, cacheFile?: string): Promise<string> {
  const absolute = resolve(path);
  let size: number;
  let mtimeMs: number;
  try {
    ({ size, mtimeMs } = await stat(absolute));
  } catch (error) {
    throw new RunnerError('DigestFailed', `${absolute}: cannot stat (${describeError(error)})`, { cause: error });
  }
  const cache = cacheFile === undefined ? undefined : await readCache(cacheFile);
  const cached = cache?.entries[absolute];
  if (cached !== undefined && cached.size === size && cached.mtimeMs === mtimeMs) return cached.sha256;

  const sha256 = await hashFile(absolute);
  if (cacheFile !== undefined && cache !== undefined) {
    cache.entries[absolute] = { size, mtimeMs, sha256 };
    await writeCache(cacheFile, cache);
  }
  return sha256;
}

async function hashFile(absolute: string): Promise<string> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(absolute)) hash.update(chunk as Buffer);
  } catch (error) {
    throw new RunnerError('DigestFailed', `${absolute}: cannot read (${describeError(error)})`, { cause: error });
  }
  return hash.digest('hex');
}

/**
 * A missing, unreadable or foreign cache file is an empty cache: the cost is one rehash, and the
 * cache is rewritten whole afterwards.
 */
async function readCache(cacheFile: string): Promise<DigestCache> {
  let text: string;
  try {
    text = await readFile(cacheFile, 'utf8');
  } catch {
    return { version: 1, entries: {} };
  }
  try {
    const parsed = DigestCacheSchema.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data;
  } catch {
    // not JSON: fall through to an empty cache
  }
  return { version: 1, entries: {} };
}

async function writeCache(cacheFile: string, cache: DigestCache): Promise<void> {
  const temporary = `${cacheFile}.${randomUUID()}.tmp`;
  try {
    await mkdir(dirname(cacheFile), { recursive: true });
    await writeFile(temporary, `${JSON.stringify(cache, null, 2)}\n`);
    // rename is atomic: a crash never leaves a half-written cache behind.
    await rename(temporary, cacheFile);
  } catch (error) {
    throw new RunnerError('DigestFailed', `${cacheFile}: cannot write the digest cache (${describeError(error)})`, {
      cause: error
    });
  }
}
