/**
 * Exclusive ownership of a state directory through a `LOCK` file holding the owner's pid.
 *
 * The file is created complete (written under a temporary name, then hard-linked into place), so a reader
 * never sees a half-written lock. A lock whose pid is dead is stale and taken over. A lock with our own pid
 * that this process does not hold was left by an earlier process that happened to get the same pid (common
 * for pid 1 in containers), so it is stale too.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { StateDirLockedError } from './errors.ts';

export const LOCK_FILE = 'LOCK';

// Lock files held by this process, so a second StateStore on the same directory is refused.
const heldInThisProcess = new Set<string>();

export interface DirLock {
  readonly file: string;
  release(): void;
}

export type IsProcessAlive = (pid: number) => boolean;

export const isProcessAlive: IsProcessAlive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return !(error instanceof Error && 'code' in error && error.code === 'ESRCH');
  }
};

function readHolderPid(file: string): number | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  const match = /^\s*(\d+)\b/.exec(text);
  return match?.[1] === undefined ? null : Number(match[1]);
}

function errorCode(error: unknown): unknown {
  return error instanceof Error && 'code' in error ? error.code : undefined;
}

/** Takes the directory's lock or throws StateDirLockedError. `dir` must exist. */
export function acquireDirLock(dir: string, alive: IsProcessAlive = isProcessAlive): DirLock {
  const file = path.join(fs.realpathSync(dir), LOCK_FILE);
  if (heldInThisProcess.has(file)) throw new StateDirLockedError(dir, file, process.pid);

  const temp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  fs.writeFileSync(temp, `${process.pid}\n${os.hostname()}\n${new Date().toISOString()}\n`);
  try {
    // A stale lock is removed in one round and ours linked in the next; a third covers a racing taker.
    for (let attempt = 0; attempt < 3; attempt += 1) {
      try {
        fs.linkSync(temp, file);
        heldInThisProcess.add(file);
        return { file, release: () => releaseDirLock(file) };
      } catch (error) {
        if (errorCode(error) !== 'EEXIST') throw error;
      }
      const holder = readHolderPid(file);
      if (holder !== null && holder !== process.pid && alive(holder)) throw new StateDirLockedError(dir, file, holder);
      // Stale (dead pid, an earlier incarnation of our pid, or unreadable): take it over.
      fs.rmSync(file, { force: true });
    }
    throw new StateDirLockedError(dir, file, readHolderPid(file) ?? -1);
  } finally {
    fs.rmSync(temp, { force: true });
  }
}

function releaseDirLock(file: string): void {
  if (!heldInThisProcess.delete(file)) return;
  // Only remove the file if it is still ours; someone may have deleted and retaken it by hand.
  if (readHolderPid(file) === process.pid) fs.rmSync(file, { force: true });
}
