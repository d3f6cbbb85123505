/**
 * The request steps both engine adapters share: GET a path and stop the probe with the right result when the
 * engine is unreachable, answers another status, or sends a body of the wrong shape. Each adapter says only what
 * is its own: how its error bodies look, and which replies end the probe early (llama.cpp's 503 while loading).
 */
import type { z } from 'zod';

import { decodeJson, defaultFetch, statusIssue, tryGet, type HttpReply } from './http.js';
import { safeParsePrometheusText, type PrometheusSample } from './prometheus-text.js';
import {
  DEFAULT_PROBE_TIMEOUT_MS,
  type FetchLike,
  type ProbedEngine,
  type ProbeIssue,
  type ProbeOptions,
  type ProbeResult
} from './types.js';

/** A step of a probe: its value, or the result the whole probe ends with. */
export type Step<T> = { ok: true; value: T } | { ok: false; result: ProbeResult };

export interface ProbeHttp {
  fetch: FetchLike;
  timeoutMs: number;
}

export const probeHttp = (options: ProbeOptions): ProbeHttp => ({
  fetch: options.fetch ?? defaultFetch,
  timeoutMs: options.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS
});

export interface EngineReader {
  /** The reply to GET `path` when its status is 200. */
  get(path: string): Promise<Step<HttpReply>>;
  /** GET `path`, decoded with `schema`. */
  getJson<S extends z.ZodType>(path: string, schema: S): Promise<Step<z.infer<S>>>;
  /** The samples of a `/metrics` text. */
  metricsSamples(text: string): Step<PrometheusSample[]>;
  /** The probe result for an endpoint that answered in an unknown shape. */
  malformed(endpoint: string, issues: ProbeIssue[]): ProbeResult;
}

export interface EngineDialect {
  engine: ProbedEngine;
  /** The message of an error body in the engine's format, if the body is one. */
  errorMessage(body: string): string | undefined;
  /** A reply that ends the probe before its status is checked (e.g. "loading", "engine dead"). */
  endsProbe?(reply: HttpReply, path: string): ProbeResult | undefined;
}

export function engineReader(baseUrl: string, http: ProbeHttp, dialect: EngineDialect): EngineReader {
  const { engine } = dialect;
  const malformed = (endpoint: string, issues: ProbeIssue[]): ProbeResult => ({ status: 'malformed', engine, endpoint, issues });
  const get = async (path: string): Promise<Step<HttpReply>> => {
    const outcome = await tryGet(baseUrl, path, http);
    if (!outcome.ok) return { ok: false, result: { status: 'unreachable', engine, error: outcome.error } };
    const reply = outcome.reply;
    const ended = dialect.endsProbe?.(reply, path);
    if (ended !== undefined) return { ok: false, result: ended };
    if (reply.status !== 200) return { ok: false, result: malformed(path, [statusIssue(reply, dialect.errorMessage(reply.body))]) };
    return { ok: true, value: reply };
  };
  return {
    get,
    malformed,
    async getJson(path, schema) {
      const reply = await get(path);
      if (!reply.ok) return reply;
      const decoded = decodeJson(reply.value.body, schema);
      return decoded.ok ? decoded : { ok: false, result: malformed(path, decoded.issues) };
    },
    metricsSamples(text) {
      const parsed = safeParsePrometheusText(text);
      if (parsed.ok) return { ok: true, value: parsed.samples };
      return {
        ok: false,
        result: malformed(
          '/metrics',
          parsed.issues.map((issue) => ({ path: `line ${issue.line}`, message: issue.message }))
        )
      };
    }
  };
}
