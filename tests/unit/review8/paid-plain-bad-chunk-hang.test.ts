import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Ed25519KeyIdentity } from '@dfinity/identity';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { GatewayRegistry } from '../../../src/gateway/catalog.ts';
import { KeyStore } from '../../../src/gateway/keys.ts';
import { paidTransport } from '../../../src/gateway/paid-transport.ts';
import { startGateway } from '../../../src/gateway/server.ts';
import { PayerClient } from '../../../src/sdk/paid/payer.ts';
import { MemoryCredit } from '../../support/credit.ts';
import { testCandidate, testCard } from '../../support/gateway-fixtures.ts';

/**
 * Review 8, finding 1. A plain request over the PAID transport: the runner streams one good chunk (the first token), then
 * a chunk AnswerAssembler.add rejects (a choice index >= 128: BadResponse), then keeps its stream open, trickling
 * chunks. answerPlain clears the whole-answer timer, calls chunks.return() (which, for the paid transport, does not
 * stop the payer's fetch) and awaits `settlement` = the payer's send, which only ends when the runner ends its stream.
 * The client never gets its 502, the key's hold is never settled, and the gateway keeps reading the runner's stream into
 * the paid transport's unbounded queue, until the client itself gives up.
 */
const MODEL = 'org/review8';
const enc = new TextEncoder();

describe('review8: paid transport, plain request, BadResponse after the first token', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'deai-review8-hang-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('answers 502 within the whole-answer limit and releases the hold (before the fix: the request hangs)', async () => {
    const identity = Ed25519KeyIdentity.generate();
    const payerPrincipal = identity.getPrincipal().toText();
    const credit = new MemoryCredit();
    await credit.payer(payerPrincipal).depositCredit(1_000_000_000n);
    let piecesAfterBad = 0;
    let runnerAborted = false;
    const runnerFetch = (async (_url: URL, init: { signal?: AbortSignal }) => {
      let timer: ReturnType<typeof setInterval> | undefined;
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          const good = { id: 'x', model: 'm', choices: [{ index: 0, delta: { role: 'assistant', content: 'Hi' } }] };
          const bad = { id: 'x', model: 'm', choices: [{ index: 500, delta: { content: '!' } }] };
          controller.enqueue(enc.encode(`data: ${JSON.stringify(good)}\n\n`));
          controller.enqueue(enc.encode(`data: ${JSON.stringify(bad)}\n\n`));
          // Then the runner never ends its stream: one more chunk every 10 ms (the gateway keeps queueing them).
          timer = setInterval(() => {
            piecesAfterBad += 1;
            try {
              controller.enqueue(
                enc.encode(`data: ${JSON.stringify({ id: 'x', choices: [{ index: 0, delta: { content: 'x'.repeat(1000) } }] })}\n\n`)
              );
            } catch {
              clearInterval(timer);
            }
          }, 10);
          init.signal?.addEventListener('abort', () => {
            runnerAborted = true;
            clearInterval(timer);
            try {
              controller.error(new Error('aborted'));
            } catch {
              /* closed */
            }
          });
        },
        cancel() {
          clearInterval(timer);
        }
      });
      return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
    }) as unknown as typeof fetch;
    const payer = await PayerClient.open({ identity, credit: credit.payer(payerPrincipal), fetch: runnerFetch, settleEveryMs: 0 });
    const runnerPrincipal = Ed25519KeyIdentity.generate().getPrincipal().toText();
    const registry = {
      listModels: async () => [testCard(MODEL)],
      findRunners: async () => [testCandidate(MODEL, { runner: runnerPrincipal })]
    } as unknown as GatewayRegistry;
    const keys = new KeyStore(join(dir, 'keys.json'));
    const { key, view } = keys.create({ name: 'r8', limitE8s: 10n ** 12n });
    const gateway = await startGateway({
      registry,
      keys,
      port: 0,
      transport: paidTransport(payer),
      attemptTimeoutMs: 2_000,
      answerTimeoutMs: 500
    });
    let heldWhileWaiting = 0n;
    const probe = setTimeout(() => (heldWhileWaiting = keys.heldE8s(view.id)), 2_000);
    try {
      const outcome = await fetch(`${gateway.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 }),
        // The client gives up after 4 s (8x the whole-answer limit).
        signal: AbortSignal.timeout(4_000)
      }).then(
        (r) => ({ status: r.status }),
        (e: unknown) => ({ error: String(e) })
      );
      // Evidence of the hang (printed whatever the outcome).
      // Before the fix: { error: 'TimeoutError: The operation was aborted due to timeout' }.
      expect(outcome).toEqual({ status: 502 });
      expect(heldWhileWaiting).toBe(0n);
      // The runner's request was stopped, not read on.
      expect(runnerAborted).toBe(true);
      expect(piecesAfterBad).toBeLessThan(390);
    } finally {
      clearTimeout(probe);
      await gateway.close(1_000);
      await payer.close().catch(() => undefined);
    }
  }, 20_000);
});
