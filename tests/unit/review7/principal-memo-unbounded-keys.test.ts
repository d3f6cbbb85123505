/**
 * Review 7, finding: `principalBytes` memoizes every text it is given, whatever its length, before checking it.
 *
 * The runner's `POST /deai/v1/receipts` is unauthenticated and reads up to 64 KiB. Its body goes through
 * `parseReceipt` → `book.acceptReceipt` → `receiptProblem` → `receiptSigningBytes` → `principalBytes(receipt.payer)`
 * before anything checks who sent it (src/runner/metered/server.ts `receipts`, line-book.ts `acceptReceipt`). A
 * `payer` of ~60,000 characters is now kept as a key of the module-level Map:
 *  - V8 hashes strings longer than 16,383 characters by their length only, so texts of one length all collide, and a
 *    lookup compares the text with each colliding key; texts that differ only at their end make each comparison read
 *    the whole key. Measured here: about 1 ms of main-thread CPU per call, against about 1 µs without the memo (length
 *    > 63 is refused at once by `principalTextProblem`).
 *  - Up to 256 such keys stay reachable until the Map fills and is cleared: about 15 MB pinned (30 MB for two-byte
 *    strings), where nothing was kept before.
 * Both are measured, so the thresholds leave a wide margin (the failures today are 20x and 4x past them).
 */
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';

import { describe, expect, it } from 'vitest';

import { receiptProblem } from '../../../src/core/credit/receipt.ts';
import { principalBytes, principalTextProblem } from '../../../src/core/principal-text.ts';
import { parseReceipt } from '../../../src/runner/metered/responses.ts';

const LENGTH = 60_000; // fits the 64 KiB body of POST /deai/v1/receipts with the rest of the receipt
const PREFIX = 'q'.repeat(LENGTH - 8);
/** A fresh, flat string (as JSON.parse makes it from a request body) of one length, differing only at its end. */
const attackerText = (i: number): string => JSON.parse(JSON.stringify(PREFIX + String(10_000_000 + i))) as string;

const receiptBody = (payer: string): string =>
  JSON.stringify({
    receipt: { lineId: '1', payer, runner: 'aaaaa-aa', seq: '1', owedE8s: '1', inputTokens: '1', outputTokens: '1', requests: '1' },
    publicKey: 'ab'.repeat(44),
    signature: 'cd'.repeat(64)
  });

describe('review 7: principalBytes remembers texts of any length', () => {
  it('CPU: a stream of long same-length texts costs about 1 ms per call (the length check alone: about 1 µs)', () => {
    // Reachable unauthenticated: the receipts route parses such a body and reaches principalBytes(payer) before any
    // signature is checked ('OutOfRange' is receiptSigningBytes refusing the payer that principalBytes gave up on).
    const body = receiptBody(attackerText(0));
    expect(body.length).toBeLessThan(64 * 1024);
    const parsed = parseReceipt(body);
    expect(receiptProblem(parsed!.signed!, () => true)).toBe('OutOfRange');

    const texts = Array.from({ length: 1_024 }, (_, i) => attackerText(1_000 + i));
    const direct = Array.from({ length: 1_024 }, (_, i) => attackerText(5_000 + i));
    let started = performance.now();
    for (const text of direct) principalTextProblem(text);
    const directUs = ((performance.now() - started) / direct.length) * 1000;
    started = performance.now();
    for (const text of texts) expect(principalBytes(text)).toBeUndefined();
    const memoUs = ((performance.now() - started) / texts.length) * 1000;
    console.log(`principalBytes ${memoUs.toFixed(1)} µs per call; principalTextProblem ${directUs.toFixed(2)} µs`);
    expect(memoUs).toBeLessThan(50); // FAILS: ~1,000 µs
  });

  it('memory: 255 long texts stay reachable after their requests are gone (before: nothing kept)', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    // Start from an emptied memo: 256 distinct short misses make it clear itself.
    for (let i = 0; i < 256; i++) principalBytes(`x${i}`);
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 255; i++) principalBytes(attackerText(20_000 + i));
    gc();
    const retainedMb = (process.memoryUsage().heapUsed - before) / 1e6;
    console.log(`retained after GC: ${retainedMb.toFixed(1)} MB`);
    expect(retainedMb).toBeLessThan(4); // FAILS: ~15 MB
  });
});
