import { appendFileSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Ed25519KeyIdentity } from '@dfinity/identity';
import { describe, expect, it } from 'vitest';

import { AUTH_HEADERS, chargeToJson } from '../../../src/core/credit/index.js';
import { filePayerStore } from '../../../src/sdk/paid/file-store.js';
import { PayerClient, RECEIPT_WAIT_COVERS } from '../../../src/sdk/paid/payer.js';
import type { PayerStateStore } from '../../../src/sdk/paid/state.js';
import { MemoryCredit } from '../../support/credit.js';

describe('filePayerStore', () => {
  it('saves off the caller’s turn, one append for a burst; flush() waits for the disk (mode 0600)', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'deai-books-')), 'books', 'payer.json');
    const store = filePayerStore(path);
    store.save(new Map([['a', 'one']]));
    store.save(new Map([['a', 'two']]));
    expect(existsSync(`${path}.log`)).toBe(false); // nothing synchronous on the request path
    await store.flush?.();
    expect(readFileSync(`${path}.log`, 'utf8').trim().split('\n')).toHaveLength(2);
    expect(statSync(`${path}.log`).mode & 0o777).toBe(0o600);
    expect(filePayerStore(path).load()).toEqual(new Map([['a', 'two']]));
    store.save(new Map([['b', 'three']]));
    const flushed = store.flush?.();
    store.save(new Map<string, unknown>([['a', undefined]]));
    await flushed;
    await store.flush?.();
    expect(filePayerStore(path).load()).toEqual(new Map([['b', 'three']]));
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
    const saved = new Map<string, unknown>();
    let durable = '';
    const store: PayerStateStore = {
      load: () => new Map(),
      save: (changes) => {
        for (const [key, value] of changes) saved.set(key, value);
      },
      flush: async () => {
        await new Promise<void>((resolve) => setImmediate(resolve));
        durable = JSON.stringify([...saved]);
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
    const requests = 2 + RECEIPT_WAIT_COVERS;
    for (let i = 0; i < requests; i++)
      expect(
        await client.send(target, { path: '/v1/chat/completions', body: { messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 } })
      ).toMatchObject({ ok: true });
    // Requests do not wait for the books on their way out: one goes without the receipt the books are still writing,
    // until RECEIPT_WAIT_COVERS charges are unsent; then it waits. Whatever receipt leaves is durable.
    expect(events).not.toContain('receipt-not-durable');
    expect(events).toContain('receipt-durable');
    expect(events.filter((e) => e.startsWith('receipt')).length).toBeLessThan(requests - 1);
    const before = events.length;
    await client.close();
    expect(events.slice(before)).toContain('durable'); // before settle_usage, and at close
    expect(events.slice(before).every((e) => e === 'durable')).toBe(true);
    expect(new Map(JSON.parse(durable) as Array<[string, unknown]>).get(`line:${runner}`)).toMatchObject({
      seq: String(requests),
      settledSeq: String(requests)
    });
  });
});

describe('filePayerStore under PayerClient', () => {
  it('a charge appends its line’s record only; a reopened payer resumes past a torn last line, and reads books of the old whole-file format', async () => {
    const identity = Ed25519KeyIdentity.generate();
    const payer = identity.getPrincipal().toText();
    const runner = Ed25519KeyIdentity.generate().getPrincipal().toText();
    const credit = new MemoryCredit();
    await credit.payer(payer).depositCredit(100_000_000n);
    let chargeSeq = 0n;
    const runnerFetch = (async (_url: string | URL | Request, init?: RequestInit) => {
      const lineId = BigInt(new Headers(init?.headers).get(AUTH_HEADERS.line)!);
      chargeSeq += 1n;
      const charge = { lineId, chargeSeq, inputTokens: 1n, outputTokens: 1n, costE8s: 2n, owedE8s: 2n * chargeSeq };
      return Response.json({ choices: [{ message: { content: 'ok' } }], deai_charge: chargeToJson(charge) });
    }) as typeof fetch;
    const path = join(mkdtempSync(join(tmpdir(), 'deai-books-')), 'payer.json');
    const open = () =>
      PayerClient.open({ identity, credit: credit.payer(payer), store: filePayerStore(path), fetch: runnerFetch, settleEveryMs: 0 });
    const target = { runner, endpoint: 'http://runner.invalid', prices: { inputPerMillion: 1_000_000n, outputPerMillion: 1_000_000n } };
    const chat = { path: '/v1/chat/completions' as const, body: { messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 } };
    const client = await open();
    expect(await client.send(target, chat)).toMatchObject({ ok: true });
    await client.close();
    const before = readFileSync(`${path}.log`, 'utf8').split('\n').length;
    const again = await open();
    expect(await again.send(target, chat)).toMatchObject({ ok: true });
    await again.close();
    const appended = readFileSync(`${path}.log`, 'utf8')
      .split('\n')
      .slice(before - 1, -1);
    expect(appended.map((l) => (JSON.parse(l) as { k: string }).k)).toEqual([`line:${runner}`, `line:${runner}`]); // signed, then settled
    appendFileSync(`${path}.log`, `{"k":"line:${runner}","v":{"lineId":`); // a crash mid-append
    const resumed = await open();
    expect(resumed.lineOf(runner)).toMatchObject({ seq: 2n, owedE8s: 4n, settledSeq: 2n });
    await resumed.close();

    const legacy = join(mkdtempSync(join(tmpdir(), 'deai-books-')), 'payer.json');
    const line = { lineId: '7', runner, seq: '3', owedE8s: '900', inputTokens: '1', outputTokens: '1', requests: '3' };
    writeFileSync(
      legacy,
      JSON.stringify({ version: 1, payer, overReporting: [], lines: [{ ...line, settledSeq: '3', reservedE8s: '1000', unsentCovers: [] }] })
    );
    const old = await PayerClient.open({ identity, credit: credit.payer(payer), store: filePayerStore(legacy), settleEveryMs: 0 });
    expect(old.lineOf(runner)).toMatchObject({ lineId: 7n, seq: 3n, owedE8s: 900n });
  });
});
