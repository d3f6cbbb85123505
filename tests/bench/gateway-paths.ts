/**
 * The three ways bench:gateway reaches the same llama-server, each one streamed request at a time: direct (the
 * `openai` client on llama-server's own /v1), metered (the payer client signing toward the runner's metered
 * endpoint) and the gateway (the `openai` client on `deai gateway`, paid toward the same runner). Each measures, on
 * the client side, the time to the first content chunk, the total time and the completion tokens the stream reported.
 */
import OpenAI from 'openai';

import type { PaidTarget, PayerClient } from '../../src/sdk/paid/payer.ts';

export interface StreamRun {
  firstTokenMs: number;
  totalMs: number;
  outputTokens: number;
}

export interface Ask {
  prompt: string;
  maxTokens: number;
}

export type Path = (ask: Ask) => Promise<StreamRun>;

/** Generation speed as bench:runner computes it: output tokens over the time after the first one. */
export const tokensPerSecond = (run: StreamRun): number => run.outputTokens / ((run.totalMs - run.firstTokenMs) / 1000);

const hasContent = (chunk: { choices?: Array<{ delta?: { content?: string | null } }> }): boolean =>
  (chunk.choices?.[0]?.delta?.content ?? '').length > 0;

/** The `openai` client streaming a chat from `baseURL` (llama-server's /v1 or the gateway's). */
export function openaiPath(baseURL: string, apiKey: string, model: string): Path {
  const client = new OpenAI({ baseURL, apiKey, maxRetries: 0 });
  return async ({ prompt, maxTokens }) => {
    const started = performance.now();
    let firstTokenMs = NaN;
    let outputTokens = NaN;
    const stream = await client.chat.completions.create({
      model,
      messages: [{ role: 'user', content: prompt }],
      max_tokens: maxTokens,
      temperature: 0,
      seed: 7,
      stream: true,
      stream_options: { include_usage: true }
    });
    for await (const chunk of stream) {
      if (Number.isNaN(firstTokenMs) && hasContent(chunk)) firstTokenMs = performance.now() - started;
      if (chunk.usage) outputTokens = chunk.usage.completion_tokens;
    }
    return check({ firstTokenMs, totalMs: performance.now() - started, outputTokens }, baseURL);
  };
}

/** The payer client streaming a chat from the runner's metered endpoint (signed request, receipt, batch settlement). */
export function meteredPath(payer: PayerClient, target: PaidTarget, model: string): Path {
  return async ({ prompt, maxTokens }) => {
    const started = performance.now();
    let firstTokenMs = NaN;
    let outputTokens = NaN;
    const result = await payer.send(target, {
      path: '/v1/chat/completions',
      body: {
        model,
        messages: [{ role: 'user', content: prompt }],
        max_tokens: maxTokens,
        temperature: 0,
        seed: 7,
        stream: true,
        stream_options: { include_usage: true }
      },
      onChunk: (chunk) => {
        if (Number.isNaN(firstTokenMs) && hasContent(chunk)) firstTokenMs = performance.now() - started;
        const usage = chunk.usage as { completion_tokens?: number } | null | undefined;
        if (typeof usage?.completion_tokens === 'number') outputTokens = usage.completion_tokens;
      }
    });
    if (!result.ok) throw new Error(`metered request failed: ${result.status} ${result.error.message}`);
    return check({ firstTokenMs, totalMs: performance.now() - started, outputTokens }, target.endpoint);
  };
}

function check(run: StreamRun, where: string): StreamRun {
  if (!Number.isFinite(run.firstTokenMs) || !Number.isFinite(run.outputTokens))
    throw new Error(`${where}: a stream without content or usage (${JSON.stringify(run)})`);
  return run;
}

const MAX_ATTEMPTS = 10;

/**
 * `clients` concurrent loops sharing `requests` requests: requests per second over the whole run. A request whose
 * connection failed (a server closing a kept-alive socket as it is reused) is sent again (up to MAX_ATTEMPTS in all) and counted in `retried`: llama-server with many clients on
 * two cores drops such sockets now and then.
 */
export async function requestsPerSecond(
  path: Path,
  clients: number,
  requests: number,
  ask: (i: number) => Ask
): Promise<{ perSecond: number; retried: number }> {
  let next = 0;
  let retried = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let i = next++; i < requests; i = next++)
        for (let attempt = 1; ; attempt++) {
          try {
            await path(ask(i));
            break;
          } catch (error) {
            if (attempt === MAX_ATTEMPTS) throw error;
            retried += 1;
          }
        }
    })
  );
  return { perSecond: requests / ((performance.now() - started) / 1000), retried };
}
