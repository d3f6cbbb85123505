/**
 * Review 7, finding: the append's open (and write and close) now run on the main thread, so a file system that does
 * not answer freezes the whole process, where before it held one thread-pool thread and the flushes waiting on it.
 *
 * A hung NFS or FUSE mount, or a stalled disk, cannot be made in a unit test; a FIFO at the log's path is a
 * deterministic stand-in: open(O_WRONLY) on a FIFO waits until a reader opens it. A child process (so that this
 * worker never freezes) puts one record and flushes it while a 10 ms interval measures its event loop; this test
 * opens the FIFO for reading 1 s later. With the open on the thread pool (fs/promises, as before this change) the
 * interval keeps ticking; with openSync the loop stops for the whole second.
 */
import { spawn } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

const keyedLog = fileURLToPath(new URL('../../../src/durable/keyed-log.ts', import.meta.url));

const child = `
import { execFileSync } from 'node:child_process';
import { KeyedLog } from ${JSON.stringify(keyedLog)};
const path = process.argv[2];
const log = new KeyedLog(path); // no log file yet
execFileSync('mkfifo', [path + '.log']); // the log's path now blocks an opener until someone reads
let last = performance.now();
let maxGapMs = 0;
const ticker = setInterval(() => {
  const now = performance.now();
  maxGapMs = Math.max(maxGapMs, now - last);
  last = now;
}, 10);
console.log('flushing');
log.put('a', 1);
await log.flush().catch(() => undefined); // fdatasync on a FIFO fails (EINVAL): only the loop's gap matters here
await new Promise((resolve) => setTimeout(resolve, 50));
clearInterval(ticker);
console.log(JSON.stringify({ maxGapMs }));
`;

describe('review 7: a blocking open freezes the event loop', () => {
  it('the event loop keeps turning while the log cannot be opened', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'review7-fifo-'));
    const script = join(dir, 'child.mts');
    writeFileSync(script, child);
    const path = join(dir, 'store.json');
    const proc = spawn(process.execPath, ['--import', 'tsx', script, path], { stdio: ['ignore', 'pipe', 'inherit'] });
    const killer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    let out = '';
    let reader: number | undefined;
    const flushing = new Promise<void>((resolve) =>
      proc.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('flushing')) resolve();
      })
    );
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    try {
      await flushing;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      reader = openSync(`${path}.log`, constants.O_RDONLY | constants.O_NONBLOCK); // lets the child's open return
      await exited;
      const { maxGapMs } = JSON.parse(out.slice(out.indexOf('{'))) as { maxGapMs: number };
      console.log(`longest event-loop gap in the child: ${maxGapMs.toFixed(0)} ms`);
      expect(maxGapMs).toBeLessThan(250); // FAILS: ~1,000 ms (the whole time the open waited)
    } finally {
      clearTimeout(killer);
      if (reader !== undefined) closeSync(reader);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
