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
 * Connections are kept alive per origin. A request whose kept-alive socket turns out closed by the server (it closed
 * it idle just as it was reused: ECONNRESET or EPIPE before any answer) is sent once more on a fresh connection, as
 * fetch does: the server read none of it. A request asking `connection: close` (llama-server closes after every
 * streamed answer) never returns its socket to the pool.
 */
const agents = {
  'http:': new Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64 }),
  'https:': new HttpsAgent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64 })
};

/** Socket errors of a kept-alive connection the server had closed as it was reused. */
const STALE_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

export type HttpPostErrorCode = 'ConnectionFailed' | 'UnsupportedProtocol';

/** A request that got no answer; `details.errno` is the socket's error code (ECONNREFUSED, ECONNRESET…) when known. */
export class HttpPostError extends CodedError<HttpPostErrorCode, { errno: string | undefined }> {}

const failed = (url: URL, error: NodeJS.ErrnoException): HttpPostError =>
  new HttpPostError('ConnectionFailed', `${url.origin}: ${error.message}`, {
    cause: error,
    retryable: true,
    details: { errno: error.code }
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

function once(url: URL, init: Parameters<HttpPost>[1]): Promise<{ answer: HttpAnswer } | { stale: unknown }> {
  const protocol = url.protocol === 'https:' ? 'https:' : url.protocol === 'http:' ? 'http:' : undefined;
  if (protocol === undefined)
    return Promise.reject(
      new HttpPostError('UnsupportedProtocol', `unsupported protocol ${url.protocol}`, { details: { errno: undefined } })
    );
  const body = init.body === undefined ? undefined : Buffer.from(init.body, 'utf8');
  const headers: Record<string, string> = { ...init.headers };
  if (body !== undefined) headers['content-length'] = String(body.byteLength);
  return new Promise((resolve, reject) => {
    let req: ClientRequest;
    const options = { method: init.method, headers, agent: agents[protocol], ...(init.signal ? { signal: init.signal } : {}) };
    try {
      req = (protocol === 'https:' ? httpsRequest : httpRequest)(url, options, (res) => {
        // A body no one reads yet (or any more) may still fail (a cut connection): its reader sees that, not the process.
        res.on('error', () => undefined);
        resolve({ answer: answerOf(res) });
      });
    } catch (error) {
      reject(failed(url, error as NodeJS.ErrnoException));
      return;
    }
    // Every error, not once: a socket failing after the answer began reports to the request as well (then ignored here:
    // the body's reads surface it).
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (req.reusedSocket && error.code !== undefined && STALE_CODES.has(error.code) && init.signal?.aborted !== true)
        resolve({ stale: error });
      else reject(error.name === 'AbortError' ? error : failed(url, error));
    });
    req.end(body);
  });
}

/** POSTs (or GETs) `init.body` to `url` with Node's HTTP client; see the module comment. */
export const httpPost: HttpPost = async (url, init) => {
  const first = await once(url, init);
  if ('answer' in first) return first.answer;
  const second = await once(url, init);
  if ('answer' in second) return second.answer;
  throw failed(url, second.stale as NodeJS.ErrnoException);
};
