/**
 * Reading a peer's HTTP body without trusting its size: a runner (or anyone behind an endpoint) may answer an endless
 * body, and `response.text()` buffers all of it before any bound can be checked.
 */

/** What is kept of an error body (its message is all that is read). */
export const ERROR_BODY_MAX_BYTES = 64 * 1024;
/** The largest non-streamed answer read (an OpenAI completion of any sensible `max_tokens` is far smaller). */
export const ANSWER_BODY_MAX_BYTES = 64 * 1024 * 1024;

/**
 * `response`'s body as UTF-8 text, at most `maxBytes` of it: at the bound the body is cancelled (the connection
 * dropped, nothing more read) and `truncated` is true. An empty body is `''`. Rejects as the body's read does (an
 * abort, a cut connection).
 */
export async function readBodyText(response: Response, maxBytes: number): Promise<{ text: string; truncated: boolean }> {
  const body = response.body;
  if (body === null) return { text: '', truncated: false };
  const reader = body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  let ended = false;
  try {
    for (;;) {
      const next = await reader.read();
      if (next.done) {
        ended = true;
        break;
      }
      const room = maxBytes - size;
      if (next.value.byteLength > room) {
        if (room > 0) parts.push(next.value.subarray(0, room));
        size += room;
        break;
      }
      parts.push(next.value);
      size += next.value.byteLength;
    }
  } finally {
    if (!ended) await reader.cancel().catch(() => undefined);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.byteLength;
  }
  return { text: new TextDecoder().decode(bytes), truncated: !ended };
}
