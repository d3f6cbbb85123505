/**
 * The one interface every inference-engine adapter implements. A probe reports what the engine
 * itself says about its state, models and load — measured facts the runner may register, never the
 * operator's claims. `probe()` does not throw: every way an engine can fail to answer is a variant.
 */
import type { GgufFileType, ManifestIssue } from '../../core/manifest/index.js';
import type { RunnerError } from '../errors.js';

export type ProbedEngine = 'llama.cpp' | 'vllm';

/** `fetch` as the probes use it; tests inject their own. */
export type FetchLike = (url: string, init: { signal: AbortSignal }) => Promise<Response>;

export interface ProbeOptions {
  /** Base URL of the engine's HTTP server, e.g. `http://127.0.0.1:8080` (no trailing path). */
  baseUrl: string;
  fetch?: FetchLike;
  /** Limit for each request, from sending it to the last byte of the body. */
  timeoutMs?: number;
}

export const DEFAULT_PROBE_TIMEOUT_MS = 5_000;

/** A model as the engine serves it. */
export interface ServedModel {
  /** The id clients put in `model`: llama.cpp's `--alias` (else the `-m` path), vLLM's served name. */
  id: string;
  /** Longest prompt + completion of one request, in tokens (llama.cpp: per-slot `n_ctx`; vLLM: `max_model_len`). */
  servedContext: number;
  /** Context the weights were trained for (llama.cpp `meta.n_ctx_train`). */
  trainedContext?: number;
  /** Total parameters as the engine counted them (llama.cpp `meta.n_params`). */
  parameters?: number;
  /** GGUF file type in the manifest's spelling (`Q8_0`, `Q4_K_M`); absent when the engine's name has no such spelling. */
  quantization?: GgufFileType;
  /** The engine's own name for the file type, e.g. `Q4_K - Medium` or `all F32`. */
  quantizationLabel?: string;
  /** Weights path or name the engine loaded (llama.cpp `model_path`, vLLM `root`). */
  path?: string;
  /** vLLM `max_model_len`. */
  maxModelLen?: number;
  /** Base model of a LoRA adapter (vLLM `parent`). */
  parent?: string;
  /** Size of the weights in bytes (llama.cpp `meta.size`). */
  sizeBytes?: number;
  /** Input modalities the server has a projector for, besides text (llama.cpp `/props.modalities`). */
  inputModalities?: Array<'text' | 'image' | 'audio'>;
}

export interface EngineLoad {
  requestsRunning: number;
  requestsWaiting: number;
  /** KV-cache usage in [0, 1] (vLLM). */
  kvCacheUsage?: number;
  /** Counters since the engine started. */
  tokensPredictedTotal?: number;
  promptTokensTotal?: number;
}

export interface ReadyProbe {
  status: 'ready';
  engine: ProbedEngine;
  /** `b1-80fb11a` (llama.cpp `build_info`), `0.11.0` (vLLM `/version`). */
  engineVersion: string;
  models: ServedModel[];
  /** Concurrent request slots (llama.cpp `total_slots`); vLLM schedules without fixed slots and reports none. */
  slots?: { total: number; busy: number };
  load: EngineLoad;
}

/** What went wrong in a response: where (`data[0].meta.n_ctx`) and what was expected. */
export type ProbeIssue = ManifestIssue;

export type ProbeResult =
  | ReadyProbe
  /** llama.cpp answers `/health` with 503 while it loads the model. */
  | { status: 'loading'; engine: ProbedEngine }
  | { status: 'unreachable'; engine: ProbedEngine; error: RunnerError }
  /** The engine answered, but not in the shape this adapter knows; `endpoint` is the path, e.g. `/props`. */
  | { status: 'malformed'; engine: ProbedEngine; endpoint: string; issues: ProbeIssue[] };

export interface EngineProbe {
  readonly engine: ProbedEngine;
  probe(): Promise<ProbeResult>;
}
