import type { ServerResponse } from 'node:http';

import { chargeToJson, engineBody, type Charge } from '../../core/credit/index.js';
import { ANSWER_BODY_MAX_BYTES, ERROR_BODY_MAX_BYTES, readBodyText, type HttpAnswer, type HttpPost } from '../../sdk/bounded-body.js';
import { clientWantsUsage, isStaleConnection, relayStream, usageOf, type EngineUsage } from './proxy.js';
import { NOT_DURABLE, sendError } from './responses.js';

/** The engine behind the metered endpoint, as serveUpstream calls it. */
export interface EngineCall {
  /** The engine's base URL. */
  url: string;
  /** The id the engine serves its model under. */
  model: string;
  post: HttpPost;
  log: (event: string, fields?: Record<string, unknown>) => void;
}

/** The header a plain answer's charge also travels in (beside `deai_charge` in the body). */
export const CHARGE_HEADER = 'x-deai-charge';

/**
 * One admitted metered request sent to the engine and answered (README "Metered runner endpoint"): the allow-listed
 * body with `max_tokens` set to what was priced, a resend only on a reused connection the engine had closed, the
 * answer's status withheld until the request's receipt is durable, and the engine's usage charged through `charge`
 * (a plain answer's, the stream's last, or a broken stream's prompt bound plus one token per content chunk).
 */
export async function serveUpstream(
  engine: EngineCall,
  res: ServerResponse,
  path: string,
  body: Record<string, unknown>,
  maxTokens: number,
  inputBound: bigint,
  charge: (usage: EngineUsage) => Charge,
  durable: Promise<void>
): Promise<void> {
  let upstream: HttpAnswer;
  // A client that goes away stops the engine's work too.
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  // llama-server (cpp-httplib) closes the connection after every streamed answer, though it announces keep-alive:
  // a stream's socket is never reused, so it is not offered back to the pool, where the next request would find it
  // closed (a resend). Plain answers keep their connections alive (the client's pool).
  const headers: Record<string, string> =
    body.stream === true ? { 'content-type': 'application/json', connection: 'close' } : { 'content-type': 'application/json' };
  const send = (): Promise<HttpAnswer> =>
    engine.post(new URL(path, engine.url), {
      method: 'POST',
      headers,
      body: JSON.stringify(engineBody(body, engine.model, maxTokens)),
      signal: controller.signal
    });
  try {
    // A kept-alive socket the engine closed as it was reused fails before any answer: once more, on a fresh one.
    upstream = await send().catch((error: unknown) => {
      if (!isStaleConnection(error) || controller.signal.aborted) throw error;
      engine.log('metered-engine-resent', { error: String((error as Error).cause ?? error) });
      return send();
    });
  } catch (error) {
    return sendError(res, {
      status: 502,
      type: 'server_error',
      code: 'engine_unreachable',
      message: `the engine is unreachable: ${String(error)}`
    });
  }
  try {
    await durable;
  } catch (error) {
    controller.abort();
    engine.log('metered-receipt-not-durable', { error: String(error) });
    return sendError(res, NOT_DURABLE);
  }
  if (!upstream.ok || upstream.body === null) {
    res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
    res.end((await readBodyText(upstream, ERROR_BODY_MAX_BYTES).catch(() => ({ text: '' }))).text);
    return;
  }
  if (body.stream === true) {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const wantsUsage = clientWantsUsage(body);
    const withoutUsage = ({ usage: _usage, ...rest }: Record<string, unknown>): Record<string, unknown> => rest;
    const relayed = await relayStream(
      upstream,
      res,
      (chunk, usage) => {
        const out: Record<string, unknown> = { ...chunk, deai_charge: chargeToJson(charge(usage)) };
        return wantsUsage ? out : withoutUsage(out);
      },
      // An engine reporting usage on every chunk: the client that did not ask gets none of it.
      wantsUsage ? undefined : withoutUsage
    );
    if (relayed.error !== undefined) {
      engine.log('metered-stream-broken', { error: relayed.error });
      // Tell the client as llama.cpp does mid-stream; what was generated is charged (one token per content chunk).
      if (!res.destroyed)
        res.write(`data: ${JSON.stringify({ error: { message: `the engine stream broke: ${relayed.error}`, type: 'server_error' } })}\n\n`);
      // The prompt was processed: its bound is charged, with one token per content chunk sent.
      if (relayed.usage === undefined) {
        const c = charge({ inputTokens: inputBound, outputTokens: BigInt(relayed.contentChunks) });
        engine.log('metered-stream-charged', {
          line: c.lineId.toString(),
          chargeSeq: c.chargeSeq.toString(),
          costE8s: c.costE8s.toString()
        });
      }
    }
    res.end();
    return;
  }
  const { text, truncated } = await readBodyText(upstream, ANSWER_BODY_MAX_BYTES);
  let answer: unknown;
  try {
    answer = truncated ? undefined : JSON.parse(text);
  } catch {
    answer = undefined;
  }
  const usage = usageOf(answer);
  if (usage === undefined || typeof answer !== 'object' || answer === null)
    return sendError(res, { status: 502, type: 'server_error', code: 'engine_bad_response', message: 'the engine reported no usage' });
  const c = chargeToJson(charge(usage));
  res.writeHead(200, { 'content-type': 'application/json', [CHARGE_HEADER]: JSON.stringify(c) });
  res.end(JSON.stringify({ ...(answer as Record<string, unknown>), deai_charge: c }));
}
