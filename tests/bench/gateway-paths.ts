/**
 * The three ways bench:gateway reaches the same llama-server, each one streamed request at a time: direct (the
 * `openai` client on llama-server's own /v1), metered (the payer client signing toward the runner's metered
 * endpoint) and the gateway (the `openai` client on `deai gateway`, paid toward the same runner). Each measures, on
 * the client side, the time to the first content chunk, the total time and the completion tokens the stream reported.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

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
 * `path`, sent again (up to MAX_ATTEMPTS in all) when it fails, each resend counted in `resent.count`: llama-server
 * with many clients on two cores drops kept-alive sockets as they are reused now and then, on every path alike.
 */
export function retrying(path: Path, resent: { count: number }): Path {
  return async (ask) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await path(ask);
      } catch (error) {
        if (attempt === MAX_ATTEMPTS) throw error;
        resent.count += 1;
      }
    }
  };
}

/** `clients` concurrent loops sharing `requests` requests of `path`: requests per second over the whole run. */
export async function requestsPerSecond(path: Path, clients: number, requests: number, ask: (i: number) => Ask): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let i = next++; i < requests; i = next++) await path(ask(i));
    })
  );
  return requests / ((performance.now() - started) / 1000);
}

/** How long a pass-through hop may take to start listening (tsx compiles it first). */
const PASS_THROUGH_START_MS = 30_000;

/** A pass-through hop (tests/bench/pass-through.ts) in its own process, forwarding to `upstream`. */
export async function startPassThrough(upstream: string): Promise<{ url: string; pid: number | undefined; stop(): Promise<void> }> {
  const script = fileURLToPath(new URL('./pass-through.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, upstream], { stdio: ['ignore', 'pipe', 'inherit'] });
  // Made at spawn, so a stop after the hop died (by a signal too) does not wait for an exit already gone by.
  const exited = once(child, 'exit').then(() => undefined);
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill();
    await exited;
  };
  const first = await Promise.race([
    once(child.stdout, 'data').then(([data]) => data as unknown),
    exited,
    // Unref'd: a hop that listened leaves nothing holding the benchmark open.
    delay(PASS_THROUGH_START_MS, undefined, { ref: false })
  ]);
  if (!(first instanceof Buffer)) {
    await stop();
    throw new Error(`the pass-through hop toward ${upstream} did not listen within ${PASS_THROUGH_START_MS} ms (or exited)`);
  }
  return { url: first.toString().trim(), pid: child.pid, stop };
}
