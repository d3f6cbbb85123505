/**
 * The HTTP plumbing both engine adapters share: one GET with a deadline that covers the body too,
 * and schema-first decoding of the reply. Nothing here knows an engine.
 */
import type { z } from 'zod';
import { manifestErrorMap, toManifestIssues } from '../../core/manifest/index.js';
import { describeError, RunnerError } from '../errors.js';
import type { FetchLike, ProbeIssue } from './types.js';

export interface HttpReply {
  status: number;
  body: string;
}

export type HttpOutcome = { ok: true; reply: HttpReply } | { ok: false; error: RunnerError };

export type Decoded<T> = { ok: true; value: T } | { ok: false; issues: ProbeIssue[] };

/** `fetch` itself, looked up when called, so that a test that replaces globalThis.fetch is honoured. */
export const defaultFetch: FetchLike = (url, init) => fetch(url, init);

/**
 * GETs `baseUrl + path`; never throws. The signal aborts both the headers and the body read, so a
 * server that stalls mid-body times out instead of hanging the probe.
 */
export async function tryGet(baseUrl: string, path: string, options: { fetch: FetchLike; timeoutMs: number }): Promise<HttpOutcome> {
  const url = `${baseUrl.replace(/\/+$/, '')}${path}`;
  try {
    const response = await options.fetch(url, { signal: AbortSignal.timeout(options.timeoutMs) });
    const body = await response.text();
    return { ok: true, reply: { status: response.status, body } };
  } catch (error) {
    if (isTimeout(error)) {
      return {
        ok: false,
        error: new RunnerError('EngineTimeout', `GET ${url}: no complete answer within ${options.timeoutMs} ms`, {
          cause: error
        })
      };
    }
    return {
      ok: false,
      error: new RunnerError('EngineUnreachable', `GET ${url}: ${describeCause(error)}`, { cause: error })
    };
  }
}

function isTimeout(error: unknown): boolean {
  return error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
}

/** undici says only "fetch failed"; the useful part (ECONNREFUSED, "other side closed") is in `cause`. */
function describeCause(error: unknown): string {
  const message = describeError(error);
  if (error instanceof Error && error.cause !== undefined) return `${message} (${describeError(error.cause)})`;
  return message;
}

/** Parses `body` as JSON, then with `schema`; the issues name the path inside the document. */
export function decodeJson<S extends z.ZodType>(body: string, schema: S): Decoded<z.infer<S>> {
  let document: unknown;
  try {
    document = JSON.parse(body);
  } catch (error) {
    return { ok: false, issues: [{ path: '', message: `expected a JSON document, got invalid JSON (${describeError(error)})` }] };
  }
  return decodeValue(document, schema);
}

/** Validates an already-built value (e.g. the samples taken from a metrics text) with `schema`. */
export function decodeValue<S extends z.ZodType>(value: unknown, schema: S): Decoded<z.infer<S>> {
  const parsed = schema.safeParse(value, { error: manifestErrorMap, reportInput: true });
  if (parsed.success) return { ok: true, value: parsed.data };
  return { ok: false, issues: toManifestIssues(parsed.error.issues) };
}

/** The issue for an unexpected status, quoting the engine's error message when it sent one. */
export function statusIssue(reply: HttpReply, errorMessage: string | undefined): ProbeIssue {
  const detail = errorMessage === undefined ? '' : `: ${errorMessage}`;
  return { path: '', message: `expected HTTP 200, got ${reply.status}${detail}` };
}
