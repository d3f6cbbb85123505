import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RunnerError } from '../../../src/runner/errors.ts';
import { ggufFileTypeOfLlamaName, llamaCppProbe } from '../../../src/runner/probes/llamacpp.ts';
import { safeParsePrometheusText } from '../../../src/runner/probes/prometheus-text.ts';
import type { ProbeResult } from '../../../src/runner/probes/types.ts';
import { startReplayServer, type ReplayReply, type ReplayServer } from '../../support/vllm-replay.ts';

/** Responses captured from llama-server b1-80fb11a (tests/fixtures/llamacpp/README.md). */
const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'llamacpp');
const fixture = (name: string): string => readFileSync(join(FIXTURES, name), 'utf8');

function llamaRoutes(overrides: Record<string, ReplayReply> = {}): Record<string, ReplayReply> {
  return {
    '/health': { body: fixture('health.json') },
    '/props': { body: fixture('props.json') },
    '/v1/models': { body: fixture('v1_models.json') },
    '/slots': { body: fixture('slots_idle.json') },
    '/metrics': { body: fixture('metrics_before.txt'), contentType: 'text/plain; version=0.0.4' },
    ...overrides
  };
}

/** A props body with some fields replaced (the captured one otherwise). */
function propsWith(changes: Record<string, unknown>): string {
  const props: Record<string, unknown> = JSON.parse(fixture('props.json'));
  return JSON.stringify({ ...props, ...changes });
}

let server: ReplayServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function probeWith(routes: Record<string, ReplayReply>, timeoutMs = 2_000): Promise<ProbeResult> {
  server = await startReplayServer(routes);
  return llamaCppProbe({ baseUrl: server.url, timeoutMs }).probe();
}

function expectMalformed(result: ProbeResult, endpoint: string) {
  expect(result.status).toBe('malformed');
  if (result.status !== 'malformed') throw new Error('unreachable');
  expect(result.engine).toBe('llama.cpp');
  expect(result.endpoint).toBe(endpoint);
  return result.issues;
}

function expectUnreachable(result: ProbeResult): RunnerError {
  expect(result.status).toBe('unreachable');
  if (result.status !== 'unreachable') throw new Error('unreachable');
  expect(result.error).toBeInstanceOf(RunnerError);
  return result.error;
}

describe('llama.cpp probe on captured responses', () => {
  it('reports an idle server: version, the served model, slots and load', async () => {
    const result = await probeWith(llamaRoutes());
    expect(result).toEqual({
      status: 'ready',
      engine: 'llama.cpp',
      engineVersion: 'b1-80fb11a',
      models: [
        {
          id: 'tiny-random-llama',
          servedContext: 1024,
          trainedContext: 2048,
          parameters: 4202816,
          quantization: 'Q8_0',
          quantizationLabel: 'Q8_0',
          path: 'models/tiny-random-llama-q8_0.gguf',
          sizeBytes: 4466432,
          inputModalities: ['text']
        }
      ],
      slots: { total: 2, busy: 0 },
      load: { requestsRunning: 0, requestsWaiting: 0, tokensPredictedTotal: 0, promptTokensTotal: 0 }
    });
    expect(server?.requests.sort()).toEqual(['/health', '/metrics', '/props', '/slots', '/v1/models']);
  });

  it('reports a busy server: busy slots and counters from /slots and /metrics', async () => {
    const result = await probeWith(
      llamaRoutes({ '/slots': { body: fixture('slots_busy.json') }, '/metrics': { body: fixture('metrics_busy.txt') } })
    );
    expect(result.status).toBe('ready');
    if (result.status !== 'ready') return;
    expect(result.slots).toEqual({ total: 2, busy: 1 });
    expect(result.load).toEqual({ requestsRunning: 1, requestsWaiting: 0, tokensPredictedTotal: 40, promptTokensTotal: 94 });
  });

  it('says loading when /health answers 503 "Loading model", and asks nothing else', async () => {
    const result = await probeWith(llamaRoutes({ '/health': { status: 503, body: fixture('health_loading_503.json') } }));
    expect(result).toEqual({ status: 'loading', engine: 'llama.cpp' });
    expect(server?.requests).toEqual(['/health']);
  });

  it("says loading when another endpoint answers 503 with llama-server's error body", async () => {
    const result = await probeWith(llamaRoutes({ '/props': { status: 503, body: fixture('health_loading_503.json') } }));
    expect(result).toEqual({ status: 'loading', engine: 'llama.cpp' });
  });

  it('reads the file type from /props when /v1/models has no ftype, in the manifest spelling', async () => {
    const models = fixture('v1_models.json').replace(',"ftype":"Q8_0"', '');
    const result = await probeWith(
      llamaRoutes({ '/v1/models': { body: models }, '/props': { body: propsWith({ model_ftype: 'Q4_K - Medium' }) } })
    );
    expect(result.status === 'ready' && result.models[0]).toMatchObject({ quantization: 'Q4_K_M', quantizationLabel: 'Q4_K - Medium' });
  });

  it('accepts vocab_type as an int (the README shape) as well as a bool (b1-80fb11a)', async () => {
    const body = fixture('v1_models.json').replace('"vocab_type":true', '"vocab_type":1');
    const result = await probeWith(llamaRoutes({ '/v1/models': { body } }));
    expect(result.status).toBe('ready');
  });

  it('lists image and audio inputs when the server has a multimodal projector', async () => {
    const result = await probeWith(
      llamaRoutes({ '/props': { body: propsWith({ modalities: { vision: true, audio: true, video: false } }) } })
    );
    expect(result.status === 'ready' && result.models[0]?.inputModalities).toEqual(['text', 'image', 'audio']);
  });

  it('uses an injected fetch and tolerates a trailing slash in the base URL', async () => {
    const bodies: Record<string, string> = {
      '/health': fixture('health.json'),
      '/props': fixture('props.json'),
      '/v1/models': fixture('v1_models.json'),
      '/slots': fixture('slots_idle.json'),
      '/metrics': fixture('metrics_before.txt')
    };
    const urls: string[] = [];
    const probe = llamaCppProbe({
      baseUrl: 'http://llama.invalid:8080/',
      fetch: async (url) => {
        urls.push(url);
        const path = url.replace('http://llama.invalid:8080', '');
        return new Response(bodies[path] ?? '', { status: bodies[path] === undefined ? 404 : 200 });
      }
    });
    expect((await probe.probe()).status).toBe('ready');
    expect(urls).toContain('http://llama.invalid:8080/health');
    expect(probe.engine).toBe('llama.cpp');
  });
});

describe('llama.cpp probe when the server misbehaves', () => {
  it('is unreachable (retryable) when nothing listens', async () => {
    server = await startReplayServer({});
    const url = server.url;
    await server.close();
    server = undefined;
    const error = expectUnreachable(await llamaCppProbe({ baseUrl: url }).probe());
    expect(error.code).toBe('EngineUnreachable');
    expect(error.retryable).toBe(true);
  });

  it('is unreachable when the server closes the connection on /health', async () => {
    const error = expectUnreachable(await probeWith(llamaRoutes({ '/health': 'close' })));
    expect(error.code).toBe('EngineUnreachable');
    expect(error.message).toContain('/health');
  });

  it('is unreachable when the server closes the connection on /metrics', async () => {
    const error = expectUnreachable(await probeWith(llamaRoutes({ '/metrics': 'close' })));
    expect(error.code).toBe('EngineUnreachable');
    expect(error.message).toContain('/metrics');
  });

  it('times out (retryable) when the server never answers', async () => {
    const error = expectUnreachable(await probeWith(llamaRoutes({ '/slots': 'hang' }), 150));
    expect(error.code).toBe('EngineTimeout');
    expect(error.retryable).toBe(true);
  });

  it('is malformed when /props is not JSON', async () => {
    const issues = expectMalformed(await probeWith(llamaRoutes({ '/props': { body: '{"build_info": "b1' } })), '/props');
    expect(issues).toHaveLength(1);
    expect(issues[0]?.message).toMatch(/^expected a JSON document, got invalid JSON/);
  });

  it('is malformed when /props lacks build_info and total_slots, naming both', async () => {
    const props: Record<string, unknown> = JSON.parse(fixture('props.json'));
    delete props.build_info;
    delete props.total_slots;
    const issues = expectMalformed(await probeWith(llamaRoutes({ '/props': { body: JSON.stringify(props) } })), '/props');
    expect(issues.map((issue) => issue.path).sort()).toEqual(['build_info', 'total_slots']);
    expect(issues[0]?.message).toMatch(/^missing required field/);
  });

  it('is malformed when /v1/models has a wrongly typed meta field, with its path', async () => {
    const body = fixture('v1_models.json').replace('"n_ctx":1024', '"n_ctx":"1024"');
    const issues = expectMalformed(await probeWith(llamaRoutes({ '/v1/models': { body } })), '/v1/models');
    expect(issues).toEqual([{ path: 'data[0].meta.n_ctx', message: 'expected a number, got string "1024"' }]);
  });

  it('is malformed when /v1/models lists no model', async () => {
    const issues = expectMalformed(await probeWith(llamaRoutes({ '/v1/models': { body: '{"object":"list","data":[]}' } })), '/v1/models');
    expect(issues[0]?.path).toBe('data');
  });

  it('is malformed when /slots is not a list of slots', async () => {
    const issues = expectMalformed(await probeWith(llamaRoutes({ '/slots': { body: '{"slots":2}' } })), '/slots');
    expect(issues[0]?.message).toMatch(/expected a list/);
  });

  it('is malformed when /health says something other than ok', async () => {
    const issues = expectMalformed(await probeWith(llamaRoutes({ '/health': { body: '{"status":"error"}' } })), '/health');
    expect(issues[0]?.path).toBe('status');
  });

  it('is malformed, not loading, when a 503 has no llama-server error body', async () => {
    const issues = expectMalformed(await probeWith(llamaRoutes({ '/health': { status: 503, body: '<html>busy</html>' } })), '/health');
    expect(issues).toEqual([{ path: '', message: 'expected HTTP 200, got 503' }]);
  });

  it("quotes llama-server's message when /metrics is disabled (501 without --metrics)", async () => {
    const body =
      '{"error":{"code":501,"message":"This server does not support metrics endpoint. Start it with `--metrics`","type":"not_supported_error"}}';
    const issues = expectMalformed(await probeWith(llamaRoutes({ '/metrics': { status: 501, body } })), '/metrics');
    expect(issues).toEqual([
      { path: '', message: 'expected HTTP 200, got 501: This server does not support metrics endpoint. Start it with `--metrics`' }
    ]);
  });

  it('is malformed when /metrics lacks a gauge the load needs', async () => {
    const body = fixture('metrics_before.txt').replace(/^llamacpp:requests_deferred 0$/m, '');
    const issues = expectMalformed(await probeWith(llamaRoutes({ '/metrics': { body } })), '/metrics');
    expect(issues).toEqual([{ path: '["llamacpp:requests_deferred"]', message: 'missing required field: expected a number' }]);
  });

  it('is malformed when a /metrics line cannot be read, with its line number', async () => {
    const body = `${fixture('metrics_before.txt')}llamacpp:requests_processing{broken 1\n`;
    const issues = expectMalformed(await probeWith(llamaRoutes({ '/metrics': { body } })), '/metrics');
    expect(issues).toHaveLength(1);
    expect(issues[0]?.path).toBe('line 46');
  });

  it('is malformed when a gauge is negative', async () => {
    const body = fixture('metrics_before.txt').replace(/^llamacpp:requests_processing 0$/m, 'llamacpp:requests_processing -1');
    const issues = expectMalformed(await probeWith(llamaRoutes({ '/metrics': { body } })), '/metrics');
    expect(issues[0]?.path).toBe('["llamacpp:requests_processing"]');
  });
});

describe('ggufFileTypeOfLlamaName', () => {
  it.each([
    ['Q8_0', 'Q8_0'],
    ['all F32', 'F32'],
    ['F16', 'F16'],
    ['BF16', 'BF16'],
    ['Q2_K - Medium', 'Q2_K'],
    ['Q2_K - Small', 'Q2_K_S'],
    ['Q3_K - Large', 'Q3_K_L'],
    ['Q4_K - Medium', 'Q4_K_M'],
    ['Q5_K - Small', 'Q5_K_S'],
    ['Q6_K', 'Q6_K'],
    ['IQ2_XS - 2.3125 bpw', 'IQ2_XS'],
    ['IQ3_S - 3.4375 bpw', 'IQ3_S'],
    ['IQ3_S mix - 3.66 bpw', 'IQ3_M'],
    ['TQ1_0 - 1.69 bpw ternary', 'TQ1_0'],
    ['MXFP4 MoE', 'MXFP4_MOE'],
    ['Q8_0 (guessed)', 'Q8_0'],
    ['Q4_K - Medium (guessed)', 'Q4_K_M']
  ])('%s → %s', (name, expected) => {
    expect(ggufFileTypeOfLlamaName(name)).toBe(expected);
  });

  it.each(['Q4_1, some F16', 'unknown, may not work', 'Q7_K - Medium', ''])('%j has no manifest spelling', (name) => {
    expect(ggufFileTypeOfLlamaName(name)).toBeUndefined();
  });
});

describe('safeParsePrometheusText', () => {
  it('reads every sample and TYPE of the captured llama.cpp page', () => {
    const result = safeParsePrometheusText(fixture('metrics_busy.txt'));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.samples).toHaveLength(15);
    expect(result.samples.find((sample) => sample.name === 'llamacpp:prompt_seconds_total')?.value).toBe(0.008296);
    expect(result.types.get('llamacpp:tokens_predicted_total')).toBe('counter');
    expect(result.types.get('llamacpp:requests_processing')).toBe('gauge');
  });

  it('reads labels with escapes, spaces and a trailing comma', () => {
    const text = 'm{a="x\\"y", b = "line\\nnext",c="back\\\\slash",} 1\n';
    const result = safeParsePrometheusText(text);
    expect(result.ok && result.samples).toEqual([{ name: 'm', labels: { a: 'x"y', b: 'line\nnext', c: 'back\\slash' }, value: 1 }]);
  });

  it('reads special values, exponents, timestamps and CRLF line ends', () => {
    const text = 'a +Inf\r\nb -Inf\r\nc NaN\r\nd 1.5e3 1700000000000\r\ne .5\r\n';
    const result = safeParsePrometheusText(text);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.samples.map((sample) => sample.value)).toEqual([Infinity, -Infinity, Number.NaN, 1500, 0.5]);
  });

  it('keeps a label named __proto__ as a label', () => {
    const result = safeParsePrometheusText('m{__proto__="x"} 1');
    expect(result.ok && Object.keys(result.samples[0]?.labels ?? {})).toEqual(['__proto__']);
  });

  it.each([
    ['m{a="x} 1', /unterminated value for label a/],
    ['m{a=x} 1', /expected a quoted value for label a/],
    ['m{a="x" b="y"} 1', /expected "," or "}" after label a/],
    ['m{a="1",a="2"} 1', /duplicate label a/],
    ['m{a="\\t"} 1', /invalid escape/],
    ['m abc', /expected a number value, got "abc"/],
    ['m', /expected a number value/],
    ['m 1 2 3', /unexpected text after the value/],
    ['m 1 soon', /expected an integer timestamp/],
    ['{a="b"} 1', /expected a metric name/]
  ])('rejects %j', (line, message) => {
    const result = safeParsePrometheusText(`# HELP ok fine\nok 1\n${line}\n`);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues).toHaveLength(1);
    expect(result.issues[0]?.line).toBe(3);
    expect(result.issues[0]?.message).toMatch(message);
  });
});
