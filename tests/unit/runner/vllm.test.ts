import { afterEach, describe, expect, it } from 'vitest';
import { RunnerError } from '../../../src/runner/errors.ts';
import type { ProbeResult } from '../../../src/runner/probes/types.ts';
import { vllmProbe } from '../../../src/runner/probes/vllm.ts';
import { startReplayServer, vllmFixture, vllmRoutes, type ReplayReply, type ReplayServer } from '../../support/vllm-replay.ts';

// The vLLM bodies are reconstructed from vLLM's source, not captured (see tests/support/vllm-replay.ts).

const MODEL = 'Qwen/Qwen2.5-0.5B-Instruct';

let server: ReplayServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function probeWith(overrides: Record<string, ReplayReply> = {}, timeoutMs = 2_000): Promise<ProbeResult> {
  server = await startReplayServer({ ...vllmRoutes(), ...overrides });
  return vllmProbe({ baseUrl: server.url, timeoutMs }).probe();
}

function expectMalformed(result: ProbeResult, endpoint: string) {
  expect(result.status).toBe('malformed');
  if (result.status !== 'malformed') throw new Error('unreachable');
  expect(result.engine).toBe('vllm');
  expect(result.endpoint).toBe(endpoint);
  return result.issues;
}

function expectUnreachable(result: ProbeResult): RunnerError {
  expect(result.status).toBe('unreachable');
  if (result.status !== 'unreachable') throw new Error('unreachable');
  expect(result.error).toBeInstanceOf(RunnerError);
  return result.error;
}

/** A metrics page with one line per series: `name{labels} value`. */
function metricsPage(lines: string[]): string {
  return `# HELP vllm:num_requests_running Number of requests in model execution batches.\n# TYPE vllm:num_requests_running gauge\n${lines.join('\n')}\n`;
}

const series = (name: string, engine: string, value: number): string => `${name}{engine="${engine}",model_name="${MODEL}"} ${value}`;

describe('vLLM probe on reconstructed responses', () => {
  it('reports version, the served model with max_model_len, and the load', async () => {
    const result = await probeWith();
    expect(result).toEqual({
      status: 'ready',
      engine: 'vllm',
      engineVersion: '0.11.0',
      models: [{ id: MODEL, servedContext: 32768, maxModelLen: 32768, path: MODEL, parent: undefined }],
      load: { requestsRunning: 0, requestsWaiting: 0, kvCacheUsage: 0, tokensPredictedTotal: 8, promptTokensTotal: 24 }
    });
    expect(server?.requests.sort()).toEqual(['/health', '/metrics', '/v1/models', '/version']);
  });

  it('falls back to vllm:gpu_cache_usage_perc on servers before 0.9', async () => {
    const body = metricsPage([
      series('vllm:num_requests_running', '0', 3),
      series('vllm:num_requests_waiting', '0', 1),
      series('vllm:gpu_cache_usage_perc', '0', 0.25)
    ]);
    const result = await probeWith({ '/metrics': { body } });
    expect(result.status === 'ready' && result.load).toEqual({
      requestsRunning: 3,
      requestsWaiting: 1,
      kvCacheUsage: 0.25,
      tokensPredictedTotal: undefined,
      promptTokensTotal: undefined
    });
  });

  it('prefers vllm:kv_cache_usage_perc when both names are exposed', async () => {
    const body = metricsPage([
      series('vllm:num_requests_running', '0', 0),
      series('vllm:num_requests_waiting', '0', 0),
      series('vllm:gpu_cache_usage_perc', '0', 0.9),
      series('vllm:kv_cache_usage_perc', '0', 0.5)
    ]);
    const result = await probeWith({ '/metrics': { body } });
    expect(result.status === 'ready' && result.load.kvCacheUsage).toBe(0.5);
  });

  it('sums requests over data-parallel engines and reports the fullest KV cache', async () => {
    const body = metricsPage([
      series('vllm:num_requests_running', '0', 2),
      series('vllm:num_requests_running', '1', 5),
      series('vllm:num_requests_waiting', '0', 1),
      series('vllm:num_requests_waiting', '1', 4),
      series('vllm:kv_cache_usage_perc', '0', 0.3),
      series('vllm:kv_cache_usage_perc', '1', 0.7),
      series('vllm:generation_tokens_total', '0', 10),
      series('vllm:generation_tokens_total', '1', 20)
    ]);
    const result = await probeWith({ '/metrics': { body } });
    expect(result.status === 'ready' && result.load).toMatchObject({
      requestsRunning: 7,
      requestsWaiting: 5,
      kvCacheUsage: 0.7,
      tokensPredictedTotal: 30
    });
  });

  it("gives a LoRA adapter (max_model_len null) its base model's length", async () => {
    const models = JSON.parse(vllmFixture('v1_models.json'));
    models.data.push({
      id: 'sql-lora',
      object: 'model',
      created: 1,
      owned_by: 'vllm',
      root: '/adapters/sql',
      parent: MODEL,
      max_model_len: null,
      permission: []
    });
    const result = await probeWith({ '/v1/models': { body: JSON.stringify(models) } });
    expect(result.status === 'ready' && result.models[1]).toEqual({
      id: 'sql-lora',
      servedContext: 32768,
      maxModelLen: 32768,
      path: '/adapters/sql',
      parent: MODEL
    });
  });
});

describe('vLLM probe when the server misbehaves', () => {
  it('is unreachable (EngineDead, not retryable) when /health answers 503', async () => {
    const error = expectUnreachable(await probeWith({ '/health': { status: 503, body: '' } }));
    expect(error.code).toBe('EngineDead');
    expect(error.retryable).toBe(false);
    expect(server?.requests).toEqual(['/health']);
  });

  it('is unreachable (retryable) when nothing listens, as while vLLM still loads', async () => {
    server = await startReplayServer({});
    const url = server.url;
    await server.close();
    server = undefined;
    const error = expectUnreachable(await vllmProbe({ baseUrl: url }).probe());
    expect(error.code).toBe('EngineUnreachable');
    expect(error.retryable).toBe(true);
  });

  it('is unreachable when the server closes the connection', async () => {
    const error = expectUnreachable(await probeWith({ '/v1/models': 'close' }));
    expect(error.code).toBe('EngineUnreachable');
  });

  it('times out when /metrics never answers', async () => {
    const error = expectUnreachable(await probeWith({ '/metrics': 'hang' }, 150));
    expect(error.code).toBe('EngineTimeout');
  });

  it("quotes vLLM's error message on an unexpected status", async () => {
    const issues = expectMalformed(await probeWith({ '/version': { status: 404, body: vllmFixture('error_404_model.json') } }), '/version');
    expect(issues).toEqual([{ path: '', message: 'expected HTTP 200, got 404: The model `nope` does not exist.' }]);
  });

  it('is malformed when /version is not {version}', async () => {
    const issues = expectMalformed(await probeWith({ '/version': { body: '{"vllm":"0.11.0"}' } }), '/version');
    expect(issues[0]?.path).toBe('version');
  });

  it('is malformed when /v1/models serves no model', async () => {
    const issues = expectMalformed(await probeWith({ '/v1/models': { body: '{"object":"list","data":[]}' } }), '/v1/models');
    expect(issues[0]?.path).toBe('data');
  });

  it('is malformed when a model has no length and no parent to inherit one from', async () => {
    const models = JSON.parse(vllmFixture('v1_models.json'));
    models.data.push({ id: 'orphan', root: '/x', parent: null, max_model_len: null });
    const issues = expectMalformed(await probeWith({ '/v1/models': { body: JSON.stringify(models) } }), '/v1/models');
    expect(issues).toHaveLength(1);
    expect(issues[0]?.path).toBe('data[1].max_model_len');
  });

  it('is malformed when a required gauge is missing from /metrics', async () => {
    const body = metricsPage([series('vllm:num_requests_running', '0', 1)]);
    const issues = expectMalformed(await probeWith({ '/metrics': { body } }), '/metrics');
    expect(issues).toEqual([{ path: '["vllm:num_requests_waiting"]', message: 'missing required field: expected a number' }]);
  });

  it('is malformed when the KV-cache usage is outside [0, 1]', async () => {
    const body = metricsPage([
      series('vllm:num_requests_running', '0', 0),
      series('vllm:num_requests_waiting', '0', 0),
      series('vllm:kv_cache_usage_perc', '0', 42)
    ]);
    const issues = expectMalformed(await probeWith({ '/metrics': { body } }), '/metrics');
    expect(issues[0]?.path).toBe('["vllm:kv_cache_usage_perc"]');
  });

  it('is malformed when /metrics is not the Prometheus text format', async () => {
    const issues = expectMalformed(await probeWith({ '/metrics': { body: '{"running": 1}' } }), '/metrics');
    expect(issues[0]).toEqual({ path: 'line 1', message: 'expected a metric name, got "{\\"running\\": 1}"' });
  });
});
