/**
 * vLLM OpenAI-compatible server adapter. Reads, in this order:
 *   GET /health     200 with an empty body; 503 with an empty body once the engine is dead
 *   GET /version    {"version": "0.11.0"}
 *   GET /v1/models  data[] {id (served name), root (weights path or HF id), parent (LoRA base), max_model_len}
 *   GET /metrics    vllm:num_requests_running / num_requests_waiting, vllm:kv_cache_usage_perc (before 0.9:
 *                   vllm:gpu_cache_usage_perc), token counters; every series carries `model_name` and,
 *                   from V1 ≥ 0.10, `engine` (one per data-parallel rank), so counts are summed over series.
 * vLLM does not listen before its weights are loaded, so "loading" looks like "unreachable" here.
 * Shapes were reconstructed from vLLM's source (tests/fixtures/vllm/README.md), not captured.
 */
import { z } from 'zod';
import { RunnerError } from '../errors.js';
import { engineReader, probeHttp, type EngineReader, type ProbeHttp, type Step } from './engine-reader.js';
import { decodeJson, decodeValue } from './http.js';
import { valuesOf } from './prometheus-text.js';
import { type EngineProbe, type ProbeIssue, type ProbeOptions, type ProbeResult, type ServedModel } from './types.js';

const ENGINE = 'vllm';

const VllmErrorSchema = z.object({ error: z.object({ message: z.string() }) });

const VersionSchema = z.object({ version: z.string().min(1) });

const ModelsSchema = z.object({
  data: z
    .array(
      z.object({
        id: z.string().min(1),
        root: z.string().min(1).nullish(),
        parent: z.string().min(1).nullish(),
        // null for LoRA adapters: they inherit their base model's length.
        max_model_len: z.int().min(1).nullish()
      })
    )
    .min(1)
});

const COUNT = z.number().min(0);

/** Keyed by metric name, so that an issue names the metric that is missing or out of range. */
const MetricsSchema = z.object({
  'vllm:num_requests_running': COUNT,
  'vllm:num_requests_waiting': COUNT,
  'vllm:kv_cache_usage_perc': z.number().min(0).max(1).optional(),
  'vllm:generation_tokens_total': COUNT.optional(),
  'vllm:prompt_tokens_total': COUNT.optional()
});

export function vllmProbe(options: ProbeOptions): EngineProbe {
  const http = probeHttp(options);
  return { engine: ENGINE, probe: () => probeVllm(options.baseUrl, http) };
}

async function probeVllm(baseUrl: string, http: ProbeHttp): Promise<ProbeResult> {
  const reader = engineReader(baseUrl, http, {
    engine: ENGINE,
    errorMessage: (body) => {
      const error = decodeJson(body, VllmErrorSchema);
      return error.ok ? error.value.error.message : undefined;
    },
    endsProbe: (reply, path) => {
      if (reply.status !== 503 || path !== '/health') return undefined;
      const error = new RunnerError('EngineDead', `GET ${baseUrl}/health: 503, the vLLM engine is dead and must be restarted`);
      return { status: 'unreachable', engine: ENGINE, error };
    }
  });
  const { get, getJson } = reader;

  // The body of a healthy /health is empty; only the status counts.
  const health = await get('/health');
  if (!health.ok) return health.result;
  const [version, models, metricsText] = await Promise.all([
    getJson('/version', VersionSchema),
    getJson('/v1/models', ModelsSchema),
    get('/metrics')
  ]);
  if (!version.ok) return version.result;
  if (!models.ok) return models.result;
  if (!metricsText.ok) return metricsText.result;
  const served = servedModels(reader, models.value.data);
  if (!served.ok) return served.result;
  const metrics = decodeMetrics(reader, metricsText.value.body);
  if (!metrics.ok) return metrics.result;

  return {
    status: 'ready',
    engine: ENGINE,
    engineVersion: version.value.version,
    models: served.value,
    load: {
      requestsRunning: metrics.value['vllm:num_requests_running'],
      requestsWaiting: metrics.value['vllm:num_requests_waiting'],
      kvCacheUsage: metrics.value['vllm:kv_cache_usage_perc'],
      tokensPredictedTotal: metrics.value['vllm:generation_tokens_total'],
      promptTokensTotal: metrics.value['vllm:prompt_tokens_total']
    }
  };
}

function servedModels(reader: EngineReader, data: z.infer<typeof ModelsSchema>['data']): Step<ServedModel[]> {
  const lengthOf = new Map(data.map((entry) => [entry.id, entry.max_model_len ?? undefined]));
  const issues: ProbeIssue[] = [];
  const models: ServedModel[] = [];
  data.forEach((entry, index) => {
    const parent = entry.parent ?? undefined;
    const length = entry.max_model_len ?? (parent === undefined ? undefined : lengthOf.get(parent));
    if (length === undefined) {
      issues.push({
        path: `data[${index}].max_model_len`,
        message: `missing required field: expected the served context of ${JSON.stringify(entry.id)} (or of its parent model)`
      });
      return;
    }
    models.push({
      id: entry.id,
      servedContext: length,
      maxModelLen: length,
      path: entry.root ?? undefined,
      parent
    });
  });
  return issues.length > 0 ? { ok: false, result: reader.malformed('/v1/models', issues) } : { ok: true, value: models };
}

function decodeMetrics(reader: EngineReader, text: string): Step<z.infer<typeof MetricsSchema>> {
  const parsed = reader.metricsSamples(text);
  if (!parsed.ok) return parsed;
  const sum = (name: string): number | undefined => {
    const values = valuesOf(parsed.value, name);
    return values.length === 0 ? undefined : values.reduce((total, value) => total + value, 0);
  };
  // Each engine (data-parallel rank) has its own KV cache; the fullest one limits admission.
  const fullest = (name: string): number | undefined => {
    const values = valuesOf(parsed.value, name);
    return values.length === 0 ? undefined : Math.max(...values);
  };
  const decoded = decodeValue(
    {
      'vllm:num_requests_running': sum('vllm:num_requests_running'),
      'vllm:num_requests_waiting': sum('vllm:num_requests_waiting'),
      // Renamed in 0.9; older servers only have the gpu_ name.
      'vllm:kv_cache_usage_perc': fullest('vllm:kv_cache_usage_perc') ?? fullest('vllm:gpu_cache_usage_perc'),
      'vllm:generation_tokens_total': sum('vllm:generation_tokens_total'),
      'vllm:prompt_tokens_total': sum('vllm:prompt_tokens_total')
    },
    MetricsSchema
  );
  return decoded.ok ? decoded : { ok: false, result: reader.malformed('/metrics', decoded.issues) };
}
