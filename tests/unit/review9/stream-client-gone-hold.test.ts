import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { GatewayRegistry } from '../../../src/gateway/catalog.ts';
import { directTransport } from '../../../src/gateway/direct-transport.ts';
import { KeyStore } from '../../../src/gateway/keys.ts';
import { startGateway } from '../../../src/gateway/server.ts';
import { testCandidate, testCard } from '../../support/gateway-fixtures.ts';

/**
 * Review 9, finding 1 with an HONEST runner. Over the default direct transport a runner sends many SSE events in one
 * network piece (sseChunks buffers them). The gateway's client reads slowly (its socket backs up: writeSseData waits
 * for 'drain' or 'close'), then goes away. 'close' aborts the attempt, but the generator still has buffered events: the
 * next one is yielded, `pass` finds the response destroyed and throws 'the client went away', and the streaming inner
 * catch awaits `streamed.settlement` while the generator is parked at its `yield` (its finally, which settles, never
 * runs). The key's worst case stays held for good, and serveCompletion never returns.
 */
const MODEL = 'org/review9b';
const enc = new TextEncoder();

describe('review9: a streaming client that goes away while events are buffered', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'deai-review9-gone-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('settles the key’s hold (before a fix: held forever)', async () => {
    const runnerFetch = (async (_url: URL, init: { signal?: AbortSignal }) => {
      const event = `data: ${JSON.stringify({ object: 'chat.completion.chunk', model: 'm', choices: [{ index: 0, delta: { content: 'x'.repeat(1000) } }] })}\n\n`;
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          // 30,000 events (30 MB: more than the sockets buffer) in one piece, then the runner is still generating.
          controller.enqueue(enc.encode(event.repeat(30_000)));
          // As fetch does: an aborted request errors its body.
          init.signal?.addEventListener('abort', () => controller.error(new Error('aborted')));
        }
      });
      return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
    }) as unknown as typeof fetch;
    const registry: GatewayRegistry = {
      listModels: async () => [testCard(MODEL)],
      findRunners: async () => [testCandidate(MODEL, { runner: 'a' })]
    };
    const keys = new KeyStore(join(dir, 'keys.json'));
    const { key, view } = keys.create({ name: 'r9b', limitE8s: 10n ** 12n });
    const events: Array<[string, Record<string, unknown>]> = [];
    const gateway = await startGateway({
      registry,
      keys,
      port: 0,
      transport: directTransport(runnerFetch),
      attemptTimeoutMs: 2_000,
      log: (event, fields) => events.push([event, fields])
    });
    try {
      const body = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 5, stream: true });
      await new Promise<void>((resolve, reject) => {
        const req = httpRequest(
          `http://127.0.0.1:${gateway.port}/v1/chat/completions`,
          { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' } },
          (res) => {
            res.pause(); // a slow reader: the gateway's socket backs up
            setTimeout(() => {
              req.destroy(); // then it goes away
              resolve();
            }, 300);
          }
        );
        req.on('error', () => undefined);
        req.end(body);
        setTimeout(() => reject(new Error('no answer head')), 5_000);
      });
      expect(keys.heldE8s(view.id)).toBeGreaterThan(0n);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      // The path taken: the streaming inner catch, on the client gone away.
      expect(events.find(([e]) => e === 'stream-failed')?.[1].error).toBe('the client went away');
      // Before a fix: the worst case stays held.
      expect(keys.heldE8s(view.id)).toBe(0n);
    } finally {
      await gateway.close(500);
    }
  }, 30_000);
});
