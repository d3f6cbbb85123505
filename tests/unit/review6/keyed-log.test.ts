import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { KeyedLog } from '../../../src/durable/keyed-log.ts';

describe('review 6: the keyed log kept open between appends', () => {
  it('a log file removed while the handle is open: flush() resolves, yet the record is on no file a restart reads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'review6-log-'));
    const path = join(dir, 'books.json');
    const log = new KeyedLog(path);
    log.put('a', 1);
    await log.flush();
    rmSync(`${path}.log`); // log rotation, an operator's cleanup, a second instance compacting differently…
    log.put('b', 2);
    await log.flush(); // "on disk": written and fdatasynced to the unlinked inode
    // Before the change each append opened the path again: 'b' would be in a new books.json.log.
    expect(new KeyedLog(path).get('b')).toBe(2); // failed before the review-6 fixes
    rmSync(dir, { recursive: true, force: true });
  });

  it('its directory removed while idle: every later flush fails (no mkdir once the entry was durable) and never recovers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'review6-log-'));
    const path = join(dir, 'sub', 'books.json');
    const log = new KeyedLog(path);
    log.put('a', 1);
    await log.flush();
    await new Promise((resolve) => setTimeout(resolve, 1_200)); // idle: the handle is closed
    rmSync(join(dir, 'sub'), { recursive: true, force: true });
    log.put('b', 2);
    // Before the change append() ran mkdir first: the directory came back and 'b' was written.
    await expect(log.flush()).resolves.toBeUndefined(); // failed before the review-6 fixes
    expect(existsSync(`${path}.log`)).toBe(true);
    rmSync(dir, { recursive: true, force: true });
  });
});
