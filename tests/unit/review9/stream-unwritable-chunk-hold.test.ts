import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { GatewayRegistry } from '../../../src/gateway/catalog.ts';
import { directTransport } from '../../../src/gateway/direct-transport.ts';
import { KeyStore } from '../../../src/gateway/keys.ts';
import { startGateway } from '../../../src/gateway/server.ts';
import { testCandidate, testCard } from '../../support/gateway-fixtures.ts';

/**
 * Review 9, finding 1. A STREAMED request over the default direct transport. The runner's first chunk has a choice but
 * no `model` and a deeply nested field, so `pass` serializes it (writeSse -> JSON.stringify) and throws RangeError.
 * The streaming inner catch in completions.ts ends the client's answer with an error event and then awaits
 * `streamed.settlement` WITHOUT aborting the attempt or calling `reading.return()`. The direct transport settles only
 * in its generator's finally, and the generator is parked at its `yield`: the settlement never resolves, the key's
 * hold is never settled, serveCompletion never returns. The client's response has ended normally, so no 'close'
 * abort comes either. (Over the paid transport the same path waits until the runner ends its stream, which a hostile
 * runner can put off indefinitely with SSE comments.)
 */
const MODEL = 'org/review9';
const DEPTH = 200_000;
const enc = new TextEncoder();

describe('review9: a streamed chunk the gateway cannot write', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'deai-review9-stream-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('ends the attempt and settles the key’s hold (before a fix: held forever)', async () => {
    const runnerFetch = (async () => {
      const deep = `${'['.repeat(DEPTH)}${']'.repeat(DEPTH)}`;
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(
            enc.encode(`data: {"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"x"}}],"timings":${deep}}\n\n`)
          );
          // The runner then finishes normally: even an honest end is never read.
          controller.enqueue(
            enc.encode(
              `data: {"object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n`
            )
          );
          controller.close();
        }
      });
      return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
    }) as unknown as typeof fetch;
    const registry: GatewayRegistry = {
      listModels: async () => [testCard(MODEL)],
      findRunners: async () => [testCandidate(MODEL, { runner: 'a' })]
    };
    const keys = new KeyStore(join(dir, 'keys.json'));
    const { key, view } = keys.create({ name: 'r9', limitE8s: 10n ** 12n });
    const gateway = await startGateway({ registry, keys, port: 0, transport: directTransport(runnerFetch), attemptTimeoutMs: 2_000 });
    try {
      const response = await fetch(`${gateway.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 5, stream: true })
      });
      const text = await response.text();
      expect(text).toContain('upstream_failed');
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const held = keys.heldE8s(view.id);
      // Before a fix: the worst case stays held (and serveCompletion is still awaiting the settlement).
      expect(held).toBe(0n);
    } finally {
      await gateway.close(500);
    }
  }, 30_000);
});
