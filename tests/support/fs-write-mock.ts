/**
 * node:fs with its callback `write` replaced, for vi.mock factories testing what a writer does when the disk writes
 * less than asked or fails: `decide` sees each write's length and says what happens to it.
 */
type Fs = typeof import('node:fs');

/** A write of at most `limit` bytes (the real one), or an error instead of any write. */
export type WriteOutcome = { limit: number } | { error: NodeJS.ErrnoException };

export function fsWithWrite(fs: Fs, decide: (length: number) => WriteOutcome): Fs & { default: Fs } {
  const write = ((
    fd: number,
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number | null,
    callback: (error: NodeJS.ErrnoException | null, written: number) => void
  ) => {
    const outcome = decide(length);
    if ('error' in outcome) return callback(outcome.error, 0);
    if (outcome.limit <= 0) return callback(null, 0);
    fs.write(fd, buffer, offset, Math.min(length, outcome.limit), position, (error, written) => callback(error, written));
  }) as Fs['write'];
  return { ...fs, write, default: { ...fs, write } };
}
