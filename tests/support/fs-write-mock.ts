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

/** A callback-API file operation fsWithOps reports, with the path its descriptor was opened on. */
export type FileOp = 'append' | 'datasync' | 'sync';

/**
 * node:fs with its callback `open`, `write`, `fdatasync` and `fsync` reporting each write and sync (in the order they
 * are asked) with the path the descriptor was opened on, for vi.mock factories testing what a writer makes durable.
 */
export function fsWithOps(fs: Fs, report: (op: FileOp, path: string) => void): Fs & { default: Fs } {
  const paths = new Map<number, string>();
  const open = ((path: string, flags: number, ...rest: unknown[]) => {
    const callback = rest.pop() as (error: NodeJS.ErrnoException | null, fd: number) => void;
    fs.open(path, flags, ...(rest as [number]), (error, fd) => {
      if (error === null) paths.set(fd, String(path));
      callback(error, fd);
    });
  }) as Fs['open'];
  const write = ((fd: number, ...rest: unknown[]) => {
    report('append', String(paths.get(fd)));
    (fs.write as (...args: unknown[]) => void)(fd, ...rest);
  }) as Fs['write'];
  const fdatasync = ((fd: number, callback: (error: NodeJS.ErrnoException | null) => void): void => {
    report('datasync', String(paths.get(fd)));
    fs.fdatasync(fd, callback);
  }) as Fs['fdatasync'];
  const fsync = ((fd: number, callback: (error: NodeJS.ErrnoException | null) => void): void => {
    report('sync', String(paths.get(fd)));
    fs.fsync(fd, callback);
  }) as Fs['fsync'];
  const mocked = { open, write, fdatasync, fsync };
  return { ...fs, ...mocked, default: { ...fs, ...mocked } };
}
