import {
  close,
  closeSync,
  constants,
  existsSync,
  fdatasync,
  fsync,
  ftruncateSync,
  open as openFile,
  openSync,
  readFileSync,
  write
} from 'node:fs';
import { mkdir, open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Records by key (JSON values) kept durably as a snapshot plus an append-only log (Node only). Used by the runner's
 * receipts (src/runner/metered/receipt-store.ts) and the payer's books (src/sdk/paid/file-store.ts).
 *
 * - `put`/`delete` change memory at once and never touch the disk on the caller's turn: each queues one JSON line.
 * - The lines queued within one turn (and those queued while a write runs) are appended together and fsynced once
 *   (group commit); `flush()` resolves once every line queued before it is on disk. A caller acknowledges what
 *   depends on a record (a served request, a receipt sent on) only after `flush()`.
 * - Once the log holds enough records (at least `compactAfterRecords`, and twice the live keys: O(1) amortized), the
 *   records are written to `<path>.tmp`, fsynced, renamed over `<path>`, the directory fsynced, and the log
 *   truncated. A crash between the rename and the truncation replays records the snapshot already holds (a record is a
 *   whole value, so replaying it again is harmless).
 * - Loading reads the snapshot, then replays `<path>.log`; a torn last line (a crash mid-append: never acknowledged)
 *   is dropped and cut off the file, so the next append starts on a line of its own.
 */
export interface KeyedLogOptions {
  /** File mode of what is created (the payer's books: 0o600). */
  mode?: number;
  /** Compact once the log holds this many records (default 1,000) and twice the live keys. */
  compactAfterRecords?: number;
  /** Reads a snapshot written before this format (a whole-file JSON of another shape): its records, or undefined. */
  legacy?: (raw: unknown) => Map<string, unknown> | undefined;
}

interface LogRecord {
  k: string;
  v?: unknown;
  d?: 1;
}

const SNAPSHOT_VERSION = 2;

export class KeyedLog {
  private readonly records = new Map<string, unknown>();
  private readonly logPath: string;
  private pending: string[] = [];
  /** Lines queued, and how many of them are on disk. */
  private queued = 0;
  private durable = 0;
  private logRecords = 0;
  private writing: Promise<void> | undefined;
  private failure: unknown;
  private compactWanted = false;
  /** The log's record count before which an automatic compaction is not tried again after one failed. */
  private compactRetryAt = 0;
  /** Whether the log's directory entry is known durable (fsync of the directory once it was created). */
  private logEntryDurable: boolean;
  /** Lines dropped as torn or unreadable when loading (a test and an operator can see them). */
  readonly droppedOnLoad: number;

  constructor(
    private readonly path: string,
    private readonly o: KeyedLogOptions = {}
  ) {
    this.logPath = `${path}.log`;
    this.loadSnapshot();
    this.logEntryDurable = existsSync(this.logPath);
    this.droppedOnLoad = this.logEntryDurable ? this.replayLog() : 0;
  }

  get(key: string): unknown {
    return this.records.get(key);
  }

  entries(): IterableIterator<[string, unknown]> {
    return this.records.entries();
  }

  get size(): number {
    return this.records.size;
  }

  put(key: string, value: unknown): void {
    this.records.set(key, value);
    this.queue({ k: key, v: value });
  }

  delete(key: string): void {
    if (!this.records.delete(key)) return;
    this.queue({ k: key, d: 1 });
  }

  /** Resolves once every put and delete made before this call is on disk (rejects if the disk refused it). */
  async flush(): Promise<void> {
    const wanted = this.queued;
    while (this.durable < wanted) {
      this.writing ??= this.writeLoop();
      await this.writing;
      if (this.durable < wanted && this.failure !== undefined) throw this.failure;
    }
  }

  /** Writes everything queued, then a snapshot, and empties the log (the next load reads one file). */
  async compact(): Promise<void> {
    this.compactWanted = true;
    while (this.compactWanted) {
      this.writing ??= this.writeLoop();
      await this.writing;
      if (this.compactWanted && this.failure !== undefined) throw this.failure;
    }
  }

  private queue(record: LogRecord): void {
    this.pending.push(`${JSON.stringify(record)}\n`);
    this.queued += 1;
    this.writing ??= this.writeLoop();
  }

  /**
   * Appends until nothing is queued, compacting when due; one loop at a time, so a snapshot never races an append. A
   * failed write keeps its lines queued for the next put or flush to retry.
   */
  private async writeLoop(): Promise<void> {
    // The next turn: the records of this one (concurrent requests) share the append and its fsync.
    await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      for (;;) {
        if (this.pending.length > 0) {
          const lines = this.pending;
          const upTo = this.queued;
          this.pending = [];
          try {
            // After a failed append the log may end in a partial line: a newline ends it, so the first line retried
            // is not glued to it (an empty line is skipped on load).
            await this.append((this.failure === undefined ? '' : '\n') + lines.join(''));
          } catch (error) {
            this.pending = [...lines, ...this.pending];
            throw error;
          }
          this.durable = upTo;
          this.logRecords += lines.length;
          this.failure = undefined;
          continue;
        }
        const due = this.logRecords >= Math.max(this.o.compactAfterRecords ?? 1_000, 2 * this.records.size, this.compactRetryAt);
        if (!this.compactWanted && !due) break;
        try {
          await this.snapshot();
          this.compactRetryAt = 0;
        } catch (error) {
          // A compaction the disk refused is tried again after as many records again (or by compact()), not after
          // every append: each try writes every record.
          this.compactRetryAt = this.logRecords + (this.o.compactAfterRecords ?? 1_000);
          throw error;
        }
        this.compactWanted = false;
        this.failure = undefined;
      }
    } catch (error) {
      this.failure = error;
    } finally {
      this.writing = undefined;
    }
  }

  /**
   * One append, on the thread pool (a file system that stalls holds a pool thread, never the loop): opened, written
   * (a short write, as on a full disk, goes on from where it stopped, or fails the append), fdatasync'd and closed
   * through the callback API, four pool jobs where the promise API's file handles cost more than the write. The log
   * is opened without O_CREAT: when it or its folder is missing (first use, removed under a running process), the
   * folder is made, the log created, and the new entries made durable in their directories before the append is
   * acknowledged (a recursive mkdir on every append cost ~0.25 ms of CPU).
   */
  private async append(text: string): Promise<void> {
    const fd = await this.openLog();
    try {
      const bytes = Buffer.from(text);
      for (let at = 0; at < bytes.length;) {
        const wrote = await pooled<number>((done) => write(fd, bytes, at, bytes.length - at, null, done));
        if (wrote <= 0) throw new Error(`appending to ${this.logPath} wrote nothing`);
        at += wrote;
      }
      await pooled<void>((done) => fdatasync(fd, done));
    } finally {
      await pooled<void>((done) => close(fd, done)).catch(() => undefined);
    }
    if (!this.logEntryDurable) {
      await syncDir(dirname(this.path));
      this.logEntryDurable = true;
    }
  }

  private async openLog(): Promise<number> {
    // A link put where the log is (by whoever can write the folder) is refused (ELOOP), not followed to its target.
    const flags = constants.O_WRONLY | constants.O_APPEND | NO_FOLLOW;
    const mode = this.o.mode ?? 0o666;
    try {
      return await pooled<number>((done) => openFile(this.logPath, flags, done));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const dir = dirname(this.path);
    const made = await mkdir(dir, { recursive: true });
    // A folder made now: its entry in the folder above is made durable too (the log's entry follows the append).
    if (made !== undefined) await syncDir(dirname(made));
    this.logEntryDurable = false;
    return pooled<number>((done) => openFile(this.logPath, flags | constants.O_CREAT, mode, done));
  }

  /** Called with nothing pending (inside the write loop, or after a flush): the snapshot holds every logged record. */
  private async snapshot(): Promise<void> {
    const text = JSON.stringify({ version: SNAPSHOT_VERSION, records: Object.fromEntries(this.records) });
    await mkdir(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.tmp`;
    const file = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | NO_FOLLOW, this.o.mode ?? 0o666);
    try {
      await file.writeFile(text);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, this.path);
    await syncDir(dirname(this.path));
    // Only now may the log go: the snapshot holds all it said.
    // Not through a link put at the log's path (its target would be emptied); a log already gone has nothing to cut.
    const log = await open(this.logPath, constants.O_RDWR | NO_FOLLOW).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (log !== undefined)
      try {
        await log.truncate(0);
        await log.datasync();
      } finally {
        await log.close();
      }
    this.logRecords = 0;
  }

  private loadSnapshot(): void {
    if (!existsSync(this.path)) return;
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(this.path, 'utf8'));
    } catch {
      return; // written whole and fsynced before its rename: only an operator's edit gone wrong gets here
    }
    const records =
      isObject(raw) && raw.version === SNAPSHOT_VERSION && isObject(raw.records)
        ? new Map(Object.entries(raw.records))
        : this.o.legacy?.(raw);
    for (const [key, value] of records ?? []) this.records.set(key, value);
  }

  /** Applies the log's records in order; returns how many lines were dropped (and cuts a torn tail off the file). */
  private replayLog(): number {
    // Bytes, each line decoded on its own: a broken character (a failed append's fragment) cannot shift where the torn
    // tail is cut.
    // Opened without following a link put at the log's path (ELOOP: the store refuses to load); read-only unless a torn
    // tail must be cut (a store only read, as on a read-only mount, loads as before).
    const fd = openSync(this.logPath, constants.O_RDONLY | NO_FOLLOW);
    let bytes: Buffer;
    try {
      bytes = readFileSync(fd);
    } finally {
      closeSync(fd);
    }
    let dropped = 0;
    let start = 0;
    for (;;) {
      const end = bytes.indexOf(0x0a, start);
      if (end < 0) break;
      const line = bytes.toString('utf8', start, end);
      start = end + 1;
      if (line === '') continue; // ends a partial line of a failed append
      const record = parseRecord(line);
      if (record === undefined) {
        dropped += 1;
        continue;
      }
      this.logRecords += 1;
      if (record.d === 1) this.records.delete(record.k);
      else this.records.set(record.k, record.v);
    }
    if (start < bytes.length) {
      // A line without its newline was cut by a crash mid-append: it was never acknowledged. Later appends must not
      // continue it (they would make the line unreadable), so it goes.
      dropped += 1;
      const cut = openSync(this.logPath, constants.O_WRONLY | NO_FOLLOW);
      try {
        ftruncateSync(cut, start);
      } finally {
        closeSync(cut);
      }
    }
    return dropped;
  }
}

function parseRecord(line: string): LogRecord | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!isObject(raw) || typeof raw.k !== 'string') return undefined;
  if (raw.d === 1) return { k: raw.k, d: 1 };
  return 'v' in raw ? { k: raw.k, v: raw.v } : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** O_NOFOLLOW where the platform has it (not Windows). */
const NO_FOLLOW = constants.O_NOFOLLOW ?? 0;

/**
 * How a platform or file system says a directory cannot be opened or fsynced at all (Windows: EISDIR or EPERM; a folder
 * the process may write but not read: EACCES; some network and FUSE file systems: EINVAL, ENOSYS, ENOTSUP; a few
 * systems refuse fsync on a read-only descriptor: EBADF). There the entry
 * cannot be made durable this way, and the write goes on as before. Any other error (EIO: the disk failed) fails the
 * append or snapshot that needed it, whose records stay queued for the next flush.
 */
const DIR_SYNC_REFUSED: ReadonlySet<string> = new Set(['EISDIR', 'EPERM', 'EACCES', 'EINVAL', 'ENOSYS', 'ENOTSUP', 'EOPNOTSUPP', 'EBADF']);

/** Makes a rename or a new file's entry durable, where the platform allows fsyncing a directory. */
async function syncDir(dir: string): Promise<void> {
  const refused = (error: unknown): boolean => DIR_SYNC_REFUSED.has(String((error as NodeJS.ErrnoException).code));
  let fd: number;
  try {
    fd = await pooled<number>((done) => openFile(dir, constants.O_RDONLY, done));
  } catch (error) {
    if (refused(error)) return;
    throw error;
  }
  try {
    await pooled<void>((done) => fsync(fd, done));
  } catch (error) {
    if (!refused(error)) throw error;
  } finally {
    await pooled<void>((done) => close(fd, done)).catch(() => undefined);
  }
}

/** A callback-API file operation as a promise (one thread-pool job). */
function pooled<T>(start: (done: (error: NodeJS.ErrnoException | null | undefined, value?: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) =>
    start((error, value) => (error === null || error === undefined ? resolve(value as T) : reject(error)))
  );
}
