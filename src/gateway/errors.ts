import { CodedError } from '../core/errors/coded-error.js';

/**
 * What the gateway answers a client that it cannot serve, each with its HTTP status and OpenAI error `type` (the
 * body is OpenAI's `{"error":{"message","type","param","code"}}`, so OpenAI clients raise their typed errors).
 */
export type GatewayErrorCode =
  /** The body is not JSON or does not match the endpoint's schema (400). */
  | 'InvalidRequest'
  /** The body is larger than the gateway reads (413). */
  | 'BodyTooLarge'
  /** No API key, or one the gateway does not know or has revoked (401). */
  | 'InvalidApiKey'
  /** The key has spent its limit (402). */
  | 'InsufficientCredit'
  /** No published model card has this id (404). */
  | 'ModelNotFound'
  /** Neither a route nor a method the gateway serves (404 / 405). */
  | 'NotFound'
  | 'MethodNotAllowed'
  /** The key sent more requests than its rate allows (429). */
  | 'RateLimited'
  /** No live runner with an endpoint matches the model and the routing constraints (503). */
  | 'NoRunner'
  /** Every runner tried failed before its first token (502). */
  | 'UpstreamFailed'
  /** The runner refused the request itself (its 4xx, such as a context overflow), passed on (400). */
  | 'UpstreamRejected'
  /** The registry could not be read (503). */
  | 'RegistryUnavailable';

interface Shape {
  status: number;
  type: string;
  code: string;
}

const SHAPES: Record<GatewayErrorCode, Shape> = {
  InvalidRequest: { status: 400, type: 'invalid_request_error', code: 'invalid_request' },
  BodyTooLarge: { status: 413, type: 'invalid_request_error', code: 'body_too_large' },
  InvalidApiKey: { status: 401, type: 'authentication_error', code: 'invalid_api_key' },
  InsufficientCredit: { status: 402, type: 'insufficient_quota', code: 'insufficient_credit' },
  ModelNotFound: { status: 404, type: 'invalid_request_error', code: 'model_not_found' },
  NotFound: { status: 404, type: 'invalid_request_error', code: 'not_found' },
  MethodNotAllowed: { status: 405, type: 'invalid_request_error', code: 'method_not_allowed' },
  RateLimited: { status: 429, type: 'rate_limit_error', code: 'rate_limit_exceeded' },
  NoRunner: { status: 503, type: 'service_unavailable_error', code: 'no_runner' },
  UpstreamFailed: { status: 502, type: 'upstream_error', code: 'upstream_failed' },
  UpstreamRejected: { status: 400, type: 'invalid_request_error', code: 'upstream_rejected' },
  RegistryUnavailable: { status: 503, type: 'service_unavailable_error', code: 'registry_unavailable' }
};

const RETRYABLE: ReadonlySet<GatewayErrorCode> = new Set(['RateLimited', 'NoRunner', 'UpstreamFailed', 'RegistryUnavailable']);

export interface GatewayErrorDetails {
  /** The request field at fault (OpenAI's `param`), e.g. `messages.0.role`. */
  param?: string;
  /** Seconds before a retry can succeed (429: the `retry-after` header). */
  retryAfterSeconds?: number;
}

export class GatewayError extends CodedError<GatewayErrorCode, GatewayErrorDetails> {
  constructor(code: GatewayErrorCode, message: string, options?: { cause?: unknown; details?: GatewayErrorDetails }) {
    super(code, message, { ...options, retryable: RETRYABLE.has(code), details: options?.details ?? {} });
    this.name = 'GatewayError';
  }

  get status(): number {
    return SHAPES[this.code].status;
  }
}

export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string };
}

/** The status and OpenAI error body for `error` (anything not a GatewayError is a 500 whose message is not leaked). */
export function openAiError(error: unknown): { status: number; body: OpenAiErrorBody; retryAfterSeconds?: number } {
  if (!(error instanceof GatewayError)) {
    return { status: 500, body: { error: { message: 'internal gateway error', type: 'server_error', param: null, code: 'internal' } } };
  }
  const shape = SHAPES[error.code];
  return {
    status: shape.status,
    body: { error: { message: error.message, type: shape.type, param: error.details.param ?? null, code: shape.code } },
    ...(error.details.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: error.details.retryAfterSeconds })
  };
}
