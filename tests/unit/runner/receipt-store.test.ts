import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { Ed25519KeyIdentity } from '@dfinity/identity';
import { describe, expect, it, vi } from 'vitest';

import { receiptSigningBytes, signedReceiptToJson, type Receipt } from '../../../src/core/credit/index.js';
import { ReceiptStore } from '../../../src/runner/metered/receipt-store.js';

/** Every file operation the store makes, in order: what is on disk when the new file replaces the old one. */
const ops = vi.hoisted(() => [] as string[]);

/** Appends and directory syncs go through node:fs's callback API (opened, written, synced and closed on the thread pool). */
vi.mock('node:fs', async (importOriginal) => {
  const { fsWithOps } = await import('../../support/fs-write-mock.ts');
  return fsWithOps(await importOriginal<typeof import('node:fs')>(), (op, path) => ops.push(`${op} ${path}`));
});

vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...fs,
    open: async (...args: Parameters<typeof fs.open>) => {
      const handle = await fs.open(...args);
      const sync = handle.sync.bind(handle);
      const datasync = handle.datasync.bind(handle);
      const write = handle.write.bind(handle) as (...w: unknown[]) => Promise<unknown>;
      const truncate = handle.truncate.bind(handle);
      const writeFile = handle.writeFile.bind(handle);
      return Object.assign(handle, {
        write: async (...w: unknown[]) => {
          ops.push(`append ${String(args[0])}`);
          return write(...w);
        },
        datasync: async () => {
          ops.push(`datasync ${String(args[0])}`);
          return datasync();
        },
        truncate: async (len?: number) => {
          ops.push(`truncate ${String(args[0])}`);
          return truncate(len);
        },
        writeFile: async (...w: Parameters<typeof handle.writeFile>) => {
          ops.push(`write ${String(args[0])}`);
          return writeFile(...w);
        },
        sync: async () => {
          ops.push(`sync ${String(args[0])}`);
          return sync();
        }
      });
    },
    writeFile: async (...args: Parameters<typeof fs.writeFile>) => {
      ops.push(`write ${String(args[0])}`);
      return fs.writeFile(...args);
    },
    rename: async (from: string, to: string) => {
      ops.push(`rename ${from}`);
      return fs.rename(from, to);
    }
  };
});

async function signedReceipt(lineId: bigint, seq: bigint) {
  const identity = Ed25519KeyIdentity.generate();
  const receipt: Receipt = {
    lineId,
    payer: identity.getPrincipal().toText(),
    runner: Ed25519KeyIdentity.generate().getPrincipal().toText(),
    seq,
    owedE8s: 50n * seq,
    inputTokens: 1n,
    outputTokens: 1n,
    requests: seq
  };
  return {
    receipt,
    publicKey: new Uint8Array(identity.getPublicKey().toDer()),
    signature: new Uint8Array(await identity.sign(receiptSigningBytes(receipt)))
  };
}

describe('ReceiptStore', () => {
  it('a put is appended and fsynced before flush() resolves; a compaction fsyncs the snapshot before its rename and truncates the log last', async () => {
    ops.length = 0;
    const path = join(mkdtempSync(join(tmpdir(), 'deai-store-')), 'receipts.json');
    const store = new ReceiptStore(path, { compactAfterRecords: 3 });
    store.put({ signed: await signedReceipt(7n, 1n), unsettledSinceMs: 1, settledSeq: 0n, settledE8s: 0n });
    expect(ops).toEqual([]); // nothing on the request path
    await store.flush();
    const log = `${path}.log`;
    const dir = dirname(path);
    // A new log's directory entry is made durable too.
    expect(ops).toEqual([`append ${log}`, `datasync ${log}`, `sync ${dir}`]);
    expect(new ReceiptStore(path).get(7n)?.signed.receipt.owedE8s).toBe(50n);
    ops.length = 0;
    store.put({ signed: await signedReceipt(7n, 2n), unsettledSinceMs: 1, settledSeq: 0n, settledE8s: 0n });
    store.put({ signed: await signedReceipt(8n, 1n), unsettledSinceMs: 1, settledSeq: 0n, settledE8s: 0n });
    // Four records in the log, twice the two live lines: compacted.
    store.put({ signed: await signedReceipt(8n, 2n), unsettledSinceMs: 1, settledSeq: 0n, settledE8s: 0n });
    await store.flush();
    const tmp = `${path}.tmp`;
    expect(ops).toEqual([
      `append ${log}`,
      `datasync ${log}`,
      `write ${tmp}`,
      `sync ${tmp}`,
      `rename ${tmp}`,
      `sync ${dir}`,
      `truncate ${log}`,
      `datasync ${log}`
    ]);
    const reread = new ReceiptStore(path);
    expect(reread.get(7n)?.signed.receipt.owedE8s).toBe(100n);
    expect(reread.get(8n)?.signed.receipt.seq).toBe(2n);
  });

  it('reads the whole-file receipts of the previous format', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'deai-store-')), 'receipts.json');
    const signed = await signedReceipt(9n, 4n);
    const line = { signed: signedReceiptToJson(signed), unsettledSinceMs: 5, settledSeq: '2', settledE8s: '100' };
    writeFileSync(path, JSON.stringify({ version: 1, lines: [line] }));
    expect(new ReceiptStore(path).get(9n)).toMatchObject({ unsettledSinceMs: 5, settledSeq: 2n, settledE8s: 100n });
  });
});
