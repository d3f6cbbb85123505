import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Ed25519KeyIdentity } from '@dfinity/identity';
import { describe, expect, it, vi } from 'vitest';

import { receiptSigningBytes, type Receipt } from '../../../src/core/credit/index.js';
import { ReceiptStore } from '../../../src/runner/metered/receipt-store.js';

/** Every file operation the store makes, in order: what is on disk when the new file replaces the old one. */
const ops = vi.hoisted(() => [] as string[]);

vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...fs,
    open: async (...args: Parameters<typeof fs.open>) => {
      const handle = await fs.open(...args);
      const sync = handle.sync.bind(handle);
      const writeFile = handle.writeFile.bind(handle);
      return Object.assign(handle, {
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

describe('ReceiptStore', () => {
  it('attack: the new file is fsynced before it replaces the old one, so a power loss cannot leave it torn (review 2, F10)', async () => {
    const identity = Ed25519KeyIdentity.generate();
    const receipt: Receipt = {
      lineId: 7n,
      payer: identity.getPrincipal().toText(),
      runner: Ed25519KeyIdentity.generate().getPrincipal().toText(),
      seq: 1n,
      owedE8s: 50n,
      inputTokens: 1n,
      outputTokens: 1n,
      requests: 1n
    };
    const signed = {
      receipt,
      publicKey: new Uint8Array(identity.getPublicKey().toDer()),
      signature: new Uint8Array(await identity.sign(receiptSigningBytes(receipt)))
    };
    const path = join(mkdtempSync(join(tmpdir(), 'deai-store-')), 'receipts.json');
    const store = new ReceiptStore(path);
    store.put({ signed, unsettledSinceMs: 1, settledSeq: 0n, settledE8s: 0n });
    expect(ops).toEqual([]); // nothing on the request path
    await store.flush();
    const tmp = `${path}.tmp`;
    expect(ops.slice(0, 3)).toEqual([`write ${tmp}`, `sync ${tmp}`, `rename ${tmp}`]);
    expect(new ReceiptStore(path).get(7n)?.signed.receipt.owedE8s).toBe(50n);
  });
});
