import { meteredCostE8s } from '../core/rewards/pricing.js';
import { ERROR_BODY_MAX_BYTES, readBodyText } from '../sdk/bounded-body.js';
import { UpstreamErrorSchema } from './schemas.js';
import { sseChunks, type StreamTally } from './sse.js';
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
          headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
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
      return { chunks: chunks(), settlement };
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
