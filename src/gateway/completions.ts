import { engineBody, inputTokenBoundOf, requestBoundOf, worstCaseCostE8s } from '../core/credit/metering.js';
import { meteredCostE8s } from '../core/rewards/pricing.js';
import {
  answerPlain,
  brokenStreamChargeE8s,
  record,
  untilFirstChoice,
  usageOf,
  type CompletionCall,
  type CompletionDeps
} from './attempt.js';
import { GatewayError } from './errors.js';
import { writeSse, writeSseData } from './http.js';
import { planRoute, runnerRequestOf } from './routing.js';
import { UpstreamError, type UpstreamResponse, type UpstreamSettlement, type UpstreamTarget, sseDataOf } from './transport.js';

export type { CompletionCall, CompletionDeps } from './attempt.js';

/**
 * Serves one completion: the registry's live runners for the model, ordered by the request's `provider`
 * preferences; each tried in turn until one gives its first token (a failure before it moves on, one after it ends the
 * stream with an error event). The request's worst case at the runner's prices is held against the key while it runs
 * (refused with 402 when spent + held + worst case would pass the key's limit), then settled to the charge.
 */
export async function serveCompletion(deps: CompletionDeps, call: CompletionCall): Promise<void> {
  const { request } = call;
  const card = await deps.catalog.card(request.model);
  const candidates = await deps.catalog.findRunners(runnerRequestOf(card.id, request.provider));
  const bound = requestBoundOf(call.path, request);
  if (typeof bound === 'string') throw new GatewayError('InvalidRequest', `Invalid body: ${bound}`);
  const plan = planRoute(candidates, request.provider, {
    ...(call.affinityKey === undefined ? {} : { affinityKey: call.affinityKey }),
    measurements: (runner) => deps.measurements.get(runner),
    demoted: (runner) => deps.measurements.demoted(runner),
    maxTokens: bound.maxTokens
  });
  if (plan.length === 0)
    throw new GatewayError('NoRunner', `No live runner with an endpoint serves ${card.id} under the requested routing constraints`);
  const stream = request.stream === true;
  const includeUsage = stream && request.stream_options?.include_usage === true;
  // Only the fields that cannot raise the cost past the bound reach the engine, told the bound the key pays for as both
  // `max_tokens` and llama.cpp's `n_predict` (which it reads first), as the metered runner proxy does. Runners always
  // stream: a plain answer is put together here (answer.ts), so a runner that never starts is left at the first-token
  // limit for the next one, whatever the client asked for.
  const body = engineBody({ ...request, stream: true }, card.id, bound.maxTokens);
  const failures: string[] = [];
  const unaffordable: string[] = [];
  /**
   * A runner's 4xx for the request: the gateway checked the request itself (schema, bound) before any runner saw it, so
   * it cannot tell a real refusal (a prompt beyond the context) from a runner refusing everything; one more runner is
   * tried, one that serves a longer context first, and if that one serves it, the refusing runner is demoted, unless
   * the one that served it has the longer context (then the refusal was the context's, as honest runners refuse: a
   * long prompt must not demote every small-context runner). Past that, the 4xx goes to the client.
   */
  let rejected: { runner: string; servedContext: bigint; error: UpstreamError } | undefined;
  let retriedRejected = false;
  const servedAfterRejection = (servedContext: bigint): void => {
    if (rejected === undefined) return;
    const fields = { runner: rejected.runner, error: rejected.error.message };
    if (servedContext > rejected.servedContext) return deps.log('context-refusal', fields);
    deps.measurements.demote(rejected.runner);
    deps.log('demoted', fields);
  };
  const queue = [...plan];
  for (let at = 0; at < queue.length; at++) {
    const candidate = queue[at] as (typeof queue)[number];
    if (call.signal.aborted) return;
    if (rejected !== undefined && retriedRejected) break;
    const target: UpstreamTarget = {
      runner: candidate.runner,
      endpoint: candidate.endpoint,
      model: card.id,
      inputPricePerMillion: candidate.inputPricePerMillion,
      outputPricePerMillion: candidate.outputPricePerMillion
    };
    // The request's worst case at this runner's prices is held against the key while it runs (README "Gateway").
    const prices = { inputPerMillion: target.inputPricePerMillion, outputPerMillion: target.outputPricePerMillion };
    const worstE8s = worstCaseCostE8s(prices, bound);
    const hold = deps.keys.tryHold(call.key.id, worstE8s);
    if (hold === undefined) {
      unaffordable.push(`${target.runner}: worst case ${worstE8s} e8s`);
      continue;
    }
    if (rejected !== undefined) retriedRejected = true;
    /** What the key is charged when the hold is settled (finally): 0 unless a runner served (part of) the request. */
    let chargeE8s = 0n;
    /** `settlement` charged at most the worst case the key was held for: a runner reporting more is logged, not billed. */
    const billed = (reported: UpstreamSettlement): UpstreamSettlement => {
      // What the transport may yet pay the runner for this request (a paid answer that broke) is the key's to pay too.
      const unbilled = reported.unbilledE8s ?? 0n;
      const settlement = unbilled > reported.chargeE8s ? { ...reported, chargeE8s: unbilled } : reported;
      if (settlement.chargeE8s <= worstE8s) return settlement;
      deps.log('overcharge', { runner: target.runner, chargeE8s: settlement.chargeE8s.toString(), worstE8s: worstE8s.toString() });
      return { ...settlement, chargeE8s: worstE8s };
    };
    let upstream: UpstreamResponse | undefined;
    let chunks: AsyncIterator<Record<string, unknown>> | undefined;
    const attempt = new AbortController();
    /** Stops the runner's request and closes its reader, so that the transport's settlement can resolve. */
    const stopReading = async (reason: unknown): Promise<void> => {
      if (!attempt.signal.aborted) attempt.abort(reason);
      await chunks?.return?.();
    };
    const abort = (): void => attempt.abort();
    call.signal.addEventListener('abort', abort, { once: true });
    // Until the first token; then no limit for a stream (the runner is generating), the whole-answer limit for a plain one.
    const timeoutMs = deps.attemptTimeoutMs;
    const timer = setTimeout(() => attempt.abort(new Error(`no first token within ${timeoutMs} ms`)), timeoutMs);
    const startedMs = performance.now();
    try {
      upstream = await deps.transport.send(target, { path: call.path, body }, attempt.signal);
      const streamed = upstream;
      const reading = streamed.chunks[Symbol.asyncIterator]();
      chunks = reading;
      const opening = await untilFirstChoice(reading, target.runner);
      clearTimeout(timer);
      servedAfterRejection(candidate.servedContext ?? 0n);
      const firstTokenMs = performance.now() - startedMs;
      if (!stream) {
        const answered = await answerPlain(deps, call, {
          target,
          card: card.id,
          startedMs,
          opening,
          chunks: reading,
          settlement: streamed.settlement,
          worstE8s,
          attempt,
          billed
        });
        chargeE8s = answered.chargeE8s;
        if (answered.failure !== undefined) throw answered.failure;
        return;
      }
      call.response.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-deai-runner': target.runner
      });
      const pass = async (chunk: Record<string, unknown>): Promise<void> => {
        if (chunk.usage === undefined || chunk.usage === null) {
          // The runner's bytes, with only the model named as the card: no parse and serialize again per token. Data
          // that spanned several `data:` lines (joined with \n by the parser) would end the client's line: serialized.
          const raw = sseDataOf(chunk);
          const data =
            raw === undefined || typeof chunk.model !== 'string' || raw.includes('\n') ? undefined : withModel(raw, chunk.model, card.id);
          if (data !== undefined) return writeSseData(call.response, data);
        } else {
          // The runner's usage is its claim: the client is shown what its key is billed, in the gateway's own chunk.
          const { usage: _usage, ...rest } = chunk;
          if (Array.isArray(rest.choices) && rest.choices.length === 0) return;
          chunk = rest;
        }
        await writeSse(call.response, { ...chunk, model: card.id });
      };
      try {
        for (const chunk of opening) await pass(chunk);
        for (let next = await reading.next(); next.done !== true; next = await reading.next()) await pass(next.value);
      } catch (error) {
        // After the first token the answer cannot move to another runner: the client gets an error event.
        const message = error instanceof Error ? error.message : String(error);
        deps.log('stream-failed', { runner: target.runner, error: message });
        if (!call.response.destroyed)
          call.response.end(
            `data: ${JSON.stringify({ error: { message, type: 'upstream_error', param: null, code: 'upstream_failed' } })}\n\n`
          );
        // The runner's request stops and its reader closes before its settlement is awaited (a transport settles when
        // its chunks end: left paused mid-stream, it would hold the key's hold for good).
        await stopReading(error);
        const settlement = billed(await streamed.settlement);
        chargeE8s = brokenStreamChargeE8s(settlement, worstE8s);
        record(deps, call, target, { ...settlement, chargeE8s }, firstTokenMs, performance.now() - startedMs);
        return;
      }
      // The answer ends at the runner's [DONE]; the key is charged once the payer has checked the charge (unless the
      // usage chunk the client asked for has to come from that check).
      const endedMs = performance.now() - startedMs;
      if (!includeUsage) call.response.end('data: [DONE]\n\n');
      const settlement = billed(await streamed.settlement);
      chargeE8s = settlement.chargeE8s;
      if (includeUsage) {
        await writeSse(call.response, {
          id: 'usage',
          object: call.path === '/v1/completions' ? 'text_completion' : 'chat.completion.chunk',
          model: card.id,
          choices: [],
          usage: usageOf(settlement)
        });
        call.response.end('data: [DONE]\n\n');
      }
      record(deps, call, target, settlement, firstTokenMs, includeUsage ? performance.now() - startedMs : endedMs);
      return;
    } catch (error) {
      clearTimeout(timer);
      if (call.signal.aborted) {
        // The client went away while a runner had the request: it may have been served, so the key pays what the
        // transport metered, or the worst case it was admitted at.
        await stopReading(error);
        chargeE8s = upstream === undefined ? worstE8s : brokenStreamChargeE8s(billed(await upstream.settlement), worstE8s);
        return;
      }
      // The gateway's own refusal (its payer is out of credit): no other runner would change it.
      if (error instanceof GatewayError) throw error;
      // Stopped by the gateway's timer, or (from here) by the gateway itself: a runner's request left half-read (no
      // choice before its end) must not hold the attempt open while its settlement is awaited.
      const timedOut = attempt.signal.aborted;
      await stopReading(error);
      const settlement = upstream === undefined ? undefined : billed(await upstream.settlement);
      if (timedOut) {
        // The gateway's timer stopped a runner that had the request (it read the prompt at least): the key pays what the
        // transport metered, or the prompt's bound, so a request made to time out costs its sender at each runner.
        const inputE8s = meteredCostE8s(prices, inputTokenBoundOf(bound.promptBytes), 0n);
        chargeE8s = settlement === undefined ? inputE8s : brokenStreamChargeE8s(settlement, inputE8s);
      }
      // A paid runner that took the request and broke before its first chunk: the gateway's payer may yet pay it up to
      // the worst case (it takes up a charge the runner lists for such a request), so the key pays that.
      else if (error instanceof UpstreamError && error.details.billable === true) chargeE8s = worstE8s;
      // A failover: the key pays only what the transport reports this runner charged (nothing for a refusal).
      else if (settlement !== undefined) chargeE8s = settlement.chargeE8s;
      if (error instanceof UpstreamError && !error.retryable) {
        // A second runner refusing it too: the request itself is at fault.
        if (rejected !== undefined) throw new GatewayError('UpstreamRejected', error.message, { cause: error });
        rejected = { runner: target.runner, servedContext: candidate.servedContext ?? 0n, error };
        deps.log('rejected', { runner: target.runner, error: error.message });
        // The one more runner: a planned one with a longer context first (a refusal is most often the context's).
        const rest = queue.splice(at + 1);
        const longer = (c: (typeof rest)[number]): boolean => (c.servedContext ?? 0n) > (candidate.servedContext ?? 0n);
        queue.push(...rest.filter(longer), ...rest.filter((c) => !longer(c)));
        continue;
      }
      const reason = timedOut
        ? String(attempt.signal.reason instanceof Error ? attempt.signal.reason.message : 'aborted')
        : error instanceof Error
          ? error.message
          : String(error);
      failures.push(`${target.runner}: ${reason}`);
      deps.log('failover', { runner: target.runner, error: reason });
      // A paid runner that broke after taking the request cost the key its worst case for nothing: it goes after the
      // others for a while, as one whose 4xx another runner served (else it is tried first, and paid, every time).
      if (error instanceof UpstreamError && error.details.billable === true) {
        deps.measurements.demote(target.runner);
        deps.log('demoted', { runner: target.runner, error: reason });
      }
      deps.catalog.forgetRunners();
    } finally {
      call.signal.removeEventListener('abort', abort);
      hold.settle(chargeE8s);
    }
  }
  if (rejected !== undefined) throw new GatewayError('UpstreamRejected', rejected.error.message, { cause: rejected.error });
  if (failures.length === 0 && unaffordable.length > 0) {
    const view = call.key;
    throw new GatewayError(
      'InsufficientCredit',
      `This key cannot cover the request's worst case (${unaffordable.join('; ')}) within its limit of ${view.limitE8s} e8s with ${deps.keys.heldE8s(view.id)} e8s held by requests in flight`
    );
  }
  throw new GatewayError(
    'UpstreamFailed',
    `No runner answered for ${card.id}: ${[...failures, ...unaffordable.map((u) => `${u} over the key's limit`)].join('; ')}`
  );
}

/**
 * `data` (a chunk's JSON text, whose top-level `model` parsed as `current`) with that `model` set to `model`, without
 * parsing it again; undefined when that is not plainly possible (a second `"model":"`, an escape in the value), for the
 * caller to serialize the chunk instead. A `"model":"` in the text is a key (inside a JSON string its quotes would be
 * escaped), and the only one whose value is `current` is the top-level one.
 */
export function withModel(data: string, current: string, model: string): string | undefined {
  const key = '"model":"';
  const at = data.indexOf(key);
  if (at < 0) return undefined;
  const start = at + key.length;
  const end = start + current.length;
  if (data.slice(start, end) !== current || data[end] !== '"' || data.indexOf(key, end) >= 0) return undefined;
  if (current === model) return data;
  return `${data.slice(0, start)}${JSON.stringify(model).slice(1, -1)}${data.slice(end)}`;
}
