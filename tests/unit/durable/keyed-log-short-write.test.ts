import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, describe, expect, it, vi } from 'vitest';

/** How the next writes behave: the real write of at most `limit` bytes, or nothing written at all. */
const disk = vi.hoisted(() => ({ limit: Infinity, writesNothing: false, calls: 0 }));

vi.mock('node:fs', async (importOriginal) => {
  const { fsWithWrite } = await import('../../support/fs-write-mock.ts');
  return fsWithWrite(await importOriginal<typeof import('node:fs')>(), () => {
    disk.calls += 1;
    return { limit: disk.writesNothing ? 0 : disk.limit };
  });
});

const { KeyedLog } = await import('../../../src/durable/keyed-log.js');

const fresh = (): string => join(mkdtempSync(join(tmpdir(), 'deai-log-')), 'store.json');

afterEach(() => Object.assign(disk, { limit: Infinity, writesNothing: false, calls: 0 }));

describe('KeyedLog appends on a disk that writes less than asked', () => {
  it('a short write goes on from where it stopped: every record is whole on disk and read back', async () => {
    const path = fresh();
    const log = new KeyedLog(path);
    disk.limit = 7;
    log.put('receipt:1', { seq: '41', owedE8s: '123456789', signature: 'ab'.repeat(64) });
    log.put('receipt:2', { seq: '42', owedE8s: '123456790', signature: 'cd'.repeat(64) });
    await log.flush();
    expect(disk.calls).toBeGreaterThan(10);
    expect(readFileSync(`${path}.log`, 'utf8').trim().split('\n')).toHaveLength(2);
    expect(Object.fromEntries(new KeyedLog(path).entries())).toEqual({
      'receipt:1': { seq: '41', owedE8s: '123456789', signature: 'ab'.repeat(64) },
      'receipt:2': { seq: '42', owedE8s: '123456790', signature: 'cd'.repeat(64) }
    });
  });

  it('a write that writes nothing (a full disk) fails the flush, keeps the records queued, and the next flush writes them', async () => {
    const path = fresh();
    const log = new KeyedLog(path);
    disk.writesNothing = true;
    log.put('a', 1);
    await expect(log.flush()).rejects.toThrow(/wrote nothing/);
    disk.writesNothing = false;
    await log.flush();
    expect(Object.fromEntries(new KeyedLog(path).entries())).toEqual({ a: 1 });
  });
});
