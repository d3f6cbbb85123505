/** Small synchronous file primitives with the fsync discipline crash safety needs. */
import fs from 'node:fs';
import path from 'node:path';

/** write(2) may write less than asked; loop until every byte is at its position. */
export function writeAllSync(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.byteLength) {
    done += fs.writeSync(fd, bytes, done, bytes.byteLength - done, position + done);
  }
}

/** Makes a directory's entries (created, renamed, removed files) durable. */
export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes a new file from parts and, when asked, fsyncs its contents before returning. */
export function writeFileDurable(file: string, parts: readonly Uint8Array[], fsync: boolean): void {
  const fd = fs.openSync(file, 'w');
  try {
    let position = 0;
    for (const part of parts) {
      writeAllSync(fd, part, position);
      position += part.byteLength;
    }
    if (fsync) fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Atomically replaces `file`: readers see the old or the new content, never a mix, even after a crash. */
export function replaceFileDurable(file: string, parts: readonly Uint8Array[], fsync: boolean): void {
  const temp = `${file}.tmp`;
  writeFileDurable(temp, parts, fsync);
  fs.renameSync(temp, file);
  if (fsync) fsyncDir(path.dirname(file));
}

export function removeIfExists(file: string): void {
  fs.rmSync(file, { force: true, recursive: true });
}

export function readFileIfExists(file: string): Buffer | null {
  try {
    return fs.readFileSync(file);
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return null;
    throw error;
  }
}
