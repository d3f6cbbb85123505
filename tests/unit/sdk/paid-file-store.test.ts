import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Ed25519KeyIdentity } from '@dfinity/identity';
import { describe, expect, it } from 'vitest';

import { AUTH_HEADERS, chargeToJson } from '../../../src/core/credit/index.js';
import { filePayerStore } from '../../../src/sdk/paid/file-store.js';
import { PayerClient } from '../../../src/sdk/paid/payer.js';
import type { PayerStateStore } from '../../../src/sdk/paid/state.js';
import { MemoryCredit } from '../../support/credit.js';

describe('filePayerStore', () => {
  it('saves off the caller’s turn, one write for a burst; flush() waits for the file (mode 0600)', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'deai-books-')), 'books', 'payer.json');
    const store = filePayerStore(path);
    store.save('one');
    store.save('two');
    expect(existsSync(path)).toBe(false); // nothing synchronous on the request path
    await store.flush?.();
    expect(readFileSync(path, 'utf8')).toBe('two');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    store.save('three');
    const flushed = store.flush?.();
    store.save('four');
    await flushed;
    await store.flush?.();
    expect(filePayerStore(path).load()).toBe('four');
  });
});

describe('PayerClient and asynchronous books', () => {
  it('a receipt leaves the payer (next request, settlement) only once the books holding it are durable', async () => {
    const identity = Ed25519KeyIdentity.generate();
    const payer = identity.getPrincipal().toText();
    const runner = Ed25519KeyIdentity.generate().getPrincipal().toText();
    const credit = new MemoryCredit();
    await credit.payer(payer).depositCredit(100_000_000n);
    const events: string[] = [];
    let saved = '';
    let durable = '';
    const store: PayerStateStore = {
      load: () => undefined,
      save: (text) => {
        saved = text;
      },
      flush: async () => {
        await new Promise<void>((resolve) => setImmediate(resolve));
        durable = saved;
        events.push('durable');
      }
    };
    let chargeSeq = 0n;
    const runnerFetch = (async (_url: string | URL | Request, init?: RequestInit) => {
      const headers = new Headers(init?.headers);
      const receipt = headers.get(AUTH_HEADERS.receipt);
      // Whatever receipt arrives is already in the books on disk.
      if (receipt !== null)
        events.push(durable.includes(JSON.parse(receipt).signature as string) ? 'receipt-durable' : 'receipt-not-durable');
      const lineId = BigInt(headers.get(AUTH_HEADERS.line)!);
      chargeSeq += 1n;
      const charge = { lineId, chargeSeq, inputTokens: 1n, outputTokens: 1n, costE8s: 2n, owedE8s: 2n * chargeSeq };
      return new Response(JSON.stringify({ choices: [{ message: { content: 'ok' } }], deai_charge: chargeToJson(charge) }), {
        headers: { 'content-type': 'application/json' }
      });
    }) as typeof fetch;
    const client = await PayerClient.open({ identity, credit: credit.payer(payer), store, fetch: runnerFetch, settleEveryMs: 0 });
    const target = { runner, endpoint: 'http://runner.invalid', prices: { inputPerMillion: 1_000_000n, outputPerMillion: 1_000_000n } };
    for (let i = 0; i < 2; i++)
      expect(
        await client.send(target, { path: '/v1/chat/completions', body: { messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 } })
      ).toMatchObject({ ok: true });
    expect(events).toEqual(['durable', 'receipt-durable']);
    await client.close();
    expect(events.slice(2)).toEqual(['durable', 'durable']); // before settle_usage, and at close
    expect(JSON.parse(durable)).toMatchObject({ lines: [expect.objectContaining({ seq: '2', settledSeq: '2' })] });
  });
});
