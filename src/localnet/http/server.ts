import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { Principal } from '@dfinity/principal';

import { encodeCbor, safeDecodeCbor } from '../crypto/cbor.js';
import { handleCall, handleQuery, handleReadState, handleStatus, type EndpointDeps, type EndpointResult } from './endpoints.js';
import { CodedError } from '../../core/errors/coded-error.js';
import { errorResponse, type GatewayResponse } from './gateway/errors.js';
import { serveFromCanister, type GatewayDeps } from './gateway/handler.js';
import { resolveTarget, type TargetResult } from './gateway/target.js';

/** Requests above this size get 413 (agent-js does not chunk; icp chunks installs above 2 MB). */
export const MAX_REQUEST_BYTES = 12 * 1024 * 1024;

const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, OPTIONS',
  'access-control-allow-headers': 'Content-Type',
  'access-control-max-age': '86400'
};

const ROUTE = /^\/api\/v(2|3|4)\/(canister|subnet)\/([^/]+)\/(query|call|read_state)$/;

const HTTP_STATUS = { BadRequest: 400, NotFound: 404, MethodNotAllowed: 405, PayloadTooLarge: 413, Unavailable: 503 } as const;
export type HttpErrorCode = keyof typeof HTTP_STATUS;

/** A request the HTTP interface refuses; `status` is the HTTP status sent back with the message. */
export class HttpError extends CodedError<HttpErrorCode, { status: number }> {
  readonly status: number;

  constructor(code: HttpErrorCode, message: string) {
    const status = HTTP_STATUS[code];
    super(code, message, { details: { status } });
    this.name = 'HttpError';
    this.status = status;
  }
}

function readBody(request: IncomingMessage): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers['content-length'] ?? '0');
    if (declared > MAX_REQUEST_BYTES) {
      reject(new HttpError('PayloadTooLarge', `Request body of ${declared} bytes exceeds the limit of ${MAX_REQUEST_BYTES} bytes`));
      request.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_REQUEST_BYTES) {
        reject(new HttpError('PayloadTooLarge', `Request body exceeds the limit of ${MAX_REQUEST_BYTES} bytes`));
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(new Uint8Array(Buffer.concat(chunks))));
    request.on('error', reject);
  });
}

function send(response: ServerResponse, result: EndpointResult): void {
  if (result.status === 200) {
    const body = encodeCbor(result.body);
    response.writeHead(200, { ...CORS_HEADERS, 'content-type': 'application/cbor', 'content-length': body.length });
    response.end(body);
  } else if (result.status === 202) {
    response.writeHead(202, { ...CORS_HEADERS, 'content-length': 0 });
    response.end();
  } else {
    sendText(response, result.status, result.text);
  }
}

function sendText(response: ServerResponse, status: number, text: string): void {
  const body = Buffer.from(text);
  response.writeHead(status, { ...CORS_HEADERS, 'content-type': 'text/plain; charset=utf-8', 'content-length': body.length });
  response.end(body);
}

function parsePrincipal(text: string): Principal {
  try {
    return Principal.fromText(decodeURIComponent(text));
  } catch {
    throw new HttpError('BadRequest', `Invalid principal in URL: ${text}`);
  }
}

async function route(deps: EndpointDeps, request: IncomingMessage): Promise<EndpointResult> {
  const path = (request.url ?? '/').split('?')[0] ?? '/';
  if (deps.engine.halted !== undefined) {
    throw new HttpError('Unavailable', `The local network stopped because its state could not be saved: ${deps.engine.halted.message}`);
  }
  if (path === '/api/v2/status') {
    if (request.method !== 'GET') throw new HttpError('MethodNotAllowed', 'Use GET for /api/v2/status');
    return handleStatus(deps);
  }
  const match = ROUTE.exec(path);
  if (match === null) throw new HttpError('NotFound', `Not found: ${path}`);
  const [, versionText, scope, idText, kind] = match;
  const version = Number(versionText);
  if (request.method !== 'POST') throw new HttpError('MethodNotAllowed', `Use POST for ${path}`);
  // The spec's endpoint matrix: query v2/v3, call v2/v3/v4, read_state v2/v3, subnet only for read_state.
  const known = (kind === 'query' && version <= 3) || (kind === 'call' && scope === 'canister') || (kind === 'read_state' && version <= 3);
  if (!known || (scope === 'subnet' && kind !== 'read_state')) throw new HttpError('NotFound', `Not found: ${path}`);
  const id = parsePrincipal(idText ?? '');
  const body = await readBody(request);
  const decoded = safeDecodeCbor(body);
  if (!decoded.ok) throw new HttpError('BadRequest', `Could not parse body as CBOR: ${decoded.error.message}`);
  if (kind === 'query') return handleQuery(deps, id, decoded.value);
  if (kind === 'call') return handleCall(deps, id, decoded.value, version === 2 ? 2 : version === 3 ? 3 : 4);
  return scope === 'subnet' ? handleReadState(deps, undefined, id, decoded.value) : handleReadState(deps, id, undefined, decoded.value);
}

function sendGateway(response: ServerResponse, answer: GatewayResponse): void {
  const headers: string[] = [];
  for (const [name, value] of answer.headers) headers.push(name, value);
  headers.push('content-length', String(answer.body.length));
  // The handler refuses headers Node cannot send; a throw here must still not become an unhandled rejection.
  try {
    response.writeHead(answer.status, headers);
  } catch (error) {
    if (!response.headersSent)
      sendText(response, 502, `The canister's answer cannot be sent: ${error instanceof Error ? error.message : String(error)}`);
    return;
  }
  response.end(answer.body);
}

/** A browser request for a canister (`<id>.localhost`, `?canisterId=`): the HTTP gateway answers it. */
async function gateway(deps: EndpointDeps, target: NonNullable<TargetResult>, request: IncomingMessage): Promise<GatewayResponse> {
  if (!target.ok) return errorResponse('canister_id_incorrect', target.detail);
  if (deps.engine.halted !== undefined) return errorResponse('upstream_error', `The local network stopped: ${deps.engine.halted.message}`);
  let body: Uint8Array;
  try {
    body = await readBody(request);
  } catch (error) {
    if (error instanceof HttpError && error.code === 'PayloadTooLarge') return errorResponse('payload_too_large', error.message);
    throw error;
  }
  const headers: [string, string][] = [];
  for (let i = 0; i + 1 < request.rawHeaders.length; i += 2)
    headers.push([request.rawHeaders[i]!.toLowerCase(), request.rawHeaders[i + 1]!]);
  const gatewayDeps: GatewayDeps = { engine: deps.engine, rounds: deps.rounds, rootKeyDer: deps.keys.rootKeyDer };
  return serveFromCanister(gatewayDeps, target.target, { method: request.method ?? 'GET', url: request.url ?? '/', headers, body });
}

/**
 * The IC HTTP interface on loopback, and the HTTP gateway for browser requests to canisters on the same port.
 * Never throws to Node: every failure becomes an HTTP answer.
 */
export function createHttpServer(deps: EndpointDeps, onError: (error: unknown) => void): Server {
  return createServer((request, response) => {
    const target = resolveTarget(request.headers.host, request.url ?? '/');
    if (target !== undefined) {
      gateway(deps, target, request).then(
        (answer) => sendGateway(response, answer),
        (error: unknown) => {
          onError(error);
          sendText(response, 500, `Internal error: ${error instanceof Error ? error.message : String(error)}`);
        }
      );
      return;
    }
    if (request.method === 'OPTIONS') {
      response.writeHead(204, CORS_HEADERS);
      response.end();
      return;
    }
    route(deps, request).then(
      (result) => send(response, result),
      (error: unknown) => {
        if (error instanceof HttpError) {
          sendText(response, error.status, error.message);
        } else {
          onError(error);
          sendText(response, 500, `Internal error: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
    );
  });
}

export async function listen(server: Server, port: number, host = '127.0.0.1'): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return address.port;
}
