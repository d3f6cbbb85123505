import { CodedError } from '../core/errors/coded-error.js';
import { BrokenPaidRequest, type PayerClient } from '../sdk/paid/payer.js';
import { GatewayError } from './errors.js';
import {
  UpstreamError,
  upstreamErrorCodeOf,
  withSseData,
  withSseWeight,
  type UpstreamResponse,
  type UpstreamSettlement,
  type UpstreamTransport
} from './transport.js';

/**
 * What a runner may send ahead of the gateway's reading (the gateway's client reading slower than the runner writes)
 * before its request is stopped: far above an answer's worth of backlog, far below a memory problem.
 */
const MAX_BACKLOG_CHARS = 8 * 1024 * 1024;

/**
 * The paid transport (README "Gateway"): every request goes to the runner's metered endpoint signed by the gateway's
 * payer identity, from a credit line toward that runner; the gateway checks the runner's charge against its own count,
 * signs a cumulative receipt, and settles all lines on-chain in batches (PayerClient). What a key is charged is what
 * the payer accepted, never the runner's own figure.
 *
 * A stream is handed to the gateway at its first chunk, so a runner that refuses or fails before it (402: no credit
 * for this payer; 5xx) is a failover, not an error the client sees.
 */
export function paidTransport(payer: PayerClient): UpstreamTransport {
  return {
    async send(target, request, signal): Promise<UpstreamResponse> {
      const paidTarget = {
        runner: target.runner,
        endpoint: target.endpoint,
        prices: { inputPerMillion: target.inputPricePerMillion, outputPerMillion: target.outputPricePerMillion }
      };
      const queue: Array<{ chunk: Record<string, unknown>; chars: number }> = [];
      /** Characters of SSE data received and not yet read by the gateway: at most MAX_BACKLOG_CHARS. */
      let backlog = 0;
      let overflow: UpstreamError | undefined;
      /** Stops the payer's request when the gateway stops reading first (a failed answer, a bound broken). */
      const stop = new AbortController();
      /** The runner's `[DONE]` came after a whole answer: the chunks end there, the settlement follows. */
      let ended = false;
      let wake: () => void = () => undefined;
      let firstChunk: () => void = () => undefined;
      const started = new Promise<void>((resolve) => (firstChunk = resolve));
      const sent = payer
        .send(paidTarget, {
          path: request.path,
          body: request.body,
          signal: AbortSignal.any([signal, stop.signal]),
          onChunk: (chunk: Record<string, unknown>, data: string) => {
            if (overflow !== undefined) return;
            backlog += data.length;
            if (backlog > MAX_BACKLOG_CHARS) {
              // A runner writing far faster than the gateway's client reads (or a hostile one): stopped, not buffered.
              overflow = new UpstreamError(
                'BadResponse',
                `runner ${target.runner} sent more than ${MAX_BACKLOG_CHARS} characters ahead of the reader`
              );
              stop.abort(overflow);
            }
            // The charge is the payer's business: a chunk carrying it is passed on without it (weighing what it was
            // sent as), the rest as sent.
            if (chunk.deai_charge === undefined) queue.push({ chunk: withSseData(chunk, data), chars: data.length });
            else {
              const { deai_charge: _charge, ...rest } = chunk;
              queue.push({ chunk: withSseWeight(rest, data.length), chars: data.length });
            }
            firstChunk();
            wake();
          },
          onEnd: () => {
            ended = true;
            wake();
          }
        })
        .then(
          (result) => ({ result }),
          (error: unknown) => ({ error })
        );
      let final: Awaited<typeof sent> | undefined;
      void sent.then((outcome) => {
        final = outcome;
        wake();
      });
      const first = await Promise.race([sent.then((s) => ({ done: s })), started.then(() => ({ done: undefined }))]);
      if (first.done !== undefined) {
        const outcome = first.done;
        if ('error' in outcome) {
          if (outcome.error instanceof CodedError && outcome.error.code === 'InsufficientCredit')
            throw new GatewayError(
              'InsufficientCredit',
              `The gateway's payer ${payer.payer} has too little free credit: ${outcome.error.message}`,
              {
                cause: outcome.error
              }
            );
          throw new UpstreamError('Unreachable', `runner ${target.runner} unreachable at ${target.endpoint}: ${String(outcome.error)}`, {
            cause: outcome.error,
            // Cut after the runner took it: the payer may yet pay the runner for it.
            billable: outcome.error instanceof BrokenPaidRequest
          });
        }
        const result = outcome.result;
        if (!result.ok)
          throw new UpstreamError(
            result.error.code === 'stream_broken' ? 'ServerError' : upstreamErrorCodeOf(result.status),
            `runner ${target.runner} answered ${result.status}: ${result.error.message}`,
            // A stream that broke after the runner took the request: the payer may yet pay the runner for it.
            { status: result.status, billable: result.unbilledE8s !== undefined }
          );
      }
      // A stream: chunks as they come; the settlement once the payer has checked the charge and signed the receipt.
      async function* chunks(): AsyncGenerator<Record<string, unknown>> {
        try {
          for (;;) {
            if (overflow !== undefined) throw overflow;
            const next = queue.shift();
            if (next !== undefined) {
              backlog -= next.chars;
              yield next.chunk;
              continue;
            }
            if (ended) return;
            if (final !== undefined) {
              if ('error' in final)
                throw new UpstreamError('ServerError', `runner ${target.runner} failed mid-stream: ${String(final.error)}`);
              if (!final.result.ok) throw new UpstreamError('ServerError', `runner ${target.runner}: ${final.result.error.message}`);
              return;
            }
            await new Promise<void>((resolve) => (wake = resolve));
          }
        } finally {
          // The gateway stopped reading before the runner's answer ended: its request goes too (else it is read on).
          if (!ended && final === undefined) stop.abort(new Error('the gateway stopped reading'));
        }
      }
      const settlement = sent.then((outcome): UpstreamSettlement => {
        if ('result' in outcome)
          return outcome.result.ok
            ? settlementOf(outcome.result.accepted)
            : { ...NOTHING, ...(outcome.result.unbilledE8s === undefined ? {} : { unbilledE8s: outcome.result.unbilledE8s }) };
        // Cut or stopped after the runner took it: what the payer may yet pay for it.
        return outcome.error instanceof BrokenPaidRequest ? { ...NOTHING, unbilledE8s: outcome.error.unbilledE8s } : NOTHING;
      });
      return { chunks: chunks(), settlement };
    }
  };
}

const NOTHING: UpstreamSettlement = { promptTokens: 0, completionTokens: 0, chargeE8s: 0n };

function settlementOf(accepted: { inputTokens: bigint; outputTokens: bigint; costE8s: bigint } | undefined): UpstreamSettlement {
  if (accepted === undefined) return NOTHING;
  return { promptTokens: Number(accepted.inputTokens), completionTokens: Number(accepted.outputTokens), chargeE8s: accepted.costE8s };
}
