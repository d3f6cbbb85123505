import { ANSWER_BODY_MAX_BYTES, readBodyText, type HttpAnswer } from '../bounded-body.js';
import { completionBytesOf } from './completion-bytes.js';
import type { BrokenPaidRequest, PaidRequest } from './payer-types.js';
import { errorOf, readStream } from './runner-calls.js';

/** What a runner's accepted (2xx) answer held: the plain answer, the completion's bytes, its charge, and a break. */
export interface ReadAnswer {
  /** Plain requests: the runner's answer. */
  answer?: Record<string, unknown>;
  /** The completion's bytes as the payer counts them (its own bound on the runner's output tokens). */
  completionBytes: number;
  /** The runner's `deai_charge`, unparsed. */
  chargeJson: unknown;
  /** Why a stream broke (an error event, or no `[DONE]`). */
  broken?: string;
}

/**
 * Reads a runner's accepted answer: a stream's chunks passed on to `request.onChunk` as they come (`onEnd` after a
 * whole one), or the plain body (at most 64 MiB). A stream cut or aborted mid-way throws what `cut(error)` gives (the payer
 * notes the request as unbilled there).
 */
export async function readAnswer(
  response: HttpAnswer,
  request: PaidRequest,
  cut: (error: unknown) => BrokenPaidRequest
): Promise<ReadAnswer> {
  if (request.body.stream === true && response.body !== null) {
    let completionBytes = 0;
    let chargeJson: unknown;
    let broken: string | undefined;
    let done: boolean;
    try {
      done = await readStream(
        response.body,
        (chunk, data) => {
          if (chunk.error !== undefined) {
            broken ??= errorOf(data, 502).message;
            return;
          }
          completionBytes += completionBytesOf(chunk);
          if (chunk.deai_charge !== undefined) chargeJson = chunk.deai_charge;
          request.onChunk?.(chunk, data);
        },
        () => {
          if (broken === undefined) request.onEnd?.();
        }
      );
    } catch (error) {
      throw cut(error);
    }
    if (!done) broken ??= 'the stream ended before [DONE]';
    return { completionBytes, chargeJson, ...(broken === undefined ? {} : { broken }) };
  }
  const { text, truncated } = await readBodyText(response, ANSWER_BODY_MAX_BYTES);
  if (truncated) throw new Error('the runner answered more than 64 MiB');
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== 'object' || parsed === null) throw new Error('the runner answered no JSON object');
  const answer = parsed as Record<string, unknown>;
  return { answer, completionBytes: completionBytesOf(answer), chargeJson: answer.deai_charge };
}
