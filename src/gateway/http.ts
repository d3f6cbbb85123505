import type { IncomingMessage, ServerResponse } from 'node:http';

import { GatewayError, openAiError } from './errors.js';

/** Bodies beyond this are refused (413) before being read further. */
export const MAX_BODY_BYTES = 8 * 1024 * 1024;

/** The request body as JSON; GatewayError BodyTooLarge / InvalidRequest. */
export async function readJsonBody(request: IncomingMessage, maxBytes = MAX_BODY_BYTES): Promise<unknown> {
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > maxBytes) throw new GatewayError('BodyTooLarge', `The body is larger than ${maxBytes} bytes`);
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > maxBytes) throw new GatewayError('BodyTooLarge', `The body is larger than ${maxBytes} bytes`);
    parts.push(buffer);
  }
  try {
    return JSON.parse(Buffer.concat(parts).toString('utf8'));
  } catch (error) {
    throw new GatewayError('InvalidRequest', 'The body is not valid JSON', { cause: error });
  }
}

export function writeJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

/** Writes an OpenAI error answer, unless the answer has already begun (then the connection is ended). */
export function writeError(response: ServerResponse, error: unknown): void {
  if (response.headersSent) {
    response.end();
    return;
  }
  const { status, body, retryAfterSeconds } = openAiError(error);
  writeJson(response, status, body, retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) });
}

/** One SSE event, waiting for the socket to drain when the client reads slower than the runner writes. */
export function writeSse(response: ServerResponse, data: unknown): Promise<void> {
  return writeSseData(response, JSON.stringify(data));
}

/** One SSE event of `data` (JSON text already), as writeSse. */
export async function writeSseData(response: ServerResponse, data: string): Promise<void> {
  if (response.destroyed) throw new Error('the client went away');
  if (!response.write(`data: ${data}\n\n`)) {
    await new Promise<void>((resolve) => {
      const done = (): void => {
        response.off('drain', done);
        response.off('close', done);
        resolve();
      };
      response.once('drain', done);
      response.once('close', done);
    });
  }
}
