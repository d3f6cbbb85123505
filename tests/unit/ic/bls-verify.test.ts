import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { blsVerify, Certificate, lookupResultToBuffer } from '@dfinity/agent';
import { Principal } from '@dfinity/principal';
import { afterEach, describe, expect, it } from 'vitest';

import { BlsVerifyPool } from '../../../src/ic/bls-verify.ts';
import { certificateMessage, signTree } from '../../../src/localnet/certification/certificate.ts';
import { buildTree, leb128, reconstruct } from '../../../src/localnet/certification/hash-tree.ts';
import { BLS_ROOT_KEY_DER_PREFIX, generateHostKeys } from '../../../src/localnet/crypto/host-keys.ts';
import { decodeCbor, encodeCbor } from '../../../src/localnet/crypto/cbor.ts';

// A certificate as the localnet serves it (a state tree signed with its BLS root key), and its signed parts.
const keys = generateHostKeys();
const tree = buildTree(new Map([['time', leb128(BigInt(Date.now()) * 1_000_000n)]]));
const certificate = signTree(tree, keys);
const pk = keys.rootKeyDer.slice(BLS_ROOT_KEY_DER_PREFIX.length);
const msg = certificateMessage(reconstruct(tree));
const { signature: sig } = decodeCbor(certificate) as { signature: Uint8Array };
const flipped = (bytes: Uint8Array, at: number): Uint8Array => bytes.map((b, i) => (i === at ? b ^ 1 : b));
const canisterId = Principal.fromText('aaaaa-aa');

const pools: BlsVerifyPool[] = [];
const pool = (options?: ConstructorParameters<typeof BlsVerifyPool>[0]): BlsVerifyPool => {
  const p = new BlsVerifyPool(options);
  pools.push(p);
  return p;
};
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

/** Waits (on events, not a clock) until the pool has a ready worker: checks before that run in-thread by design. */
async function warm(p: BlsVerifyPool): Promise<void> {
  while (p.stats.inWorker === 0 && p.stats.crashes === 0) {
    await p.verify(pk, sig, msg);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('BlsVerifyPool', () => {
  it('gives the agent’s answer on a worker thread: a real certificate signature is valid, a tampered one is not', async () => {
    const p = pool();
    await warm(p);
    const before = p.stats.inWorker;
    await expect(p.verify(pk, sig, msg)).resolves.toBe(true);
    await expect(p.verify(pk, sig, flipped(msg, 5))).resolves.toBe(false);
    await expect(p.verify(generateHostKeys().rootKeyDer.slice(BLS_ROOT_KEY_DER_PREFIX.length), sig, msg)).resolves.toBe(false);
    // A byte of the signature flipped: the agent's check throws (not a point) or says false; the pool does the same.
    const tampered = flipped(sig, sig.length - 1);
    const inThread = (() => {
      try {
        return blsVerify(pk, tampered, msg);
      } catch {
        return 'throws';
      }
    })();
    expect(inThread).not.toBe(true);
    if (inThread === 'throws') await expect(p.verify(pk, tampered, msg)).rejects.toThrow(/BLS verification failed/);
    else await expect(p.verify(pk, tampered, msg)).resolves.toBe(false);
    expect(p.stats.inWorker - before).toBe(4);
    expect(p.stats.crashes).toBe(0);
  });

  it('is what Certificate.create uses: the localnet’s certificate verifies, one with another key’s signature is refused', async () => {
    const p = pool();
    await warm(p);
    const inWorker = p.stats.inWorker;
    const cert = await Certificate.create({ certificate, rootKey: keys.rootKeyDer, canisterId, blsVerify: p.verify });
    expect(lookupResultToBuffer(cert.lookup_path(['time']))).toBeDefined();
    const forgedSig = (decodeCbor(signTree(tree, generateHostKeys())) as { signature: Uint8Array }).signature;
    await expect(
      Certificate.create({
        certificate: encodeCbor({ tree, signature: forgedSig }),
        rootKey: keys.rootKeyDer,
        canisterId,
        blsVerify: p.verify
      })
    ).rejects.toThrow(/signature/i);
    expect(p.stats.inWorker - inWorker).toBe(2);
  });

  it('answers concurrent checks each with its own result, on at most `size` workers, and bounds what it queues', async () => {
    const p = pool({ size: 2, maxQueued: 4 });
    await warm(p);
    const [inWorker, inThread] = [p.stats.inWorker, p.stats.inThread];
    const jobs = Array.from({ length: 12 }, (_, i) => (i % 3 === 0 ? p.verify(pk, sig, flipped(msg, i)) : p.verify(pk, sig, msg)));
    const results = await Promise.all(jobs);
    expect(results).toEqual(Array.from({ length: 12 }, (_, i) => i % 3 !== 0));
    // Past four queued jobs the rest ran in-thread (a burst cannot queue without bound).
    expect(p.stats.inWorker - inWorker).toBe(4);
    expect(p.stats.inThread - inThread).toBe(8);
    expect(p.stats.crashes).toBe(0);
  });

  it('checks in-thread what a dying worker held, and stops starting workers after maxCrashes', async () => {
    const p = pool({ size: 1, maxCrashes: 2, workerUrl: new URL('../../fixtures/ic/crashing-bls-worker.mjs', import.meta.url) });
    // The first checks run in-thread while the worker starts; once it is ready, the next job kills it.
    await warm(p);
    while (p.stats.crashes < 2) {
      await expect(p.verify(pk, sig, msg)).resolves.toBe(true);
      await expect(p.verify(pk, sig, flipped(msg, 0))).resolves.toBe(false);
      await new Promise((resolve) => setImmediate(resolve));
    }
    const inThread = p.stats.inThread;
    await expect(p.verify(pk, sig, msg)).resolves.toBe(true);
    expect(p.stats.inThread).toBe(inThread + 1);
  });

  it('falls back in-thread when a worker throws instead of answering', async () => {
    const p = pool({ size: 1, maxCrashes: 1, workerUrl: new URL('../../fixtures/ic/throwing-bls-worker.mjs', import.meta.url) });
    await warm(p);
    const results = await Promise.all([p.verify(pk, sig, msg), p.verify(pk, sig, flipped(msg, 1))]);
    expect(results).toEqual([true, false]);
    expect(p.stats.crashes).toBe(1);
  });

  it('after close, checks run in-thread and the answers stay right', async () => {
    const p = pool();
    await warm(p);
    await p.close();
    const inThread = p.stats.inThread;
    await expect(p.verify(pk, sig, msg)).resolves.toBe(true);
    await expect(p.verify(pk, sig, flipped(msg, 2))).resolves.toBe(false);
    expect(p.stats.inThread).toBe(inThread + 2);
  });

  // A CLI command makes one update call and ends: the worker its check started is still loading the agent then, and
  // the process must exit anyway (it did not, under tsx, while the worker was unref'd before its listeners).
  it('lets a process end while the worker its first check started is still loading', async () => {
    const script = `import { BlsVerifyPool } from ${JSON.stringify(join(import.meta.dirname, '../../../src/ic/bls-verify.ts'))};
await new BlsVerifyPool().verify(new Uint8Array(96), new Uint8Array(48), new Uint8Array(1)).catch(() => undefined);
console.log('checked');`;
    const dir = mkdtempSync(join(tmpdir(), 'deai-bls-exit-'));
    try {
      writeFileSync(join(dir, 'one-check.mts'), script);
      const run = await promisify(execFile)(process.execPath, ['--import', 'tsx', join(dir, 'one-check.mts')], {
        cwd: join(import.meta.dirname, '../../..'),
        timeout: 30_000
      });
      expect(run.stdout).toContain('checked');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 40_000);
});
