/**
 * Review 7, finding: the log's directory entry is fsynced again only when the *folder* was missing (openSync said
 * ENOENT). When the log *file* is gone but its folder is not (an operator's cleanup, a tmp cleaner, a restore), O_CREAT
 * makes a new file without an error, `logEntryDurable` stays true, and no directory fsync follows: flush() acknowledges
 * records whose file a power cut can take away with its directory entry.
 *
 * The PoC records every directory fsync (syncDir fsyncs the directory through node:fs's callback `fsync`).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { describe, expect, it, vi } from 'vitest';

const dirSyncs = vi.hoisted(() => [] as string[]);

vi.mock('node:fs', async (importOriginal) => {
  const { fsWithOps } = await import('../../support/fs-write-mock.ts');
  return fsWithOps(await importOriginal<typeof import('node:fs')>(), (op, path) => {
    if (op === 'sync') dirSyncs.push(path);
  });
});

const { KeyedLog } = await import('../../../src/durable/keyed-log.js');

describe('review 7: a log file made again is not made durable', () => {
  it('the directory is fsynced after the log is created, and again after it is created anew', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'review7-entry-')), 'store.json');
    const log = new KeyedLog(path);
    log.put('a', 1);
    await log.flush();
    expect(dirSyncs).toEqual([dirname(path)]); // the first creation: synced

    rmSync(`${path}.log`); // the file goes, its folder stays
    log.put('b', 2);
    await log.flush(); // acknowledged
    expect(existsSync(`${path}.log`)).toBe(true); // a new file holds 'b'…
    expect(dirSyncs).toEqual([dirname(path), dirname(path)]); // FAILS: …but its directory entry was never fsynced
  });
});
