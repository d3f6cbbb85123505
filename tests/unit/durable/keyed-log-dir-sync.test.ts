import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

/**
 * A keyed log's directory fsyncs (the entry of a log just created, of a snapshot just renamed) and the links it will not
 * follow. A directory fsync the disk fails (EIO) fails the flush, and the records stay queued for the next; one the
 * platform refuses outright (EINVAL, as some network file systems answer) is skipped as before.
 */
const control = vi.hoisted(() => ({ dirSyncError: undefined as string | undefined, dirSyncs: 0 }));

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const fsync = (fd: number, callback: (error: NodeJS.ErrnoException | null) => void): void => {
    if (!fs.fstatSync(fd).isDirectory()) return fs.fsync(fd, callback);
    control.dirSyncs += 1;
    if (control.dirSyncError === undefined) return fs.fsync(fd, callback);
    const error: NodeJS.ErrnoException = new Error(`${control.dirSyncError}: directory fsync failed`);
    error.code = control.dirSyncError;
    callback(error);
  };
  return { ...fs, fsync, default: { ...fs, fsync } };
});

const { KeyedLog } = await import('../../../src/durable/keyed-log.js');

describe('a keyed log’s directory fsyncs', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'deai-dir-sync-'));
    control.dirSyncError = undefined;
    control.dirSyncs = 0;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('a directory fsync the disk fails (EIO) fails the flush; the next flush writes the records and syncs again', async () => {
    const path = join(dir, 'books.json');
    const log = new KeyedLog(path);
    control.dirSyncError = 'EIO';
    log.put('line-1', { owed: '5' });
    await expect(log.flush()).rejects.toMatchObject({ code: 'EIO' });
    expect(control.dirSyncs).toBe(1);
    control.dirSyncError = undefined;
    log.put('line-2', { owed: '7' });
    await log.flush();
    expect(control.dirSyncs).toBe(2);
    const reloaded = new KeyedLog(path);
    expect(Object.fromEntries(reloaded.entries())).toEqual({ 'line-1': { owed: '5' }, 'line-2': { owed: '7' } });
  });

  it('a snapshot whose rename cannot be made durable (EIO) fails the compaction and keeps the log', async () => {
    const path = join(dir, 'books.json');
    const log = new KeyedLog(path);
    log.put('a', 1);
    await log.flush();
    control.dirSyncError = 'EIO';
    await expect(log.compact()).rejects.toMatchObject({ code: 'EIO' });
    // The log was not truncated: the record is still there for a reload, whatever the snapshot's fate.
    expect(readFileSync(`${path}.log`, 'utf8')).toContain('"k":"a"');
    control.dirSyncError = undefined;
    await log.compact();
    expect(readFileSync(`${path}.log`, 'utf8')).toBe('');
    expect(Object.fromEntries(new KeyedLog(path).entries())).toEqual({ a: 1 });
  });

  it('a platform that refuses directory fsyncs (EINVAL) is written to as before', async () => {
    const path = join(dir, 'receipts.json');
    const log = new KeyedLog(path);
    control.dirSyncError = 'EINVAL';
    log.put('r', 'receipt');
    await log.flush();
    await log.compact();
    expect(control.dirSyncs).toBe(2);
    expect(Object.fromEntries(new KeyedLog(path).entries())).toEqual({ r: 'receipt' });
  });
});

describe('a keyed log follows no link put where its files go', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'deai-no-follow-'));
    control.dirSyncError = undefined;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('a link at the log’s path: the store refuses to load (ELOOP), and the file it points to is neither read nor cut', () => {
    const path = join(dir, 'books.json');
    const victim = join(dir, 'victim.txt');
    writeFileSync(victim, 'precious\n{"k":"x","v":1}\ntorn');
    symlinkSync(victim, `${path}.log`);
    expect(() => new KeyedLog(path)).toThrow(expect.objectContaining({ code: 'ELOOP' }) as Error);
    expect(readFileSync(victim, 'utf8')).toBe('precious\n{"k":"x","v":1}\ntorn');
  });

  it('a link put at the log’s path under a running store: the append fails (ELOOP), the target untouched', async () => {
    const path = join(dir, 'books.json');
    const victim = join(dir, 'victim.txt');
    writeFileSync(victim, 'precious\n');
    const log = new KeyedLog(path);
    log.put('a', 1);
    await log.flush();
    rmSync(`${path}.log`);
    symlinkSync(victim, `${path}.log`);
    log.put('b', 2);
    await expect(log.flush()).rejects.toMatchObject({ code: 'ELOOP' });
    // Nor does a compaction cut it (it truncates the log it logged to, not a link's target).
    await expect(log.compact()).rejects.toMatchObject({ code: 'ELOOP' });
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
  });

  it('a link at the snapshot’s temporary path: the compaction fails (ELOOP) and the file it points to is untouched', async () => {
    const path = join(dir, 'books.json');
    const victim = join(dir, 'victim.txt');
    writeFileSync(victim, 'precious\n');
    const log = new KeyedLog(path);
    log.put('a', 1);
    await log.flush();
    symlinkSync(victim, `${path}.tmp`);
    await expect(log.compact()).rejects.toMatchObject({ code: 'ELOOP' });
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(Object.fromEntries(new KeyedLog(path).entries())).toEqual({ a: 1 });
  });
});
