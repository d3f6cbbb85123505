import { closeSync, openSync, rmSync, statSync } from 'node:fs';

/**
 * A short exclusive section over one file shared by processes (the gateway updating spend while `deai gateway keys`
 * creates or revokes a key): a `<file>.lock` created with O_EXCL. A lock older than `staleMs` was left by a process
 * that died inside the section and is taken over. Synchronous: the section is a read, a change and a rename.
 */
export function withFileLock<T>(file: string, body: () => T, options: { timeoutMs?: number; staleMs?: number } = {}): T {
  const lock = `${file}.lock`;
  const mine = heldHere.get(lock);
  if (mine !== undefined) {
    // This process holds the lock in an asynchronous section that awaits: waiting here would block the event loop it
    // needs to finish. No other process can enter, and this body runs whole; the section sees it and redoes its work.
    mine.syncSections += 1;
    return body();
  }
  const deadline = Date.now() + (options.timeoutMs ?? 5_000);
  const staleMs = options.staleMs ?? 10_000;
  for (;;) {
    try {
      closeSync(openSync(lock, 'wx'));
      break;
    } catch (error) {
      if (!(error instanceof Error && 'code' in error && error.code === 'EEXIST')) throw error;
      const age = lockAgeMs(lock);
      if (age !== undefined && age > staleMs) rmSync(lock, { force: true });
      else if (Date.now() > deadline) throw new Error(`${lock} is held by another process (remove it if none runs)`, { cause: error });
      else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
  }
  try {
    return body();
  } finally {
    rmSync(lock, { force: true });
  }
}

function lockAgeMs(lock: string): number | undefined {
  try {
    return Date.now() - statSync(lock).mtimeMs;
  } catch {
    return undefined;
  }
}

/** Locks this process holds in withFileLockAsync, with how many synchronous sections of this process ran inside. */
const heldHere = new Map<string, { syncSections: number }>();

/**
 * The same section, asynchronous: the gateway's periodic spend write waits for the lock and does its file work off
 * the event loop (requests go on meanwhile). The same `<file>.lock`, so it excludes `withFileLock` in other processes.
 * A synchronous section of this same process may run while the body awaits (it cannot wait without blocking the
 * body): `syncSectionsHere()` counts them, so the body rereads what such a section wrote before it replaces the file.
 */
export async function withFileLockAsync<T>(
  file: string,
  body: (syncSectionsHere: () => number) => Promise<T>,
  options: { timeoutMs?: number; staleMs?: number } = {}
): Promise<T> {
  const lock = `${file}.lock`;
  const deadline = Date.now() + (options.timeoutMs ?? 5_000);
  const staleMs = options.staleMs ?? 10_000;
  // Taking and dropping the lock are single synchronous syscalls, so `heldHere` says exactly when this process holds
  // it: a synchronous section never finds the lock file of this process without knowing it (and spins on it). Only
  // the wait for another process's lock, and the body, are asynchronous.
  for (;;) {
    try {
      closeSync(openSync(lock, 'wx'));
      break;
    } catch (error) {
      if (!(error instanceof Error && 'code' in error && error.code === 'EEXIST')) throw error;
      const age = lockAgeMs(lock);
      if (age !== undefined && age > staleMs) rmSync(lock, { force: true });
      else if (Date.now() > deadline) throw new Error(`${lock} is held by another process (remove it if none runs)`, { cause: error });
      else await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
  const here = { syncSections: 0 };
  heldHere.set(lock, here);
  try {
    return await body(() => here.syncSections);
  } finally {
    heldHere.delete(lock);
    rmSync(lock, { force: true });
  }
}
