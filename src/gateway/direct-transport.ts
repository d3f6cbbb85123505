import { meteredCostE8s } from '../core/rewards/pricing.js';
import { ANSWER_BODY_MAX_BYTES, ERROR_BODY_MAX_BYTES, readBodyText } from '../sdk/bounded-body.js';
import { UpstreamErrorSchema, UsageSchema } from './schemas.js';
import { isRecord, sseChunks, type StreamTally } from './sse.js';
import {
  UpstreamError,
  upstreamErrorCodeOf,
  type UpstreamRequest,
  type UpstreamResponse,
  type UpstreamSettlement,
  type UpstreamTarget,
  type UpstreamTransport
} from './transport.js';

const priced = (target: UpstreamTarget, promptTokens: number, completionTokens: number): UpstreamSettlement => ({
  promptTokens,
  completionTokens,
  chargeE8s: meteredCostE8s(
    { inputPerMillion: target.inputPricePerMillion, outputPerMillion: target.outputPricePerMillion },
    BigInt(promptTokens),
    BigInt(completionTokens)
  )
});

/**
 * The unauthenticated transport: POSTs to the runner's advertised endpoint (as `chat({ via: 'direct' })` does) and
 * charges the engine's reported usage at the runner's posted prices. Nothing is signed or paid: it is what the
 * gateway uses until the paid transport is plugged in, and what tests use.
 */
export function directTransport(fetchImpl: typeof fetch = fetch): UpstreamTransport {
  return {
    async send(target: UpstreamTarget, request: UpstreamRequest, signal: AbortSignal): Promise<UpstreamResponse> {
      let response: Response;
      try {
        response = await fetchImpl(new URL(request.path, target.endpoint), {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: request.stream ? 'text/event-stream' : 'application/json' },
          body: JSON.stringify(request.body),
          signal
        });
      } catch (error) {
        throw new UpstreamError('Unreachable', `runner ${target.runner} unreachable at ${target.endpoint}: ${String(error)}`, {
          cause: error
        });
      }
      if (!response.ok || response.body === null) {
        const { text } = await readBodyText(response, ERROR_BODY_MAX_BYTES).catch(() => ({ text: '' }));
        const parsed = UpstreamErrorSchema.safeParse(safeJson(text));
        const message = parsed.success ? parsed.data.error.message : text.slice(0, 200);
        throw new UpstreamError(upstreamErrorCodeOf(response.status), `runner ${target.runner} answered ${response.status}: ${message}`, {
          status: response.status
        });
      }
      if (!request.stream) {
        const { text, truncated } = await readBodyText(response, ANSWER_BODY_MAX_BYTES);
        if (truncated) throw new UpstreamError('BadResponse', `runner ${target.runner} answered more than 64 MiB`);
        const body = safeJson(text);
        if (!isRecord(body) || !Array.isArray(body.choices))
          throw new UpstreamError('BadResponse', `runner ${target.runner} answered no completion: ${text.slice(0, 80)}`);
        const usage = UsageSchema.safeParse(body.usage);
        const settlement = priced(target, usage.success ? usage.data.prompt_tokens : 0, usage.success ? usage.data.completion_tokens : 0);
        return { kind: 'json', body, settlement };
      }
      const tally: StreamTally = { promptTokens: 0, completionTokens: 0, reported: false };
      let settle: (value: UpstreamSettlement) => void = () => undefined;
      const settlement = new Promise<UpstreamSettlement>((resolve) => (settle = resolve));
      const body = response.body;
      async function* chunks(): AsyncGenerator<Record<string, unknown>> {
        try {
          yield* sseChunks(body, tally);
        } finally {
          settle(priced(target, tally.promptTokens, tally.completionTokens));
        }
      }
      return { kind: 'stream', chunks: chunks(), settlement };
    }
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
