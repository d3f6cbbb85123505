import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { KeyedLog } from '../../../src/durable/keyed-log.js';

const fresh = (): string => join(mkdtempSync(join(tmpdir(), 'deai-log-')), 'store.json');
const writer = join(import.meta.dirname, '..', '..', 'support', 'keyed-log-writer.ts');

describe('KeyedLog', () => {
  it('puts are queued off the caller’s turn, appended together, and read back after a restart', async () => {
    const path = fresh();
    const log = new KeyedLog(path);
    log.put('a', 1);
    log.put('b', { x: 'y' });
    log.put('a', 2);
    log.delete('b');
    expect(existsSync(`${path}.log`)).toBe(false); // nothing on the caller's turn
    expect(log.get('a')).toBe(2);
    await log.flush();
    expect(readFileSync(`${path}.log`, 'utf8').trim().split('\n')).toHaveLength(4); // one append, four lines
    expect([...new KeyedLog(path).entries()]).toEqual([['a', 2]]);
  });

  it('compacts into one snapshot once the log is long, and a crash after the rename replays harmlessly', async () => {
    const path = fresh();
    const log = new KeyedLog(path, { compactAfterRecords: 10 });
    for (let i = 0; i < 12; i++) log.put(`k${i % 3}`, i);
    await log.flush();
    expect(statSync(`${path}.log`).size).toBe(0);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ version: 2, records: { k0: 9, k1: 10, k2: 11 } });
    // The log not yet truncated when the process died: its records replay over the snapshot that holds them.
    appendFileSync(`${path}.log`, '{"k":"k0","v":9}\n{"k":"k1","d":1}\n');
    writeFileSync(path, JSON.stringify({ version: 2, records: { k0: 9, k2: 11 } }));
    expect(Object.fromEntries(new KeyedLog(path).entries())).toEqual({ k0: 9, k2: 11 });
  });

  it('a torn last line is dropped and cut off, so the next append is not glued to it', async () => {
    const path = fresh();
    const log = new KeyedLog(path);
    log.put('a', 1);
    await log.flush();
    appendFileSync(`${path}.log`, '{"k":"a","v":'); // the process died mid-append: never acknowledged
    const reopened = new KeyedLog(path);
    expect(reopened.droppedOnLoad).toBe(1);
    expect(reopened.get('a')).toBe(1);
    reopened.put('b', 2);
    await reopened.flush();
    const again = new KeyedLog(path);
    expect(again.droppedOnLoad).toBe(0);
    expect(Object.fromEntries(again.entries())).toEqual({ a: 1, b: 2 });
  });

  it('reads a snapshot of an older format through `legacy`, and rejects a flush the disk refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'deai-log-'));
    const path = join(dir, 'old.json');
    writeFileSync(path, JSON.stringify({ version: 1, items: [['a', 1]] }));
    const log = new KeyedLog(path, {
      legacy: (raw) => new Map((raw as { items: Array<[string, unknown]> }).items)
    });
    expect(log.get('a')).toBe(1);
    // A parent that is a file: every write fails.
    const broken = new KeyedLog(join(path, 'nested', 'store.json'));
    broken.put('a', 1);
    await expect(broken.flush()).rejects.toThrow(/ENOTDIR/);
    await expect(broken.flush()).rejects.toThrow(/ENOTDIR/); // still queued: retried, still refused
  });

  it('kill -9 of a writer mid-write loses nothing it acknowledged (compactions included)', async () => {
    const path = fresh();
    const child = spawn(process.execPath, ['--import', 'tsx', writer, path], { stdio: ['ignore', 'pipe', 'inherit'] });
    let acked = -1;
    let buffered = '';
    await new Promise<void>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code) => (acked >= 150 ? resolve() : reject(new Error(`the writer exited (${code}) after ${acked}`))));
      child.stdout.on('data', (data: Buffer) => {
        buffered += data.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        if (lines.length > 0) acked = Number(lines[lines.length - 1]);
        if (acked >= 150 && child.exitCode === null && !child.killed) child.kill('SIGKILL');
      });
    });
    const log = new KeyedLog(path);
    expect(log.get('latest')).toBeGreaterThanOrEqual(acked);
    for (let n = 0; n <= acked; n++) for (let i = 0; i < 10; i++) expect(log.get(`r${n}-${i}`)).toMatchObject({ n, i });
  }, 60_000);
});
