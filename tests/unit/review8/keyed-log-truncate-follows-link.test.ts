import { mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { KeyedLog } from '../../../src/durable/keyed-log.ts';

/**
 * Review 8, finding 6. e7de5cb refuses a link at `<path>.log` for the APPEND (O_NOFOLLOW), but the compaction's
 * truncation of the log (`open(this.logPath, 'r+')` then truncate(0), keyed-log.ts:209) still follows it. With nothing
 * queued (a runner's ReceiptStore.compact() on close, or any compact() after a flush), whoever planted the link -- the
 * threat the commit names -- gets the file it points to emptied.
 */
describe('review8: the keyed log’s compaction and a link at the log’s path', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'deai-review8-trunc-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('leaves the linked file alone (before the fix: the victim is truncated to 0 bytes)', async () => {
    const path = join(dir, 'receipts.json');
    const victim = join(dir, 'victim.txt');
    writeFileSync(victim, 'precious\n');
    const log = new KeyedLog(path);
    log.put('a', 1);
    await log.flush();
    // The link is planted where the log is, after the last append.
    unlinkSync(`${path}.log`);
    symlinkSync(victim, `${path}.log`);
    await log.compact().catch(() => undefined);
    // Before the fix: ''.
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
  });
});
