import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { RunnerError } from '../../../src/runner/errors.ts';
import { fileDigest } from '../../../src/runner/probes/gguf.ts';
import { llamaCppProbe } from '../../../src/runner/probes/llamacpp.ts';
import type { ReadyProbe } from '../../../src/runner/probes/types.ts';
import { servedWeightsFile } from '../../../src/runner/served-weights.ts';
import { startReplayServer, type ReplayServer } from '../../support/vllm-replay.ts';

/** Responses captured from llama-server b1-80fb11a: `/props` reports `model_path: models/tiny-random-llama-q8_0.gguf`. */
const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'llamacpp');
const fixture = (name: string): string => readFileSync(join(FIXTURES, name), 'utf8');

let server: ReplayServer | undefined;
let dir: string | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

async function probedLlama(): Promise<ReadyProbe> {
  server = await startReplayServer({
    '/health': { body: fixture('health.json') },
    '/props': { body: fixture('props.json') },
    '/v1/models': { body: fixture('v1_models.json') },
    '/slots': { body: fixture('slots_idle.json') },
    '/metrics': { body: fixture('metrics_before.txt'), contentType: 'text/plain; version=0.0.4' }
  });
  const result = await llamaCppProbe({ baseUrl: server.url }).probe();
  if (result.status !== 'ready') throw new Error(`probe: ${result.status}`);
  return result;
}

const sha256 = (bytes: string): string => createHash('sha256').update(bytes).digest('hex');

describe('the weights file the runner hashes', () => {
  it('is the file llama-server reports serving (/props model_path), not the configured modelPath', async () => {
    dir = mkdtempSync(join(tmpdir(), 'deai-served-'));
    mkdirSync(join(dir, 'models'));
    writeFileSync(join(dir, 'models', 'tiny-random-llama-q8_0.gguf'), 'the weights really served');
    writeFileSync(join(dir, 'honest.gguf'), 'the weights the operator configured');
    const weights = servedWeightsFile(await probedLlama(), 'honest.gguf', dir);
    expect(weights).toEqual({ path: join(dir, 'models', 'tiny-random-llama-q8_0.gguf'), source: 'engine' });
    expect(await fileDigest(weights?.path ?? '')).toBe(sha256('the weights really served'));
  });

  it('refuses (ServedModelUnreadable) when the served file is not readable here, even with a configured one', async () => {
    dir = mkdtempSync(join(tmpdir(), 'deai-served-'));
    writeFileSync(join(dir, 'honest.gguf'), 'configured');
    const ready = await probedLlama();
    let thrown: unknown;
    try {
      servedWeightsFile(ready, 'honest.gguf', dir);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(RunnerError);
    expect((thrown as RunnerError).code).toBe('ServedModelUnreadable');
    expect((thrown as RunnerError).message).toContain('models/tiny-random-llama-q8_0.gguf');
  });

  it('keeps the configured path for vLLM, which reports no weights file', () => {
    const vllm: ReadyProbe = {
      status: 'ready',
      engine: 'vllm',
      engineVersion: '0.11.0',
      models: [{ id: 'Qwen/Qwen2.5-7B-Instruct-AWQ', servedContext: 32768, path: 'Qwen/Qwen2.5-7B-Instruct-AWQ' }],
      load: { requestsRunning: 0, requestsWaiting: 0 }
    };
    expect(servedWeightsFile(vllm, 'weights/model.safetensors', '/srv')).toEqual({
      path: '/srv/weights/model.safetensors',
      source: 'config'
    });
    expect(servedWeightsFile(vllm, undefined, '/srv')).toBeUndefined();
  });
});
