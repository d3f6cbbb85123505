/** How the payer reads runners' answers: bounded side calls, OpenAI error bodies, and metered SSE streams. */
import { createParser, type EventSourceMessage } from 'eventsource-parser';

import { eachPiece, type BodySource } from '../bounded-body.js';

/** The runner's listing of a line's unreceipted charges (at most 256 are read) and its held receipt. */
export const CHARGES_BODY_MAX_BYTES = 4 * 1024 * 1024;

export const toBytes = (b: ArrayBuffer | Uint8Array): Uint8Array => (b instanceof Uint8Array ? b : new Uint8Array(b));

/**
 * How long the payer waits for a runner's answer to a call of its own (the charges a request needs checked first, a
 * receipt handed over): a runner that never answers one fails it, rather than holding every later request to it.
 */
export const SIDE_CALL_TIMEOUT_MS = 30_000;

/** `signal` (the request's, when the call is made for one) ending at the latest after `ms`. */
export function bounded(signal: AbortSignal | undefined, ms: number): AbortSignal {
  const timeout = AbortSignal.timeout(ms);
  if (signal === undefined) return timeout;
  // AbortSignal.any: Node 20.3+, and browsers since 2023-24; where absent, the timeout alone bounds the call.
  const any = (AbortSignal as { any?: (signals: AbortSignal[]) => AbortSignal }).any;
  return typeof any === 'function' ? any.call(AbortSignal, [signal, timeout]) : timeout;
}

export function errorOf(text: string, status: number): { message: string; type?: string; code?: string } {
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown; type?: unknown; code?: unknown } };
    const e = parsed.error;
    if (e !== undefined && typeof e.message === 'string')
      return {
        message: e.message,
        ...(typeof e.type === 'string' ? { type: e.type } : {}),
        ...(typeof e.code === 'string' ? { code: e.code } : {})
      };
  } catch {
    // not JSON: the text is the message
  }
  return { message: text.slice(0, 200) || `HTTP ${status}` };
}

/**
 * Reads an SSE stream, passing each JSON chunk on (with its data), and `onDone` at `[DONE]`; true when it came. The
 * answer ends at `[DONE]` (the gateway shows nothing after it): later events are not passed on, so they can neither be
 * shown nor raise the output-token bound a charge is checked against, and the rest of the body is not read.
 */
export async function readStream(
  body: BodySource,
  onChunk: (chunk: Record<string, unknown>, data: string) => void,
  onDone: () => void
): Promise<boolean> {
  let done = false;
  const parser = createParser({
    maxBufferSize: 1024 * 1024,
    onEvent(event: EventSourceMessage) {
      if (done) return;
      if (event.data === '[DONE]') {
        done = true;
        onDone();
        return;
      }
      let chunk: unknown;
      try {
        chunk = JSON.parse(event.data);
      } catch {
        return; // a malformed event carries nothing to count or pay
      }
      if (typeof chunk !== 'object' || chunk === null) return;
      try {
        onChunk(chunk as Record<string, unknown>, event.data);
      } catch {
        // as before: a consumer's failure does not stop the count or the receipt
      }
    }
  });
  const decoder = new TextDecoder();
  // A runner that keeps the stream open (or padded) after [DONE] neither holds the request nor adds to it: the body is
  // cancelled there.
  await eachPiece(body, (piece) => {
    parser.feed(typeof piece === 'string' ? piece : decoder.decode(piece, { stream: true }));
    return done ? 'done' : true;
  });
  return done;
}
