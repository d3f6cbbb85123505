import type { ServerResponse } from 'node:http';

import { z } from 'zod';

import { HttpPostError } from '../../inference/http-post.js';
import { eachPiece, type BodySource } from '../../sdk/bounded-body.js';

/**
 * The engine call behind a metered request: the body as the engine needs it (its own model id, `max_tokens` set
 * to what was priced, usage requested on streams), and the usage it reports. Plain answers are read whole; streams
 * are relayed as the engine sent them, replacing only the usage chunk, which carries the charge.
 */

const Usage = z.object({ prompt_tokens: z.number().int().nonnegative(), completion_tokens: z.number().int().nonnegative() });
const WithUsage = z.object({ usage: Usage.nullish() }).passthrough();

export interface EngineUsage {
  inputTokens: bigint;
  outputTokens: bigint;
}

/** Whether the client itself asked for the usage chunk (else the runner strips `usage` from it). */
export const clientWantsUsage = (body: Record<string, unknown>): boolean =>
  typeof body.stream_options === 'object' &&
  body.stream_options !== null &&
  (body.stream_options as Record<string, unknown>).include_usage === true;

export function usageOf(json: unknown): EngineUsage | undefined {
  const parsed = WithUsage.safeParse(json);
  const usage = parsed.success ? parsed.data.usage : undefined;
  return usage ? { inputTokens: BigInt(usage.prompt_tokens), outputTokens: BigInt(usage.completion_tokens) } : undefined;
}

/**
 * After a stream's first content, the runner's writes to the payer wait up to this long to share one write: a small
 * model makes a token every few hundred microseconds, and a write per token wakes the payer (a gateway and its client
 * too) for each, taking CPU the engine generates with when they share cores (bench:gateway). 5 ms is below what a
 * reader can see (a 60 Hz frame is 16.7 ms); the first content and the end of the answer (usage, [DONE]) go out at once.
 */
export const STREAM_FLUSH_MS = 5;
/** …or until this much is waiting. */
const FLUSH_MAX_CHARS = 16 * 1024;

/** Far above any real chunk: an engine line beyond it is refused rather than held in memory. */
const MAX_EVENT_CHARS = 1024 * 1024;

/** Whether an SSE event's data may carry a usage object (`"usage":null`, sent on every chunk by some engines, does not). */
const mayCarryUsage = (data: string): boolean => data.includes('"usage"') && data.replaceAll('"usage":null', '').includes('"usage"');

/** How many content or text deltas a run of events holds (what a broken stream is charged by, one token each). */
function countContent(text: string): number {
  let count = 0;
  for (const needle of ['"content":"', '"text":"'])
    for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + needle.length)) count++;
  return count;
}

/** The SSE events of `text`, each with its own separator, exactly as sent (the last one may have none). */
function eventsOf(text: string): string[] {
  const events: string[] = [];
  const separator = /\r?\n\r?\n/g;
  let start = 0;
  for (let match = separator.exec(text); match !== null; match = separator.exec(text)) {
    events.push(text.slice(start, separator.lastIndex));
    start = separator.lastIndex;
  }
  if (start < text.length) events.push(text.slice(start));
  return events;
}

const dataOf = (event: string): string =>
  event
    .split(/\r?\n/)
    .filter((line) => line.startsWith('data:'))
    .map((line) => line.slice(line.startsWith('data: ') ? 6 : 5))
    .join('\n');

/** An event's chunk and the usage it reports, if it reports one. */
function usageEventOf(data: string): { chunk: Record<string, unknown>; usage: EngineUsage } | undefined {
  if (!mayCarryUsage(data)) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return undefined;
  }
  const usage = usageOf(json);
  return usage !== undefined && typeof json === 'object' && json !== null ? { chunk: json as Record<string, unknown>, usage } : undefined;
}

/**
 * Relays an engine SSE stream to `res`. Events pass through as the engine sent them, one write per read from the
 * engine; only an event that can carry usage is parsed. The usage the charge is made from is the last one reported
 * before `[DONE]` (an engine may report it on every chunk, or send `"usage":null` chunks beside the real one): an
 * event carrying usage is held until the next event shows whether another follows, then passed to `finish`, which
 * returns what to send in its place (the chunk with the charge added), once per stream. An earlier (or later) usage
 * event is sent as `superseded` returns it (as sent when not given). An event split across reads is held until it is
 * complete, so the usage chunk is always replaced whole. Nothing after `[DONE]` is counted or charged.
 */
export async function relayStream(
  upstream: { body: BodySource | null },
  res: ServerResponse,
  finish: (chunk: Record<string, unknown>, usage: EngineUsage) => Record<string, unknown>,
  superseded?: (chunk: Record<string, unknown>) => Record<string, unknown>,
  options: { flushMs?: number } = {}
): Promise<{ usage?: EngineUsage; contentChunks: number; error?: string }> {
  const flushMs = options.flushMs ?? STREAM_FLUSH_MS;
  let usage: EngineUsage | undefined;
  let contentChunks = 0;
  /** An event whose end has not arrived yet. */
  let carry = '';
  /** The latest usage event, not sent yet: the charge is made from it unless another one follows. */
  let held: { chunk: Record<string, unknown>; usage: EngineUsage; event: string } | undefined;
  /** `[DONE]` came: what follows is relayed as sent, never counted. */
  let ended = false;
  const supersede = (event: string, chunk: Record<string, unknown>): string =>
    superseded === undefined ? event : `data: ${JSON.stringify(superseded(chunk))}\n\n`;
  /** The held usage event, with the charge: its usage is the stream's. */
  const release = (): string => {
    if (held === undefined) return '';
    usage = held.usage;
    const out = `data: ${JSON.stringify(finish(held.chunk, held.usage))}\n\n`;
    held = undefined;
    return out;
  };
  /** Written, not sent yet: what came after the first content, held for at most `flushMs` (see STREAM_FLUSH_MS). */
  let pending = '';
  let flushTimer: ReturnType<typeof setTimeout> | undefined;
  const flush = (): void => {
    clearTimeout(flushTimer);
    flushTimer = undefined;
    if (pending.length > 0 && !res.destroyed) res.write(pending);
    pending = '';
  };
  /** How many content deltas were out when the last write went without waiting (0: none yet). */
  let contentSent = 0;
  const send = (text: string): void => {
    // Until the first content is out nothing waits (the time to first token); after it, writes share a flush, but for
    // the end of the answer (the usage chunk with the charge, [DONE]), which goes out at once.
    if (flushMs <= 0 || contentSent === 0 || ended) {
      flush();
      res.write(text);
      contentSent = contentChunks;
      return;
    }
    pending += text;
    if (pending.length >= FLUSH_MAX_CHARS) flush();
    else flushTimer ??= setTimeout(flush, flushMs);
  };
  /** Complete events (each ending with its blank line): written through, the usage event held or replaced. */
  const relay = (events: string): void => {
    if (events.length === 0) return;
    if (held === undefined && (ended || (!events.includes('"usage"') && !events.includes('[DONE]')))) {
      if (!ended) contentChunks += countContent(events);
      send(events);
      return;
    }
    let out = '';
    for (const event of eventsOf(events)) {
      if (ended) {
        out += event;
        continue;
      }
      const data = dataOf(event);
      if (data.trim() === '[DONE]') {
        out += release() + event;
        ended = true;
        continue;
      }
      contentChunks += countContent(event);
      const found = usageEventOf(data);
      if (found === undefined) out += release() + event;
      else if (usage !== undefined) out += supersede(event, found.chunk);
      else {
        // The held one was not the last: it goes out as an ordinary chunk, this one is held in its place.
        if (held !== undefined) out += supersede(held.event, held.chunk);
        held = { ...found, event };
      }
    }
    if (out.length > 0) send(out);
  };
  const decoder = new TextDecoder();
  try {
    if (upstream.body === null) throw new Error('the engine answered no body');
    await eachPiece(upstream.body, (piece) => {
      const text = carry + (typeof piece === 'string' ? piece : decoder.decode(piece, { stream: true }));
      // llama.cpp and vLLM end events with "\n\n"; any other separator is handled at the end of the stream.
      const end = text.lastIndexOf('\n\n');
      carry = end < 0 ? text : text.slice(end + 2);
      if (carry.length > MAX_EVENT_CHARS) throw new Error('an SSE event beyond 1 MiB');
      if (end >= 0) relay(text.slice(0, end + 2));
    });
    relay(carry + decoder.decode());
    flush();
    const last = release();
    if (last.length > 0) res.write(last);
  } catch (error) {
    // What the engine reported before it broke is charged (as it would have been had no other event followed).
    flush();
    const last = release();
    if (last.length > 0 && !res.destroyed) res.write(last);
    return { ...(usage === undefined ? {} : { usage }), contentChunks, error: String(error) };
  }
  return usage === undefined ? { contentChunks, error: 'the stream ended without usage' } : { usage, contentChunks };
}

/** The socket errors of a kept-alive connection the engine closed as it was reused (llama-server does, under load). */
const STALE_SOCKET_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

/**
 * Whether a failed call to the engine died on a reused connection before any answer: sending it again on a fresh
 * connection is safe, since the engine answered nothing (a refused connection, a fresh connection's reset or an abort
 * is not retried). Node's client (HttpPostError) says whether the connection was reused; fetch's errors name the code.
 */
export function isStaleConnection(error: unknown): boolean {
  if (error instanceof HttpPostError) return error.details.reused && STALE_SOCKET_CODES.has(error.details.errno ?? '');
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  return typeof cause?.code === 'string' && STALE_SOCKET_CODES.has(cause.code);
}
