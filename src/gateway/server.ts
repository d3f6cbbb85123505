import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { Catalog, type GatewayRegistry } from './catalog.js';
import { serveCompletion, type CompletionDeps } from './completions.js';
import { directTransport } from './direct-transport.js';
import { GatewayError } from './errors.js';
import { readJsonBody, writeError, writeJson } from './http.js';
import type { ApiKeyView, KeyStore } from './keys.js';
import { Measurements } from './measurements.js';
import { RateLimiter } from './rate-limit.js';
import { ChatCompletionRequestSchema, CompletionRequestSchema } from './schemas.js';
import type { UpstreamPath, UpstreamTransport } from './transport.js';

export interface GatewayOptions {
  registry: GatewayRegistry;
  keys: KeyStore;
  /** How requests reach runners (default: unauthenticated, to their advertised endpoints). */
  transport?: UpstreamTransport;
  /** TCP port, 0 for a free one. */
  port: number;
  /** Address to listen on (default 127.0.0.1). */
  bind?: string;
  /** One runner's time to its first token before the next is tried (default 30 s). */
  attemptTimeoutMs?: number;
  /** One runner's time to its whole answer when not streamed, then the request fails without failover (default 10 min). */
  answerTimeoutMs?: number;
  log?: (event: string, fields: Record<string, unknown>) => void;
}

export interface RunningGateway {
  /** The OpenAI base URL, `http://127.0.0.1:<port>/v1`. */
  baseURL: string;
  port: number;
  /** Stops accepting requests, lets those in flight finish (at most `graceMs`), writes pending spend. */
  close(graceMs?: number): Promise<void>;
}

export const AFFINITY_HEADER = 'x-deai-affinity';
const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-headers': `authorization, content-type, ${AFFINITY_HEADER}`,
  'access-control-allow-methods': 'GET, POST, OPTIONS'
};
const COMPLETION_PATHS: Record<string, UpstreamPath> = {
  '/v1/chat/completions': '/v1/chat/completions',
  '/v1/completions': '/v1/completions'
};

/** `deai gateway`: an OpenAI-compatible HTTP API in front of the registry's live runners (README "Gateway"). */
export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const log = options.log ?? (() => undefined);
  const catalog = new Catalog(options.registry);
  const limiter = new RateLimiter();
  const attemptTimeoutMs = options.attemptTimeoutMs ?? 30_000;
  const deps: CompletionDeps = {
    catalog,
    transport: options.transport ?? directTransport(),
    keys: options.keys,
    measurements: new Measurements(),
    attemptTimeoutMs,
    // Counted from the attempt's start, so never shorter than the first token's wait plus as much again.
    answerTimeoutMs: Math.max(options.answerTimeoutMs ?? 600_000, 2 * attemptTimeoutMs),
    log
  };

  const authenticate = (request: IncomingMessage): ApiKeyView => {
    const header = request.headers.authorization ?? '';
    const presented = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    if (presented === undefined) throw new GatewayError('InvalidApiKey', 'Missing API key: send `Authorization: Bearer sk-deai-…`');
    const key = options.keys.authenticate(presented);
    if (key === undefined) throw new GatewayError('InvalidApiKey', 'Incorrect or revoked API key');
    const allowed = limiter.take(key.id, key.ratePerMinute);
    if (!allowed.ok)
      throw new GatewayError('RateLimited', `Rate limit of ${key.ratePerMinute} requests per minute reached for this key`, {
        details: { retryAfterSeconds: allowed.retryAfterSeconds }
      });
    // Requests in flight hold their worst case against the key; each one is checked again at its runner's prices.
    const heldE8s = options.keys.heldE8s(key.id);
    if (key.spentE8s + heldE8s >= key.limitE8s)
      throw new GatewayError(
        'InsufficientCredit',
        `This key has spent or holds its limit (${key.spentE8s} spent, ${heldE8s} held by requests in flight, of ${key.limitE8s} e8s)`
      );
    return key;
  };

  const handle = async (request: IncomingMessage, response: ServerResponse, signal: AbortSignal): Promise<void> => {
    const path = new URL(request.url ?? '/', 'http://gateway').pathname;
    for (const [name, value] of Object.entries(CORS)) response.setHeader(name, value);
    if (request.method === 'OPTIONS') return void response.writeHead(204).end();
    if (path === '/health') return writeJson(response, 200, { ok: true });
    if (path === '/v1/models' || path.startsWith('/v1/models/')) {
      if (request.method !== 'GET') throw new GatewayError('MethodNotAllowed', `${request.method} ${path} is not served`);
      const live = await catalog.liveModels();
      if (path === '/v1/models') return writeJson(response, 200, { object: 'list', data: live });
      const id = safeDecodeURIComponent(path.slice('/v1/models/'.length));
      if (id === undefined) throw new GatewayError('ModelNotFound', 'The model id is not a valid URL escape');
      const entry = live.find((e) => e.id === id);
      if (entry === undefined) throw new GatewayError('ModelNotFound', `The model ${id} does not exist or has no live runner`);
      return writeJson(response, 200, entry);
    }
    const upstreamPath = COMPLETION_PATHS[path];
    if (upstreamPath === undefined) throw new GatewayError('NotFound', `No route ${request.method} ${path}`);
    if (request.method !== 'POST') throw new GatewayError('MethodNotAllowed', `${request.method} ${path} is not served`);
    const key = authenticate(request);
    const schema = upstreamPath === '/v1/chat/completions' ? ChatCompletionRequestSchema : CompletionRequestSchema;
    const parsed = schema.safeParse(await readJsonBody(request));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const param = issue?.path.join('.') ?? '';
      throw new GatewayError('InvalidRequest', `Invalid body${param === '' ? '' : ` at ${param}`}: ${issue?.message ?? 'invalid'}`, {
        details: param === '' ? {} : { param }
      });
    }
    const header = request.headers[AFFINITY_HEADER];
    const affinityKey = (typeof header === 'string' && header.length > 0 ? header.slice(0, 256) : undefined) ?? parsed.data.user;
    await serveCompletion(deps, {
      path: upstreamPath,
      request: parsed.data,
      key,
      ...(affinityKey === undefined ? {} : { affinityKey }),
      response,
      signal
    });
  };

  const inFlight = new Set<Promise<void>>();
  const server: Server = createServer((request, response) => {
    const controller = new AbortController();
    response.once('close', () => {
      if (!response.writableFinished) controller.abort();
    });
    const done = handle(request, response, controller.signal)
      .catch((error: unknown) => {
        if (!(error instanceof GatewayError)) log('error', { error: error instanceof Error ? error.stack : String(error) });
        writeError(response, error);
      })
      .finally(() => inFlight.delete(done));
    inFlight.add(done);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.bind ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    baseURL: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${address.port}/v1`,
    port: address.port,
    async close(graceMs = 10_000) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await Promise.race([Promise.allSettled([...inFlight]), new Promise((resolve) => setTimeout(resolve, graceMs).unref())]);
      server.closeAllConnections();
      await closed;
      await options.keys.close();
    }
  };
}

/** `text` URL-decoded, or undefined when its escapes are malformed (decodeURIComponent throws a URIError). */
function safeDecodeURIComponent(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}
