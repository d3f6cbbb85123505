import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { lineWriter } from '../../../src/cli/line-writer.ts';

describe('lineWriter', () => {
  it('writes nothing on the caller’s turn; the lines of a batch go out together, in order; flush() waits for them', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'deai-lines-')), 'log');
    const fd = openSync(path, 'w');
    try {
      const log = lineWriter(fd);
      log.line('served 1');
      log.line('served 2');
      expect(readFileSync(path, 'utf8')).toBe('');
      await log.flush();
      log.line('served 3');
      await log.flush();
      expect(readFileSync(path, 'utf8')).toBe('served 1\nserved 2\nserved 3\n');
      // Without a flush, a line goes out within the batch interval.
      log.line('served 4');
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(readFileSync(path, 'utf8')).toBe('served 1\nserved 2\nserved 3\nserved 4\n');
    } finally {
      closeSync(fd);
    }
  });
});
