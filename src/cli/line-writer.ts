import { createWriteStream } from 'node:fs';

export interface LineWriter {
  /** Queues one line; it is written on a later turn with the others queued meanwhile. */
  line(text: string): void;
  /** Resolves once every queued line is written (before the process exits). */
  flush(): Promise<void>;
}

/** How long a line may wait for others to share its write. */
export const LINE_BATCH_MS = 50;

/**
 * Lines for a long-running command's per-request log (`deai gateway`), written off the request path: console.log on a
 * file or a pipe is a synchronous write(2) per call on Linux, one per request under load. Lines queued within
 * `batchMs` of each other are joined and handed to a write stream on `fd`, whose writes run in libuv's thread pool.
 */
export function lineWriter(fd: number, batchMs = LINE_BATCH_MS): LineWriter {
  const stream = createWriteStream('', { fd, autoClose: false });
  let queued: string[] = [];
  let scheduled = false;
  const write = (): void => {
    scheduled = false;
    if (queued.length === 0) return;
    const text = queued.join('');
    queued = [];
    stream.write(text);
  };
  return {
    line(text) {
      queued.push(`${text}\n`);
      if (scheduled) return;
      scheduled = true;
      setTimeout(write, batchMs).unref();
    },
    flush: () =>
      new Promise<void>((resolve) => {
        write();
        stream.write('', () => resolve());
      })
  };
}
