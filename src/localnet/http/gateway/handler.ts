import { validateHeaderName, validateHeaderValue } from 'node:http';

import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';

import type { Response } from '../../execution/context.js';
import type { Engine } from '../../execution/engine.js';
import type { RoundCertifier } from '../round-certifier.js';
import { HttpRequest, HttpResponse, HttpUpdateRequest, parseStrategy, type HeaderField } from './candid.js';
import { errorResponse, rejectResponse, type GatewayResponse } from './errors.js';
import { readStream } from './streaming.js';
import type { GatewayTarget } from './target.js';
import { verifyResponse } from './verify.js';

export interface GatewayDeps {
  engine: Engine;
  rounds: RoundCertifier;
  rootKeyDer: Uint8Array;
  /** Wall clock for the certificate's freshness check (default Date.now). */
  nowNs?: () => bigint;
  /** How long an upgraded (update) request may take. */
  updateTimeoutMs?: number;
  /** Bound on streaming callbacks per response (default MAX_STREAMING_CALLBACKS). */
  maxStreamingCallbacks?: number;
}

export interface GatewayRequest {
  method: string;
  url: string;
  headers: HeaderField[];
  body: Uint8Array;
}

/** The certificate version this gateway asks for: the current one of the spec. */
const CERTIFICATE_VERSION = 2;
/** Headers the gateway frames itself; a canister's values would contradict the bytes actually sent. */
const FRAMING_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive']);

function decodeResponse(bytes: Uint8Array): HttpResponse | undefined {
  try {
    return IDL.decode([HttpResponse], bytes)[0] as unknown as HttpResponse;
  } catch {
    return undefined;
  }
}

/** The request as ic-http-gateway forwards it: `x-request-id` dropped, `identity` always an accepted encoding. */
function canisterRequest(request: GatewayRequest): HttpRequest {
  const headers = request.headers
    .filter(([name]) => name.toLowerCase() !== 'x-request-id')
    .map(([name, value]): HeaderField => {
      if (name.toLowerCase() !== 'accept-encoding') return [name, value];
      const encodings = value.split(',').map((s) => s.trim());
      return [name, encodings.some((e) => e.toLowerCase() === 'identity') ? encodings.join(', ') : [...encodings, 'identity'].join(', ')];
    });
  return { method: request.method, url: request.url, headers, body: request.body, certificate_version: [CERTIFICATE_VERSION] };
}

async function updateCall(deps: GatewayDeps, canisterId: Principal, request: HttpRequest): Promise<Response | undefined> {
  const { certificate_version: _, ...update } = request;
  const submitted = deps.engine.submitIngress({
    canisterId,
    effectiveCanisterId: canisterId,
    method: 'http_request_update',
    arg: new Uint8Array(IDL.encode([HttpUpdateRequest], [update])),
    sender: Principal.anonymous(),
    requestId: crypto.getRandomValues(new Uint8Array(32)),
    expiryNs: deps.engine.wallNow() + 240_000_000_000n
  });
  if ('reject' in submitted) return { kind: 'reject', reject: submitted.reject };
  const done = await deps.rounds.wait(submitted.record, deps.updateTimeoutMs ?? 60_000);
  const { reply, reject } = submitted.record;
  if (!done) return undefined;
  if (reject !== undefined) return { kind: 'reject', reject };
  return reply === undefined ? undefined : { kind: 'reply', bytes: reply };
}

/**
 * Serves one browser request from a canister as the HTTP gateway protocol spec and the boundary nodes do: the
 * `http_request` query, the update call when the canister asks for an upgrade, streaming callbacks, and response
 * verification of the (assembled, when streamed) response unless the `raw` domain skips it. Upgraded responses are not
 * verified, as ic-http-gateway does not verify them: they come from an update call that went through consensus.
 */
export async function serveFromCanister(deps: GatewayDeps, target: GatewayTarget, request: GatewayRequest): Promise<GatewayResponse> {
  const { canisterId } = target;
  const httpRequest = canisterRequest(request);
  const queried = deps.engine.query({
    canisterId,
    method: 'http_request',
    arg: new Uint8Array(IDL.encode([HttpRequest], [httpRequest])),
    sender: Principal.anonymous()
  });
  if (queried.kind === 'reject') return rejectResponse(queried.reject);
  let response = decodeResponse(queried.bytes);
  if (response === undefined) return errorResponse('upstream_error', 'The canister replied with something that is not an HttpResponse');
  const upgraded = response.upgrade[0] === true;
  if (upgraded) {
    const updated = await updateCall(deps, canisterId, httpRequest);
    if (updated === undefined) return errorResponse('upstream_error', 'http_request_update did not finish in time');
    if (updated.kind === 'reject') return rejectResponse(updated.reject);
    response = decodeResponse(updated.bytes);
    if (response === undefined)
      return errorResponse('upstream_error', 'http_request_update replied with something that is not an HttpResponse');
  }
  const declared = response.streaming_strategy[0];
  const strategy = declared === undefined ? undefined : parseStrategy(declared);
  if (declared !== undefined && strategy === undefined) return errorResponse('upstream_error', 'The streaming strategy is not a Callback');
  let body: Uint8Array = new Uint8Array(response.body);
  if (strategy !== undefined) {
    const streamed = await readStream(deps.engine, canisterId, body, strategy, deps.maxStreamingCallbacks);
    if (!streamed.ok) return streamed.response;
    body = streamed.body;
  }
  const status = response.status_code;
  // An interim status (1xx) is not a response: Node would send it as one and the browser would wait for the real one.
  if (status < 200 || status > 599) return errorResponse('upstream_error', `The canister answered the invalid status ${status}`);
  let headers = response.headers;
  const unsendable = headers.find(([name, value]) => !sendable(name, value));
  if (unsendable !== undefined)
    return errorResponse(
      'upstream_error',
      `The canister answered a header HTTP cannot carry (${JSON.stringify(unsendable[0].slice(0, 64))})`
    );
  // A streamed body is verified once assembled (all of it is read before anything is sent): its certificate covers
  // the whole body, so a streamed response is held to the same rule as every other response on a non-raw host.
  if (!target.raw && !upgraded) {
    const verified = verifyResponse({
      request: httpRequest,
      response: { statusCode: status, headers, body },
      canisterId,
      rootKeyDer: deps.rootKeyDer,
      nowNs: deps.nowNs?.() ?? BigInt(Date.now()) * 1_000_000n
    });
    if (!verified.ok) return errorResponse('response_verification_error', verified.message);
    // v2 with a certified response: only the certified headers pass (what the canister left out a node could add).
    if (verified.version >= 2 && verified.certified !== undefined) headers = verified.certified.headers;
    // v1 certifies neither status nor headers: a node could redirect or set caching.
    if (verified.version < 2 && status >= 300 && status < 400)
      return errorResponse('response_verification_error', 'Response verification v1 does not allow redirects');
  }
  return { status, headers: headers.filter(([name]) => !FRAMING_HEADERS.has(name.toLowerCase())), body };
}

/** Whether Node can send this header: a token name and a value without CR, LF or NUL (writeHead throws otherwise). */
function sendable(name: string, value: string): boolean {
  try {
    validateHeaderName(name);
    validateHeaderValue(name, value);
    return true;
  } catch {
    return false;
  }
}
