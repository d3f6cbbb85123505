import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Ed25519KeyIdentity } from '@dfinity/identity';
import { Secp256k1KeyIdentity } from '@dfinity/identity-secp256k1';
import { describe, expect, it, vi } from 'vitest';

import {
  receiptSigningBytes,
  verifyPayerSignature,
  type Receipt,
  type SignatureVerifier,
  type SignedReceipt
} from '../../../src/core/credit/index.js';
import { LineBook } from '../../../src/runner/metered/line-book.js';
import { nativeVerifyPayerSignature } from '../../../src/runner/metered/native-verify.js';
import { NonceCache } from '../../../src/runner/metered/nonce-cache.js';
import { ReceiptStore } from '../../../src/runner/metered/receipt-store.js';
import { MemoryCredit } from '../../support/credit.js';

const S = 1_000_000_000n;

describe('NonceCache', () => {
  it('refuses a nonce again until it expires, then forgets it', () => {
    const cache = new NonceCache();
    expect(cache.admit('1', 'aa', 10n * S, 0n)).toBe('ok');
    expect(cache.admit('1', 'aa', 10n * S, 5n * S)).toBe('replay');
    expect(cache.admit('1', 'bb', 20n * S, 11n * S)).toBe('ok');
    expect(cache.admit('1', 'aa', 20n * S, 11n * S)).toBe('ok');
  });

  it('is bounded per line: when full of live nonces it refuses new ones instead of forgetting', () => {
    const cache = new NonceCache(2);
    expect(cache.admit('1', 'a', 100n, 0n)).toBe('ok');
    expect(cache.admit('1', 'b', 100n, 0n)).toBe('ok');
    expect(cache.admit('1', 'c', 100n, 0n)).toBe('full');
    expect(cache.admit('1', 'a', 100n, 50n)).toBe('replay');
    expect(cache.admit('1', 'c', 200n, 100n)).toBe('ok'); // a and b expired
    expect(cache.size).toBe(1);
  });

  it('attack: one line filling its nonces does not lock out other payers (finding 5)', () => {
    const cache = new NonceCache(2, 2);
    expect(cache.admit('1', 'a', 100n, 0n)).toBe('ok');
    expect(cache.admit('1', 'b', 100n, 0n)).toBe('ok');
    expect(cache.admit('1', 'c', 100n, 0n)).toBe('full');
    expect(cache.admit('2', 'c', 100n, 0n)).toBe('ok');
    expect(cache.admit('3', 'd', 100n, 0n)).toBe('full'); // most lines held, all live
    expect(cache.admit('3', 'd', 200n, 100n)).toBe('ok'); // expired lines are dropped
  });
});

describe('LineBook receipts', () => {
  const runner = Ed25519KeyIdentity.generate().getPrincipal().toText();
  const payerId = Ed25519KeyIdentity.generate();
  const payer = payerId.getPrincipal().toText();

  async function sign(receipt: Receipt, identity = payerId): Promise<SignedReceipt> {
    return {
      receipt,
      publicKey: new Uint8Array(identity.getPublicKey().toDer()),
      signature: new Uint8Array(await identity.sign(receiptSigningBytes(receipt)))
    };
  }

  async function setup(verify?: SignatureVerifier) {
    const credit = new MemoryCredit({ minReserveE8s: 1n });
    await credit.payer(payer).depositCredit(10_000n);
    const line = await credit.payer(payer).reserveCredit(runner, 1_000n);
    const path = join(mkdtempSync(join(tmpdir(), 'deai-books-')), 'receipts.json');
    const store = new ReceiptStore(path);
    const book = new LineBook({
      runner,
      credit: credit.runner(runner),
      store,
      limits: { maxUnsignedE8s: 10_000n, maxUnsignedRequests: 10 },
      lineCacheMs: 0,
      nowMs: () => 1_000,
      ...(verify === undefined ? {} : { verify })
    });
    const base: Receipt = { lineId: line.id, payer, runner, seq: 1n, owedE8s: 50n, inputTokens: 1n, outputTokens: 1n, requests: 1n };
    return { credit, book, base, path, store };
  }

  it('reads the line stale-while-revalidate: no request waits on the registry while a view under lineStaleMs is held', async () => {
    const credit = new MemoryCredit({ minReserveE8s: 1n });
    await credit.payer(payer).depositCredit(10_000n);
    const base = await credit.payer(payer).reserveCredit(runner, 1_000n);
    const inner = credit.runner(runner);
    let reads = 0;
    let gate: Promise<void> | undefined;
    let open = (): void => undefined;
    const book = new LineBook({
      runner,
      credit: {
        ...inner,
        getCreditLine: async (lineId) => {
          reads++;
          await gate;
          return inner.getCreditLine(lineId);
        }
      },
      store: new ReceiptStore(join(mkdtempSync(join(tmpdir(), 'deai-books-')), 'receipts.json')),
      limits: { maxUnsignedE8s: 10_000n, maxUnsignedRequests: 10 },
      lineCacheMs: 2_000,
      lineStaleMs: 10_000,
      nowMs: () => clockMs
    });
    let clockMs = 0;
    expect((await book.view(base.id))?.reservedE8s).toBe(1_000n);
    clockMs = 1_999;
    expect((await book.view(base.id))?.reservedE8s).toBe(1_000n);
    expect(reads).toBe(1);
    await credit.payer(payer).reserveCredit(runner, 500n);
    // Stale: the held view answers at once (the registry read is held back here), one read in flight for all.
    gate = new Promise<void>((resolve) => (open = resolve));
    clockMs = 2_000;
    expect((await book.view(base.id))?.reservedE8s).toBe(1_000n);
    expect((await book.view(base.id))?.reservedE8s).toBe(1_000n);
    expect(reads).toBe(2);
    open();
    await vi.waitFor(async () => expect((await book.view(base.id))?.reservedE8s).toBe(1_500n));
    expect(reads).toBe(2);
    // Past lineStaleMs the registry is read before answering: a closed line is never trusted longer.
    await credit.payer(payer).closeCreditLine!(base.id);
    clockMs = 12_000;
    expect((await book.view(base.id))?.state).not.toBe('open');
    expect(reads).toBe(3);
    // A fresh read (a refusal looked at again) never waits for, nor reuses, a background one.
    expect((await book.view(base.id, true))?.state).not.toBe('open');
    expect(reads).toBe(4);
  });

  it('attack: receipts posted for another runner or payer are refused before any signature check (no verify to burn)', async () => {
    let verified = 0;
    const { book, base } = await setup(() => {
      verified += 1;
      return false;
    });
    const other = Ed25519KeyIdentity.generate().getPrincipal().toText();
    const garbage = { publicKey: new Uint8Array(44), signature: new Uint8Array(64) };
    expect(await book.acceptReceipt({ receipt: { ...base, runner: other }, ...garbage }, [])).toEqual({ code: 'WrongRunner' });
    expect(await book.acceptReceipt({ receipt: base, ...garbage }, [], other)).toEqual({ code: 'WrongPayer' });
    expect(verified).toBe(0);
    // Addressed to this runner and payer: checked, and refused for its signature.
    expect(await book.acceptReceipt({ receipt: base, ...garbage }, [], payer)).not.toBeUndefined();
  });

  it('keeps a newer valid receipt durably; refuses stale, non-cumulative, forged, foreign ones', async () => {
    const { book, base, path, store } = await setup();
    expect(await book.acceptReceipt(await sign(base), [])).toBeUndefined();
    expect(await book.acceptReceipt(await sign(base), [])).toBeUndefined(); // the same again: idempotent
    await store.flush();
    expect(new ReceiptStore(path).get(base.lineId)?.signed.receipt.owedE8s).toBe(50n);
    expect(await book.acceptReceipt(await sign({ ...base, owedE8s: 60n }), [])).toMatchObject({ code: 'Stale', latestSeq: 1n });
    expect(await book.acceptReceipt(await sign({ ...base, seq: 2n, owedE8s: 40n }), [])).toMatchObject({ code: 'NotCumulative' });
    expect(await book.acceptReceipt(await sign({ ...base, seq: 2n }, Ed25519KeyIdentity.generate()), [])).toEqual({ code: 'KeyNotPayer' });
    const forged = await sign({ ...base, seq: 2n, owedE8s: 70n });
    expect(await book.acceptReceipt({ ...forged, receipt: { ...forged.receipt, owedE8s: 71n } }, [])).toEqual({ code: 'BadSignature' });
    const other = Ed25519KeyIdentity.generate().getPrincipal().toText();
    expect(await book.acceptReceipt(await sign({ ...base, seq: 2n, runner: other }), [])).toEqual({ code: 'WrongRunner' });
    expect(await book.acceptReceipt(await sign({ ...base, seq: 2n, lineId: 77n }), [])).toEqual({ code: 'NoLine' });
    expect(await book.acceptReceipt(await sign({ ...base, seq: 2n, owedE8s: 70n }), [], other)).toEqual({ code: 'WrongPayer' });
    expect(await book.acceptReceipt(await sign({ ...base, seq: 2n, owedE8s: 70n }), [])).toBeUndefined();
    await store.flush();
    expect(new ReceiptStore(path).get(base.lineId)?.signed.receipt.seq).toBe(2n);
  });

  it('charges count as unsigned exposure until a receipt covers them; the claim builds on the latest receipt', async () => {
    const { book, base } = await setup();
    expect(await book.admit(base.lineId, payer, 600n)).toBeUndefined();
    const charge = book.charge(base.lineId, 600n, { inputTokens: 5n, outputTokens: 5n, costE8s: 700n });
    expect(charge.costE8s).toBe(600n); // never above the worst case admitted
    expect(await book.admit(base.lineId, payer, 500n)).toMatchObject({ code: 'InsufficientCredit', availableE8s: 400n });
    expect(await book.acceptReceipt(await sign({ ...base, owedE8s: 600n }), [charge.chargeSeq])).toBeUndefined();
    expect(await book.admit(base.lineId, payer, 400n)).toBeUndefined();
    const next = book.charge(base.lineId, 400n, { inputTokens: 1n, outputTokens: 1n, costE8s: 10n });
    expect(next.owedE8s).toBe(610n);
    expect(await book.admit(base.lineId, Ed25519KeyIdentity.generate().getPrincipal().toText(), 1n)).toEqual({ code: 'NotYourLine' });
    expect(await book.admit(99n, payer, 1n)).toEqual({ code: 'NoLine' });
  });

  it('attack: a receipt naming charges in `covers` without owing them does not clear them (finding 1)', async () => {
    const { book, base } = await setup();
    const stale = await sign({ ...base, owedE8s: 1n });
    let served = 0n;
    for (let i = 0; i < 20; i++) {
      if ((await book.admit(base.lineId, payer, 100n)) !== undefined) break;
      const charge = book.charge(base.lineId, 100n, { inputTokens: 1n, outputTokens: 1n, costE8s: 90n });
      served += charge.costE8s;
      expect(await book.acceptReceipt(stale, [charge.chargeSeq])).toBeUndefined();
    }
    expect(served).toBeLessThanOrEqual(1_000n); // never more than the line holds, though the payer signed 1 e8s
    // A receipt that owes what was charged covers it: the line serves again.
    expect(await book.acceptReceipt(await sign({ ...base, seq: 2n, owedE8s: served }), [])).toBeUndefined();
    expect(await book.admit(base.lineId, payer, 1_000n - served)).toBeUndefined();
  });
});

describe('ReceiptStore writes', () => {
  it('a put changes memory at once and the log on a later turn, one append for a burst; flush() waits for it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'deai-store-'));
    const path = join(dir, 'receipts.json');
    const store = new ReceiptStore(path);
    const identity = Ed25519KeyIdentity.generate();
    const stored = async (lineId: bigint, seq: bigint) => {
      const receipt: Receipt = {
        lineId,
        payer: identity.getPrincipal().toText(),
        runner: identity.getPrincipal().toText(),
        seq,
        owedE8s: seq * 10n,
        inputTokens: 1n,
        outputTokens: 1n,
        requests: seq
      };
      const signature = new Uint8Array(await identity.sign(receiptSigningBytes(receipt)));
      return {
        signed: { receipt, publicKey: new Uint8Array(identity.getPublicKey().toDer()), signature },
        unsettledSinceMs: 0,
        settledSeq: 0n,
        settledE8s: 0n
      };
    };
    const burst = await Promise.all([stored(1n, 1n), stored(1n, 2n), stored(2n, 1n)]);
    for (const s of burst) store.put(s);
    // Nothing synchronous on the caller's turn: the request path never waits on the disk.
    expect(existsSync(path)).toBe(false);
    expect(store.get(1n)?.signed.receipt.seq).toBe(2n);
    await store.flush();
    const reread = new ReceiptStore(path);
    expect(reread.get(1n)?.signed.receipt.seq).toBe(2n);
    expect(reread.get(2n)?.signed.receipt.seq).toBe(1n);
    // A put during a write is written by the next one; flush() waits for that one too.
    store.put(await stored(1n, 3n));
    const flushed = store.flush();
    store.put(await stored(2n, 2n));
    await flushed;
    await store.flush();
    expect(new ReceiptStore(path).get(2n)?.signed.receipt.seq).toBe(2n);
    // The log only, no temporary file left; compacting leaves the snapshot and an empty log.
    expect(readdirSync(dir).sort()).toEqual(['receipts.json.log']);
    await store.compact();
    expect(readdirSync(dir).sort()).toEqual(['receipts.json', 'receipts.json.log']);
    expect(new ReceiptStore(path).get(1n)?.signed.receipt.seq).toBe(3n);
  });
});

describe('receipt signature checks on the runner', () => {
  const runner = Ed25519KeyIdentity.generate().getPrincipal().toText();
  const ed = Ed25519KeyIdentity.generate();
  const message = new TextEncoder().encode('pay the runner');
  const der = (identity: { getPublicKey(): { toDer(): ArrayBuffer | Uint8Array } }) => new Uint8Array(identity.getPublicKey().toDer());

  it('nativeVerifyPayerSignature agrees with the pure-JS check: valid, forged, another key, short, secp256k1', async () => {
    const signature = new Uint8Array(await ed.sign(message));
    const forged = signature.slice();
    forged[0] = forged[0]! ^ 1;
    const k1 = Secp256k1KeyIdentity.generate();
    const k1Signature = new Uint8Array(await k1.sign(message));
    const cases: Array<[Uint8Array, Uint8Array, boolean]> = [
      [der(ed), signature, true],
      [der(ed), forged, false],
      [der(Ed25519KeyIdentity.generate()), signature, false],
      [der(ed), signature.subarray(0, 63), false],
      [der(k1), k1Signature, true],
      [der(k1), signature, false]
    ];
    for (const [key, sig, valid] of cases) {
      expect(nativeVerifyPayerSignature(key, message, sig)).toBe(valid);
      expect(verifyPayerSignature(key, message, sig)).toBe(valid);
    }
  });

  it('a receipt resent exactly as held is not verified again; any change is', async () => {
    const payer = ed.getPrincipal().toText();
    let checks = 0;
    const counting: SignatureVerifier = (key, msg, sig) => {
      checks += 1;
      return verifyPayerSignature(key, msg, sig);
    };
    const credit = new MemoryCredit({ minReserveE8s: 1n });
    await credit.payer(payer).depositCredit(10_000n);
    const line = await credit.payer(payer).reserveCredit(runner, 1_000n);
    const book = new LineBook({
      runner,
      credit: credit.runner(runner),
      store: new ReceiptStore(join(mkdtempSync(join(tmpdir(), 'deai-books-')), 'receipts.json')),
      limits: { maxUnsignedE8s: 10_000n, maxUnsignedRequests: 10 },
      lineCacheMs: 0,
      nowMs: () => 1_000,
      verify: counting
    });
    const receipt: Receipt = { lineId: line.id, payer, runner, seq: 1n, owedE8s: 50n, inputTokens: 1n, outputTokens: 1n, requests: 1n };
    const signed: SignedReceipt = { receipt, publicKey: der(ed), signature: new Uint8Array(await ed.sign(receiptSigningBytes(receipt))) };
    expect(await book.acceptReceipt(signed, [])).toBeUndefined();
    expect(await book.acceptReceipt({ ...signed, receipt: { ...receipt } }, [])).toBeUndefined();
    expect(checks).toBe(1);
    // The held receipt's fields with another signature, or another field under the held signature: checked, refused.
    const flipped = signed.signature.slice();
    flipped[5] = flipped[5]! ^ 1;
    expect(await book.acceptReceipt({ ...signed, signature: flipped }, [])).toEqual({ code: 'BadSignature' });
    expect(await book.acceptReceipt({ ...signed, receipt: { ...receipt, inputTokens: 2n } }, [])).toEqual({ code: 'BadSignature' });
    expect(checks).toBe(3);
  });
});

describe('Settler', () => {
  it('settles alone after the timeout, at once for a closing line, never twice; a failure backs off', async () => {
    const { Settler } = await import('../../../src/runner/metered/settler.js');
    const runner = Ed25519KeyIdentity.generate().getPrincipal().toText();
    const payerId = Ed25519KeyIdentity.generate();
    const payer = payerId.getPrincipal().toText();
    const credit = new MemoryCredit({ minReserveE8s: 1n });
    await credit.payer(payer).depositCredit(10_000n);
    const a = await credit.payer(payer).reserveCredit(runner, 1_000n);
    const store = new ReceiptStore(join(mkdtempSync(join(tmpdir(), 'deai-settler-')), 'r.json'));
    const receipt: Receipt = { lineId: a.id, payer, runner, seq: 2n, owedE8s: 300n, inputTokens: 1n, outputTokens: 1n, requests: 2n };
    const signed = {
      receipt,
      publicKey: new Uint8Array(payerId.getPublicKey().toDer()),
      signature: new Uint8Array(await payerId.sign(receiptSigningBytes(receipt)))
    };
    store.put({ signed, unsettledSinceMs: 0, settledSeq: 0n, settledE8s: 0n });
    let now = 1_000;
    let failing = true;
    const api = credit.runner(runner);
    const flaky = {
      ...api,
      settleReceipt: (s: SignedReceipt) => (failing ? Promise.reject(new Error('ledger stopped')) : api.settleReceipt(s))
    };
    const settler = new Settler({ credit: flaky, store, settleAfterMs: 10_000, nowMs: () => now, log: () => undefined });
    await settler.tick();
    expect(credit.view(a.id)?.settledSeq).toBe(0n); // the payer still has time
    credit.lines.get(a.id)!.state = 'closing';
    await settler.tick(); // closing: at once, but the registry fails
    expect(credit.view(a.id)?.settledSeq).toBe(0n);
    failing = false;
    await settler.tick(); // backing off
    expect(credit.view(a.id)?.settledSeq).toBe(0n);
    now += 11_000;
    await settler.tick();
    expect(credit.view(a.id)).toMatchObject({ settledSeq: 2n, settledE8s: 300n });
    expect(store.get(a.id)?.settledSeq).toBe(2n);
    await settler.tick();
    expect(credit.calls.filter((c) => c === 'settleReceipt')).toHaveLength(1);
    // A line the registry no longer has (closed unused, then pruned) is done with, not retried forever.
    store.put({ signed: { ...signed, receipt: { ...receipt, lineId: 99n } }, unsettledSinceMs: 0, settledSeq: 0n, settledE8s: 0n });
    await settler.tick();
    expect(store.get(99n)?.settledE8s).toBe(300n);
    expect(credit.calls.filter((c) => c === 'settleReceipt')).toHaveLength(1);
  });

  it('attack: the payer settling the receipt seq itself with a tiny owed does not stop the runner settling (finding 2)', async () => {
    const { Settler } = await import('../../../src/runner/metered/settler.js');
    const runner = Ed25519KeyIdentity.generate().getPrincipal().toText();
    const payerId = Ed25519KeyIdentity.generate();
    const payer = payerId.getPrincipal().toText();
    const credit = new MemoryCredit({ minReserveE8s: 1n });
    await credit.payer(payer).depositCredit(10_000n);
    const a = await credit.payer(payer).reserveCredit(runner, 1_000n);
    const path = join(mkdtempSync(join(tmpdir(), 'deai-settler-')), 'r.json');
    const store = new ReceiptStore(path);
    const receipt: Receipt = { lineId: a.id, payer, runner, seq: 5n, owedE8s: 900n, inputTokens: 1n, outputTokens: 1n, requests: 5n };
    const signed = {
      receipt,
      publicKey: new Uint8Array(payerId.getPublicKey().toDer()),
      signature: new Uint8Array(await payerId.sign(receiptSigningBytes(receipt)))
    };
    store.put({ signed, unsettledSinceMs: 0, settledSeq: 0n, settledE8s: 0n });
    const [own] = await credit
      .payer(payer)
      .settleUsage([{ lineId: a.id, seq: 5n, owedE8s: 1n, inputTokens: 1n, outputTokens: 1n, requests: 1n }]);
    expect(own).toMatchObject({ ok: true, movedE8s: 1n });
    credit.lines.get(a.id)!.state = 'closing';
    // The receipt the runner settles alone with is on disk before it is used (puts are written asynchronously).
    const onDisk: Array<bigint | undefined> = [];
    const api = credit.runner(runner);
    const watching = {
      ...api,
      settleReceipt: (s: SignedReceipt) => {
        onDisk.push(new ReceiptStore(path).get(a.id)?.signed.receipt.seq);
        return api.settleReceipt(s);
      }
    };
    const settler = new Settler({ credit: watching, store, settleAfterMs: 10_000, nowMs: () => 1_000, log: () => undefined });
    await settler.tick();
    expect(onDisk).toEqual([5n]);
    expect(credit.view(a.id)).toMatchObject({ settledSeq: 5n, settledE8s: 900n });
    expect(store.get(a.id)?.settledE8s).toBe(900n);
  });
});
