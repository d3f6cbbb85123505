import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RunnerError } from '../../../src/runner/errors.ts';
import { fileDigest, readGgufFacts } from '../../../src/runner/probes/gguf.ts';
import { GGMLQuantizationType, GGUFValueType, llamaKv, writeGguf, type TensorSpec } from '../../support/gguf-file.ts';

const TENSORS: TensorSpec[] = [
  { name: 'token_embd.weight', shape: [64, 32], dtype: GGMLQuantizationType.Q8_0 },
  { name: 'output_norm.weight', shape: [64], dtype: GGMLQuantizationType.F32 }
];

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'deai-gguf-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function expectRunnerError(promise: Promise<unknown>, code: string): Promise<RunnerError> {
  const error: unknown = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown
  );
  expect(error).toBeInstanceOf(RunnerError);
  if (!(error instanceof RunnerError)) throw new Error('unreachable');
  expect(error.code).toBe(code);
  expect(error.retryable).toBe(false);
  return error;
}

describe('readGgufFacts', () => {
  it('reads architecture, context, file type, parameters, bits per weight and the general fields', async () => {
    const path = join(dir, 'tiny.gguf');
    await writeGguf(path, llamaKv({ 'general.version': { value: 'v1', type: GGUFValueType.STRING } }), TENSORS);
    const facts = await readGgufFacts(path);
    expect(facts).toEqual({
      path,
      sizeBytes: (await readFile(path)).length,
      architecture: 'llama',
      contextLength: 2048,
      quantization: 'Q8_0',
      // (2048 weights × 8.5 bits + 64 × 32 bits) / 2112 weights
      bitsPerWeight: 9.2121,
      parameters: 2112,
      name: 'tiny-random-llama',
      license: 'mit',
      version: 'v1',
      chatTemplate: "{{ '<|user|>' }}"
    });
  });

  it('resolves a relative path to the absolute one it reports', async () => {
    const path = join(dir, 'tiny.gguf');
    await writeGguf(path, llamaKv(), TENSORS);
    expect((await readGgufFacts(relative(process.cwd(), path))).path).toBe(path);
  });

  it('names the file type as the manifest does (15 → Q4_K_M) and reads a u64 context length', async () => {
    const path = join(dir, 'q4km.gguf');
    const kv = llamaKv({
      'general.file_type': { value: 15, type: GGUFValueType.UINT32 },
      'llama.context_length': { value: 131072n, type: GGUFValueType.UINT64 }
    });
    await writeGguf(path, kv, [{ name: 'blk.0.ffn_down.weight', shape: [256, 4], dtype: GGMLQuantizationType.Q4_K }]);
    expect(await readGgufFacts(path)).toMatchObject({
      quantization: 'Q4_K_M',
      contextLength: 131072,
      bitsPerWeight: 4.5,
      parameters: 1024
    });
  });

  it('leaves optional fields out when the header has none', async () => {
    const path = join(dir, 'bare.gguf');
    await writeGguf(
      path,
      llamaKv({ 'general.name': undefined, 'general.license': undefined, 'tokenizer.chat_template': undefined }),
      TENSORS
    );
    const facts = await readGgufFacts(path);
    expect(facts.name).toBeUndefined();
    expect(facts.license).toBeUndefined();
    expect(facts.chatTemplate).toBeUndefined();
  });

  it('reports no bits per weight for a header without tensors', async () => {
    const path = join(dir, 'vocab-only.gguf');
    await writeGguf(path, llamaKv());
    expect(await readGgufFacts(path)).toMatchObject({ parameters: 0, bitsPerWeight: undefined });
  });

  it('is GgufIncomplete without general.file_type', async () => {
    const path = join(dir, 'no-ftype.gguf');
    await writeGguf(path, llamaKv({ 'general.file_type': undefined }), TENSORS);
    const error = await expectRunnerError(readGgufFacts(path), 'GgufIncomplete');
    expect(error.message).toContain('general.file_type');
  });

  it('is GgufIncomplete for a file type outside the manifest vocabulary (4 = Q4_1_SOME_F16)', async () => {
    const path = join(dir, 'old.gguf');
    await writeGguf(path, llamaKv({ 'general.file_type': { value: 4, type: GGUFValueType.UINT32 } }), TENSORS);
    await expectRunnerError(readGgufFacts(path), 'GgufIncomplete');
  });

  it('is GgufIncomplete without <architecture>.context_length', async () => {
    const path = join(dir, 'no-ctx.gguf');
    await writeGguf(path, llamaKv({ 'llama.context_length': undefined }), TENSORS);
    const error = await expectRunnerError(readGgufFacts(path), 'GgufIncomplete');
    expect(error.message).toContain('llama.context_length');
  });

  it('is GgufIncomplete when general.architecture is not a string', async () => {
    const path = join(dir, 'arch.gguf');
    await writeGguf(path, llamaKv({ 'general.architecture': { value: 7, type: GGUFValueType.UINT32 } }), TENSORS);
    await expectRunnerError(readGgufFacts(path), 'GgufIncomplete');
  });

  it('is GgufUnreadable for a file that is not GGUF', async () => {
    const path = join(dir, 'model.safetensors');
    await writeFile(path, Buffer.alloc(64, 1));
    const error = await expectRunnerError(readGgufFacts(path), 'GgufUnreadable');
    expect(error.message).toContain('GGUF magic');
  });

  it('is GgufUnreadable for a missing file', async () => {
    await expectRunnerError(readGgufFacts(join(dir, 'missing.gguf')), 'GgufUnreadable');
  });
});

describe('fileDigest', () => {
  const sha256 = async (path: string) =>
    createHash('sha256')
      .update(await readFile(path))
      .digest('hex');

  async function weights(name = 'w.gguf', size = 300_000): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, Buffer.alloc(size, 7));
    return path;
  }

  it("is the sha256 of the file's bytes (streamed over several chunks)", async () => {
    const path = await weights();
    expect(await fileDigest(path)).toBe(await sha256(path));
  });

  it('records the digest in the cache keyed by absolute path with size and mtime', async () => {
    const path = await weights();
    const cacheFile = join(dir, 'cache', 'digests.json');
    const digest = await fileDigest(path, cacheFile);
    const cache = JSON.parse(await readFile(cacheFile, 'utf8'));
    expect(cache.version).toBe(1);
    expect(cache.entries[path]).toMatchObject({ size: 300_000, sha256: digest });
    expect(typeof cache.entries[path].mtimeMs).toBe('number');
  });

  it('does not rehash an unchanged file: the cached digest is returned as is', async () => {
    const path = await weights();
    const cacheFile = join(dir, 'digests.json');
    await fileDigest(path, cacheFile);
    // Plant a digest no hash of this file could give: getting it back proves the file was not read.
    const cache = JSON.parse(await readFile(cacheFile, 'utf8'));
    cache.entries[path].sha256 = 'a'.repeat(64);
    await writeFile(cacheFile, JSON.stringify(cache));
    expect(await fileDigest(path, cacheFile)).toBe('a'.repeat(64));
  });

  it('rehashes when the mtime changes', async () => {
    const path = await weights();
    const cacheFile = join(dir, 'digests.json');
    await fileDigest(path, cacheFile);
    const cache = JSON.parse(await readFile(cacheFile, 'utf8'));
    cache.entries[path].sha256 = 'a'.repeat(64);
    await writeFile(cacheFile, JSON.stringify(cache));
    await utimes(path, new Date('2030-01-01T00:00:00Z'), new Date('2030-01-01T00:00:00Z'));
    expect(await fileDigest(path, cacheFile)).toBe(await sha256(path));
  });

  it('rehashes when the size changes', async () => {
    const path = await weights();
    const cacheFile = join(dir, 'digests.json');
    await fileDigest(path, cacheFile);
    const { mtimeMs } = JSON.parse(await readFile(cacheFile, 'utf8')).entries[path];
    await writeFile(path, Buffer.alloc(10, 1));
    await utimes(path, mtimeMs / 1000, mtimeMs / 1000);
    expect(await fileDigest(path, cacheFile)).toBe(await sha256(path));
  });

  it('keeps one entry per file', async () => {
    const a = await weights('a.gguf', 10);
    const b = await weights('b.gguf', 20);
    const cacheFile = join(dir, 'digests.json');
    await fileDigest(a, cacheFile);
    await fileDigest(b, cacheFile);
    await fileDigest(a, cacheFile);
    expect(Object.keys(JSON.parse(await readFile(cacheFile, 'utf8')).entries).sort()).toEqual([a, b]);
  });

  it('treats a corrupt or foreign cache file as empty and rewrites it', async () => {
    const path = await weights();
    const cacheFile = join(dir, 'digests.json');
    for (const junk of ['not json', '{"version":2,"entries":{}}', '{"version":1,"entries":{"x":{"sha256":"zz"}}}']) {
      await writeFile(cacheFile, junk);
      expect(await fileDigest(path, cacheFile)).toBe(await sha256(path));
      expect(JSON.parse(await readFile(cacheFile, 'utf8')).entries[path].sha256).toBe(await sha256(path));
    }
  });

  it('is DigestFailed for a missing file', async () => {
    const error = await expectRunnerError(fileDigest(join(dir, 'missing.gguf')), 'DigestFailed');
    expect(error.message).toContain('missing.gguf');
  });

  it('is DigestFailed for a directory', async () => {
    await expectRunnerError(fileDigest(dir), 'DigestFailed');
  });
});
