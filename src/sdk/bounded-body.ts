/**
 * Reading a peer's HTTP body without trusting its size: a runner (or anyone behind an endpoint) may answer an endless
 * body, and `response.text()` buffers all of it before any bound can be checked.
 */

/** What is kept of an error body (its message is all that is read). */
export const ERROR_BODY_MAX_BYTES = 64 * 1024;
/** The largest non-streamed answer read (an OpenAI completion of any sensible `max_tokens` is far smaller). */
export const ANSWER_BODY_MAX_BYTES = 64 * 1024 * 1024;

/**
 * A body as it arrives: a web ReadableStream (fetch's Response, in browsers and Node) or any async iterable of bytes
 * or text (a Node IncomingMessage, as src/inference/http-post.ts answers with: no web-stream work per chunk).
 */
export type BodySource = ReadableStream<Uint8Array> | AsyncIterable<Uint8Array | string>;

/**
 * What the SDK reads of an HTTP answer: a fetch Response has this shape, and so has src/inference/http-post.ts's
 * answer (Node's own HTTP client, several times cheaper per request and per chunk than fetch).
 */
export interface HttpAnswer {
  ok: boolean;
  status: number;
  headers: { get(name: string): string | null };
  body: BodySource | null;
}

/** A POST (or GET) as the SDK sends it: `fetch` is one (HttpPost accepts it as is). */
export type HttpPost = (
  url: URL,
  init: { method: string; headers: Record<string, string>; body?: string; signal?: AbortSignal }
) => Promise<HttpAnswer>;

const isWebStream = (body: BodySource): body is ReadableStream<Uint8Array> =>
  typeof (body as ReadableStream<Uint8Array>).getReader === 'function';

/**
 * What a reader of pieces says after each: go on (true or nothing), `stop` (nothing more is wanted: the body is
 * cancelled and its connection dropped) or `done` (the answer is complete, e.g. at an SSE `[DONE]`: a Node body's
 * remainder is drained quietly, at most DRAIN_MAX_BYTES within DRAIN_MAX_MS, so its kept-alive connection is reused;
 * a web stream is cancelled).
 */
export type PieceVerdict = boolean | void | 'stop' | 'done';

/** What is read after `done` before the connection is dropped instead (a peer padding its answer gains nothing). */
export const DRAIN_MAX_BYTES = 64 * 1024;
export const DRAIN_MAX_MS = 1_000;

/** The Node stream surface eachPiece uses (an IncomingMessage), so this module needs no Node types. */
interface NodeBody {
  on(event: 'data', listener: (piece: Uint8Array | string) => void): unknown;
  on(event: 'end' | 'close', listener: () => void): unknown;
  on(event: 'error', listener: (error: unknown) => void): unknown;
  off(event: string, listener: (...args: never[]) => void): unknown;
  destroy(error?: Error): unknown;
  readonly readableEnded?: boolean;
  readonly destroyed?: boolean;
}

const isNodeBody = (body: BodySource): body is BodySource & NodeBody =>
  typeof (body as Partial<NodeBody>).on === 'function' && typeof (body as Partial<NodeBody>).destroy === 'function';

/**
 * The pieces of `body` as they arrive, to `onPiece` (bytes, or text from a source that decodes), until the body ends
 * (resolves true) or `onPiece` says `stop`/`done`/false (resolves false; see PieceVerdict). Rejects as the read does
 * (an abort, a cut connection) or as `onPiece` throws, the body cancelled.
 */
export async function eachPiece(body: BodySource, onPiece: (piece: Uint8Array | string) => PieceVerdict): Promise<boolean> {
  const stops = (verdict: PieceVerdict): boolean => verdict === false || verdict === 'stop' || verdict === 'done';
  if (isWebStream(body)) {
    // The reader, not async iteration: Safari's ReadableStream has no async iterator.
    const reader = body.getReader();
    let ended = false;
    try {
      for (;;) {
        const next = await reader.read();
        if (next.done) return (ended = true);
        if (stops(onPiece(next.value))) return false;
      }
    } finally {
      if (!ended) await reader.cancel().catch(() => undefined);
    }
  }
  if (isNodeBody(body)) return eachNodePiece(body, onPiece);
  // Leaving the loop early returns the iterator, which ends the source.
  for await (const piece of body) if (stops(onPiece(piece))) return false;
  return true;
}

/** eachPiece on a Node stream, by its events (no async iterator, no promise per piece). */
function eachNodePiece(body: NodeBody, onPiece: (piece: Uint8Array | string) => PieceVerdict): Promise<boolean> {
  if (body.readableEnded === true) return Promise.resolve(true);
  // Destroyed before anyone read it (cut while unread): its events are gone, the read fails at once.
  if (body.destroyed === true) return Promise.reject(new Error('the body closed before its end'));
  return new Promise<boolean>((resolve, reject) => {
    const detach = (): void => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      body.off('close', onClose);
    };
    const onData = (piece: Uint8Array | string): void => {
      let verdict: PieceVerdict;
      try {
        verdict = onPiece(piece);
      } catch (error) {
        detach();
        body.destroy();
        reject(error);
        return;
      }
      if (verdict === true || verdict === undefined) return;
      detach();
      if (verdict === 'done') drainQuietly(body);
      else body.destroy();
      resolve(false);
    };
    const onEnd = (): void => {
      detach();
      resolve(true);
    };
    const onError = (error: unknown): void => {
      detach();
      reject(error);
    };
    // Destroyed without an end or an error (an abort): the read fails as a cut connection would.
    const onClose = (): void => {
      detach();
      reject(new Error('the body closed before its end'));
    };
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onError);
    body.on('close', onClose);
  });
}

/** Reads what follows a complete answer (a chunked body's last chunk), within bounds, so the connection is reused. */
function drainQuietly(body: NodeBody): void {
  let bytes = 0;
  const drop = (): void => void body.destroy();
  const timer = setTimeout(drop, DRAIN_MAX_MS);
  (timer as { unref?: () => void }).unref?.();
  body.on('data', (piece) => {
    bytes += typeof piece === 'string' ? piece.length : piece.byteLength;
    if (bytes > DRAIN_MAX_BYTES) drop();
  });
  body.on('error', () => undefined);
  body.on('close', () => clearTimeout(timer));
}

/**
 * `response`'s body as UTF-8 text, at most `maxBytes` of it: at the bound the body is cancelled (the connection
 * dropped, nothing more read) and `truncated` is true. An empty body is `''`. Rejects as the body's read does (an
 * abort, a cut connection).
 */
export async function readBodyText(response: { body: BodySource | null }, maxBytes: number): Promise<{ text: string; truncated: boolean }> {
  const body = response.body;
  if (body === null) return { text: '', truncated: false };
  const parts: Uint8Array[] = [];
  let size = 0;
  const encoder = new TextEncoder();
  const ended = await eachPiece(body, (piece) => {
    const bytes = typeof piece === 'string' ? encoder.encode(piece) : piece;
    const room = maxBytes - size;
    if (bytes.byteLength > room) {
      if (room > 0) parts.push(bytes.subarray(0, room));
      size += room;
      return 'stop';
    }
    parts.push(bytes);
    size += bytes.byteLength;
    return true;
  });
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.byteLength;
  }
  return { text: new TextDecoder().decode(bytes), truncated: !ended };
}
