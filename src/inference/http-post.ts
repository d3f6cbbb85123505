import { Agent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

import { CodedError } from '../core/errors/coded-error.js';
import type { HttpAnswer, HttpPost } from '../sdk/bounded-body.js';

/**
 * Node's own HTTP client behind the SDK's HttpPost shape, for the hot hops of the paid path: the runner to its engine
 * and the gateway's payer to runners. fetch (undici) costs several times more CPU per request and per streamed chunk
 * (its Request, Headers and Response objects, web streams, an error object with a formatted stack for every
 * `connection: close` answer), and on the two cores a runner or gateway shares with llama-server that CPU is taken from
 * inference. The answer's body is the IncomingMessage itself: chunks are read as they arrive, with no web stream.
 *
 * - Connections are kept alive per origin; an idle one is closed after IDLE_SOCKET_MS, or sooner when the server's
 *   `Keep-Alive: timeout` says so, so it is rarely reused just as the server closes it. Nothing is sent twice: a
 *   request whose reused connection was reset before any answer fails (`details.reused`), as with fetch, and the
 *   caller decides (a signed request's nonce must not go out twice).
 * - A request whose connection is silent for INACTIVITY_TIMEOUT_MS (no answer, or no more of its body) fails, as
 *   fetch's 300 s headers and body timeouts did. `init.signal` ends it sooner.
 * - A request asking `connection: close` (llama-server closes after every streamed answer) never returns its socket
 *   to the pool.
 */
export const IDLE_SOCKET_MS = 4_000;
export const INACTIVITY_TIMEOUT_MS = 300_000;

// `timeout` is the idle time of pooled sockets (Node takes the server's keep-alive hint when shorter); a request in
// flight sets its own (INACTIVITY_TIMEOUT_MS).
const agentOptions = { keepAlive: true, maxSockets: 256, maxFreeSockets: 64, timeout: IDLE_SOCKET_MS };
const agents = { 'http:': new Agent(agentOptions), 'https:': new HttpsAgent(agentOptions) };

export type HttpPostErrorCode = 'ConnectionFailed' | 'UnsupportedProtocol';

/**
 * A request that got no answer. `details.errno` is the socket's error code (ECONNREFUSED, ECONNRESET, ETIMEDOUT…) when
 * known; `details.reused` whether the connection had served an earlier request (a reset one was likely closed by the
 * server as it sat idle, before it read this request).
 */
export class HttpPostError extends CodedError<HttpPostErrorCode, { errno: string | undefined; reused: boolean }> {}

const failed = (url: URL, error: NodeJS.ErrnoException, reused: boolean): HttpPostError =>
  new HttpPostError('ConnectionFailed', `${url.origin}: ${error.message}`, {
    cause: error,
    retryable: true,
    details: { errno: error.code, reused }
  });

function answerOf(res: IncomingMessage): HttpAnswer & { body: IncomingMessage } {
  const status = res.statusCode ?? 0;
  return {
    ok: status >= 200 && status < 300,
    status,
    headers: {
      get: (name) => {
        const value = res.headers[name.toLowerCase()];
        return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
      }
    },
    body: res
  };
}

/** An HttpPost on Node's HTTP client (see the module comment); `inactivityTimeoutMs` for tests. */
export const createHttpPost =
  (options: { inactivityTimeoutMs?: number } = {}): HttpPost =>
  (url, init) => {
    const silenceMs = options.inactivityTimeoutMs ?? INACTIVITY_TIMEOUT_MS;
    const protocol = url.protocol === 'https:' ? 'https:' : url.protocol === 'http:' ? 'http:' : undefined;
    if (protocol === undefined)
      return Promise.reject(
        new HttpPostError('UnsupportedProtocol', `unsupported protocol ${url.protocol}`, { details: { errno: undefined, reused: false } })
      );
    const body = init.body === undefined ? undefined : Buffer.from(init.body, 'utf8');
    const headers: Record<string, string> = { ...init.headers };
    if (body !== undefined) headers['content-length'] = String(body.byteLength);
    return new Promise<HttpAnswer>((resolve, reject) => {
      let req: ClientRequest;
      const requestOptions = { method: init.method, headers, agent: agents[protocol], ...(init.signal ? { signal: init.signal } : {}) };
      try {
        req = (protocol === 'https:' ? httpsRequest : httpRequest)(url, requestOptions, (res) => {
          // A body no one reads yet (or any more) may still fail (a cut connection): its reader sees that, not the process.
          res.on('error', () => undefined);
          resolve(answerOf(res));
        });
      } catch (error) {
        reject(failed(url, error as NodeJS.ErrnoException, false));
        return;
      }
      // Silence on the connection (no answer, or no more of its body) for this long ends the request and its body.
      req.setTimeout(silenceMs, () => {
        const error: NodeJS.ErrnoException = new Error(`no data for ${silenceMs} ms`);
        error.code = 'ETIMEDOUT';
        req.destroy(error);
      });
      // Every error, not once: a socket failing after the answer began reports to the request as well (then ignored here:
      // the body's reads surface it).
      req.on('error', (error: NodeJS.ErrnoException) => {
        reject(error.name === 'AbortError' ? error : failed(url, error, req.reusedSocket));
      });
      req.end(body);
    });
  };

/** POSTs (or GETs) `init.body` to `url` with Node's HTTP client; see the module comment. */
export const httpPost: HttpPost = createHttpPost();
