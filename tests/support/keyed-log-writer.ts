/**
 * A process that writes records to a KeyedLog as fast as the disk allows and prints each round it acknowledged (after
 * `flush()`), for tests/unit/durable/keyed-log.test.ts to kill -9 mid-write: round n puts `r<n>-0..9` and `latest = n`.
 * Compacts often (every 40 records) so a kill also lands mid-compaction.
 */
import { KeyedLog } from '../../src/durable/keyed-log.js';

const path = process.argv[2];
if (path === undefined) throw new Error('usage: keyed-log-writer <path>');
const log = new KeyedLog(path, { compactAfterRecords: 40 });
const pad = 'x'.repeat(300);
for (let n = 0; ; n++) {
  for (let i = 0; i < 10; i++) log.put(`r${n}-${i}`, { n, i, pad });
  log.put('latest', n);
  await log.flush();
  process.stdout.write(`${n}\n`);
}
