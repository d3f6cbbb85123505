/**
 * Real llama.cpp inference: the cached llama-server build on the tiny random-weight model. The first run on
 * a machine builds llama.cpp (minutes); later runs reuse ~/.cache/deai/llama.cpp (or $DEAI_CACHE_DIR).
 */
import { join } from 'node:path';
import { tmpdir } from 'node:os';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';

import { LlamaServerStartError, startLlamaServer } from '../../src/runner/llama/server.ts';
import { TINY_MODEL_PARAMS, ensureRandomModel } from '../../src/runner/llama/tiny-model.ts';
import { execute, ExecutionError } from '../../src/inference/chat-stream.ts';
import { readGgufFacts } from '../../src/runner/probes/gguf.ts';
import { llamaCppProbe } from '../../src/runner/probes/llamacpp.ts';
import { llamaFixture, type LlamaFixture } from '../support/llama.ts';

// ~5-6 min on 2 idle cores; 19 min was measured on a shared, loaded box (load average 6-8).
const BUILD_TIMEOUT_MS = 30 * 60_000;
const SLOTS = 2;

const ModelsSchema = z.object({
  object: z.literal('list'),
  data: z.array(
    z.object({
      id: z.string(),
      object: z.literal('model'),
      meta: z.object({ ftype: z.string(), n_params: z.number(), n_vocab: z.number() })
    })
  )
});
const PropsSchema = z.object({ total_slots: z.number(), model_alias: z.string(), build_info: z.string() });
const UsageSchema = z.object({ prompt_tokens: z.number(), completion_tokens: z.number(), total_tokens: z.number() });
const CompletionSchema = z.object({
  object: z.literal('chat.completion'),
  model: z.string(),
  choices: z.array(
    z.object({ finish_reason: z.enum(['stop', 'length']), message: z.object({ role: z.literal('assistant'), content: z.string() }) })
  ),
  usage: UsageSchema
});
const ChunkSchema = z.object({
  object: z.literal('chat.completion.chunk'),
  choices: z.array(
    z.object({
      finish_reason: z.enum(['stop', 'length']).nullable(),
      delta: z.object({ role: z.string().optional(), content: z.string().nullish() })
    })
  ),
  usage: UsageSchema.optional()
});

const request = {
  model: 'tiny-random-llama',
  messages: [
    { role: 'system', content: 'You are a terse assistant.' },
    { role: 'user', content: 'Write one sentence about the sea. ¿Qué tal? 海 🌊' }
  ],
  temperature: 0,
  max_tokens: 24
};

describe('llama-server (real llama.cpp, tiny random model)', () => {
  let fixture: LlamaFixture | undefined;
  const llama = (): LlamaFixture => {
    if (fixture === undefined) throw new Error('llama fixture did not start');
    return fixture;
  };

  beforeAll(async () => {
    fixture = await llamaFixture({ slots: SLOTS, ctx: 2048 });
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await fixture?.stop();
  });

  /** POSTs JSON and returns the body as text, failing on invalid UTF-8 (what a random model breaks first). */
  async function post(path: string, body: unknown): Promise<{ status: number; text: string }> {
    const response = await fetch(`${llama().url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body)
    });
    const text = new TextDecoder('utf-8', { fatal: true }).decode(await response.arrayBuffer());
    return { status: response.status, text };
  }

  async function chat(): Promise<z.infer<typeof CompletionSchema>> {
    const { status, text } = await post('/v1/chat/completions', request);
    expect(status, text).toBe(200);
    return CompletionSchema.parse(JSON.parse(text));
  }

  async function streamChat(): Promise<{ content: string; chunks: Array<z.infer<typeof ChunkSchema>> }> {
    const { status, text } = await post('/v1/chat/completions', { ...request, stream: true, stream_options: { include_usage: true } });
    expect(status, text).toBe(200);
    const events = text
      .split('\n')
      .filter((line) => line.startsWith('data: '))
      .map((line) => line.slice('data: '.length));
    // A stream that fails midway still has status 200 but ends with an error event instead of [DONE].
    expect(events.at(-1), text).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((event) => ChunkSchema.parse(JSON.parse(event)));
    const content = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('');
    return { content, chunks };
  }

  it('answers /health with 200 once the model is loaded', async () => {
    const response = await fetch(`${llama().url}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('lists the tiny Q8_0 model under its alias in /v1/models', async () => {
    const models = ModelsSchema.parse(await (await fetch(`${llama().url}/v1/models`)).json());
    expect(models.data).toHaveLength(1);
    expect(models.data[0]).toMatchObject({ id: llama().alias, meta: { ftype: 'Q8_0', n_params: TINY_MODEL_PARAMS, n_vocab: 32_000 } });
  });

  it('reports the slots, alias and build in /props', async () => {
    const props = PropsSchema.parse(await (await fetch(`${llama().url}/props`)).json());
    expect(props.total_slots).toBe(SLOTS);
    expect(props.model_alias).toBe(llama().alias);
    expect(props.build_info).toContain(llama().commit.slice(0, 7));
  });

  it('completes a chat deterministically at temperature 0, as valid UTF-8 with token usage', async () => {
    const first = await chat();
    const second = await chat();
    const content = first.choices[0]?.message.content ?? '';
    expect(content.length).toBeGreaterThan(0);
    expect(content).not.toContain('\uFFFD');
    expect(second.choices[0]?.message.content).toBe(content);
    expect(first.model).toBe(llama().alias);
    expect(first.usage.prompt_tokens).toBeGreaterThan(0);
    expect(first.usage.completion_tokens).toBeGreaterThan(0);
    expect(first.usage.completion_tokens).toBeLessThanOrEqual(request.max_tokens);
    expect(first.usage.total_tokens).toBe(first.usage.prompt_tokens + first.usage.completion_tokens);
  });

  it('streams the same completion as server-sent events ending in [DONE], with a usage chunk', async () => {
    const first = await streamChat();
    const second = await streamChat();
    expect(first.content.length).toBeGreaterThan(0);
    expect(first.content).not.toContain('\uFFFD');
    expect(second.content).toBe(first.content);
    expect(first.content).toBe((await chat()).choices[0]?.message.content);
    expect(first.chunks[0]?.choices[0]?.delta.role).toBe('assistant');
    expect(first.chunks.some((chunk) => chunk.choices[0]?.finish_reason !== null && chunk.choices[0]?.finish_reason !== undefined)).toBe(
      true
    );
    const usage = first.chunks.at(-1)?.usage;
    expect(usage?.prompt_tokens).toBeGreaterThan(0);
    expect(usage?.completion_tokens).toBeGreaterThan(0);
  });

  it('counts predicted tokens in the Prometheus /metrics', async () => {
    await chat();
    const response = await fetch(`${llama().url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const match = /^llamacpp:tokens_predicted_total (\S+)$/m.exec(await response.text());
    expect(match).not.toBeNull();
    expect(Number(match?.[1])).toBeGreaterThan(0);
  });

  it('rejects with LLAMA_SERVER_EXITED and the server log when the model cannot be loaded', async () => {
    const modelPath = join(tmpdir(), `deai-missing-model-${process.pid}.gguf`);
    const error = await startLlamaServer({ modelPath, serverPath: llama().serverPath }).then(
      () => null,
      (caught: unknown) => caught
    );
    expect(error).toBeInstanceOf(LlamaServerStartError);
    expect(error).toMatchObject({ code: 'LLAMA_SERVER_EXITED', retryable: false });
    expect(error instanceof LlamaServerStartError ? error.logTail : '').toMatch(/failed to load model|No such file/i);
  });

  it('is probed as ready by the runner, with the same facts as the GGUF header', async () => {
    const probed = await llamaCppProbe({ baseUrl: llama().url }).probe();
    if (probed.status !== 'ready') throw new Error(`probe: ${probed.status}`);
    expect(probed.slots?.total).toBe(SLOTS);
    expect(probed.models[0]).toMatchObject({ quantization: 'Q8_0', parameters: TINY_MODEL_PARAMS });
    const facts = await readGgufFacts(llama().modelPath);
    expect(facts).toMatchObject({ architecture: 'llama', quantization: 'Q8_0', parameters: TINY_MODEL_PARAMS });
  });

  it('generates the small random model bench:gateway --model small runs on, once, beside the tiny one', async () => {
    const path = await ensureRandomModel('small');
    expect(path).toMatch(/small-random-llama-q8_0\.gguf$/);
    expect(await readGgufFacts(path)).toMatchObject({ architecture: 'llama', quantization: 'Q8_0', parameters: 60_039_680 });
    expect(await ensureRandomModel('small')).toBe(path);
    expect(path).not.toBe(llama().modelPath);
  }, 120_000);

  it('reports a server that dies in the middle of a streamed task as a retryable execution error', async () => {
    const doomed = await startLlamaServer({ modelPath: llama().modelPath, serverPath: llama().serverPath, alias: 'doomed' });
    const running = execute({
      baseUrl: doomed.url,
      model: 'doomed',
      prompt: 'Tell a very long story.',
      maxOutputTokens: 4000,
      temperature: 0,
      onFirstToken: () => void doomed.process.kill('SIGKILL')
    });
    const error = await running.then(
      () => null,
      (caught: unknown) => caught
    );
    expect(error).toBeInstanceOf(ExecutionError);
    expect(error).toMatchObject({ retryable: true });
    await doomed.stop();
  });
});
