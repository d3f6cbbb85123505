/**
 * llama.cpp `llama-server` adapter. Reads, in this order:
 *   GET /health     200 `{"status":"ok"}`; 503 `{"error":{"message":"Loading model",…}}` while loading
 *   GET /props      build_info, total_slots, model_path, model_ftype, default_generation_settings.n_ctx, modalities
 *   GET /v1/models  data[].id (the `--alias`) and data[].meta {n_params, n_ctx, n_ctx_train, size, ftype}
 *   GET /slots      [{id, n_ctx, is_processing}] (on by default)
 *   GET /metrics    llamacpp:requests_processing/requests_deferred gauges, token counters (needs `--metrics`)
 * Shapes follow the responses captured from llama.cpp b1-80fb11a (tests/fixtures/llamacpp/).
 */
import { z } from 'zod';
import { GGUF_FILE_TYPES, isGgufFileType, type GgufFileType } from '../../core/manifest/index.js';
import { engineReader, probeHttp, type EngineReader, type ProbeHttp, type Step } from './engine-reader.js';
import { decodeJson, decodeValue } from './http.js';
import { valuesOf } from './prometheus-text.js';
import { type EngineProbe, type ProbeOptions, type ProbeResult, type ServedModel } from './types.js';

const ENGINE = 'llama.cpp';

const HealthOkSchema = z.object({ status: z.literal('ok') });

/** llama-server's error body (OpenAI-like, with a numeric `code`). */
const LlamaErrorSchema = z.object({
  error: z.object({ message: z.string(), type: z.string().optional(), code: z.int().optional() })
});

const PropsSchema = z.object({
  build_info: z.string().min(1),
  total_slots: z.int().min(1),
  model_path: z.string().min(1),
  model_ftype: z.string().min(1).optional(),
  default_generation_settings: z.object({ n_ctx: z.int().min(1) }),
  modalities: z.object({ vision: z.boolean().optional(), audio: z.boolean().optional() }).optional()
});

const ModelMetaSchema = z.object({
  // A bool in b1-80fb11a, an int (the llama_vocab_type) in the README; unused, kept to document it.
  vocab_type: z.union([z.boolean(), z.int()]).optional(),
  n_ctx: z.int().min(1).optional(),
  n_ctx_train: z.int().min(1).optional(),
  n_params: z.int().min(1).optional(),
  size: z.int().min(0).optional(),
  ftype: z.string().min(1).optional()
});

const ModelsSchema = z.object({
  data: z.array(z.object({ id: z.string().min(1), meta: ModelMetaSchema.nullish() })).min(1)
});

const SlotsSchema = z.array(z.object({ id: z.int().min(0), n_ctx: z.int().min(1), is_processing: z.boolean() }));

const COUNT = z.number().min(0);

const MetricsSchema = z.object({
  'llamacpp:requests_processing': COUNT,
  'llamacpp:requests_deferred': COUNT,
  'llamacpp:tokens_predicted_total': COUNT.optional(),
  'llamacpp:prompt_tokens_total': COUNT.optional()
});

const METRIC_NAMES = Object.keys(MetricsSchema.shape);

export function llamaCppProbe(options: ProbeOptions): EngineProbe {
  const http = probeHttp(options);
  return { engine: ENGINE, probe: () => probeLlamaCpp(options.baseUrl, http) };
}

async function probeLlamaCpp(baseUrl: string, http: ProbeHttp): Promise<ProbeResult> {
  const reader = engineReader(baseUrl, http, {
    engine: ENGINE,
    errorMessage: (body) => {
      const error = decodeJson(body, LlamaErrorSchema);
      return error.ok ? error.value.error.message : undefined;
    },
    // 503 is how llama-server says "no model yet" on every endpoint, not only /health.
    endsProbe: (reply) =>
      reply.status === 503 && decodeJson(reply.body, LlamaErrorSchema).ok ? { status: 'loading', engine: ENGINE } : undefined
  });
  const { get, getJson } = reader;

  const health = await getJson('/health', HealthOkSchema);
  if (!health.ok) return health.result;
  const [props, models, slots, metricsText] = await Promise.all([
    getJson('/props', PropsSchema),
    getJson('/v1/models', ModelsSchema),
    getJson('/slots', SlotsSchema),
    get('/metrics')
  ]);
  if (!props.ok) return props.result;
  if (!models.ok) return models.result;
  if (!slots.ok) return slots.result;
  if (!metricsText.ok) return metricsText.result;
  const metrics = decodeMetrics(reader, metricsText.value.body);
  if (!metrics.ok) return metrics.result;

  return {
    status: 'ready',
    engine: ENGINE,
    engineVersion: props.value.build_info,
    models: models.value.data.map((entry) => servedModel(entry, props.value)),
    slots: { total: props.value.total_slots, busy: slots.value.filter((slot) => slot.is_processing).length },
    load: {
      requestsRunning: metrics.value['llamacpp:requests_processing'],
      requestsWaiting: metrics.value['llamacpp:requests_deferred'],
      tokensPredictedTotal: metrics.value['llamacpp:tokens_predicted_total'],
      promptTokensTotal: metrics.value['llamacpp:prompt_tokens_total']
    }
  };
}

function decodeMetrics(reader: EngineReader, text: string): Step<z.infer<typeof MetricsSchema>> {
  const samples = reader.metricsSamples(text);
  if (!samples.ok) return samples;
  const wanted: Record<string, number> = {};
  for (const name of METRIC_NAMES) {
    const values = valuesOf(samples.value, name);
    if (values.length > 0) wanted[name] = values.reduce((sum, value) => sum + value, 0);
  }
  const decoded = decodeValue(wanted, MetricsSchema);
  return decoded.ok ? decoded : { ok: false, result: reader.malformed('/metrics', decoded.issues) };
}

function servedModel(entry: z.infer<typeof ModelsSchema>['data'][number], props: z.infer<typeof PropsSchema>): ServedModel {
  const meta = entry.meta ?? {};
  const label = meta.ftype ?? props.model_ftype;
  const inputModalities: ServedModel['inputModalities'] = ['text'];
  if (props.modalities?.vision === true) inputModalities.push('image');
  if (props.modalities?.audio === true) inputModalities.push('audio');
  return {
    id: entry.id,
    servedContext: meta.n_ctx ?? props.default_generation_settings.n_ctx,
    trainedContext: meta.n_ctx_train,
    parameters: meta.n_params,
    quantization: label === undefined ? undefined : ggufFileTypeOfLlamaName(label),
    quantizationLabel: label,
    path: props.model_path,
    sizeBytes: meta.size,
    inputModalities
  };
}

/** llama.cpp's `llama_model_ftype_name` spellings that are not simply the file type's name. */
const LLAMA_FTYPE_NAMES: Readonly<Record<string, GgufFileType>> = {
  'all F32': 'F32',
  'MXFP4 MoE': 'MXFP4_MOE',
  'Q2_K - Medium': 'Q2_K',
  'IQ3_S mix': 'IQ3_M'
};

const K_QUANT = /^(Q[2-6]_K) - (Small|Medium|Large)$/;

/**
 * llama-server's name for a file type → the manifest's spelling: `Q4_K - Medium` → `Q4_K_M`,
 * `IQ2_XS - 2.3125 bpw` → `IQ2_XS`, `all F32` → `F32`; `undefined` for names with no GGUF spelling.
 */
export function ggufFileTypeOfLlamaName(name: string): GgufFileType | undefined {
  // " (guessed)": the file has no general.file_type and llama.cpp inferred it from the tensors.
  const plain = name.replace(/ \(guessed\)$/, '').replace(/ - [0-9.]+ bpw.*$/, '');
  if (isGgufFileType(plain)) return plain;
  const named = LLAMA_FTYPE_NAMES[plain];
  if (named !== undefined) return named;
  const kQuant = K_QUANT.exec(plain);
  if (kQuant?.[1] !== undefined && kQuant[2] !== undefined) {
    const candidate = `${kQuant[1]}_${kQuant[2].charAt(0)}`;
    return GGUF_FILE_TYPES.find((type) => type === candidate);
  }
  return undefined;
}
