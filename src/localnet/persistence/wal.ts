/**
 * The write-ahead log: an append-only file of framed records (see record-codec.ts), one per commit.
 *
 * Replay stops at the first frame that is incomplete or fails its crc. If no valid frame follows, that is
 * the torn tail of a write interrupted by a crash: it was never acknowledged, so it is dropped and the file
 * truncated. If a valid frame does follow, acknowledged data was damaged: StateCorruptError.
 */
import fs from 'node:fs';
import { crc32 } from 'node:zlib';
import { StateCorruptError, StateStoreUnusableError } from './errors.ts';
import { writeAllSync } from './fs-durable.ts';
import { decodeRecord, FRAME_HEADER_BYTES, hasRecordMagic, readRecordSeq, RECORD_MAGIC } from './record-codec.ts';
import type { RoundDelta } from './types.ts';

/** The payload of a complete, crc-valid frame at `at`, or null. */
function readFrame(log: Buffer, at: number): Buffer | null {
  if (at < 0 || log.byteLength - at < FRAME_HEADER_BYTES) return null;
  const length = log.readUInt32LE(at);
  const end = at + FRAME_HEADER_BYTES + length;
  if (end > log.byteLength) return null;
  const payload = log.subarray(at + FRAME_HEADER_BYTES, end);
  if (!hasRecordMagic(payload) || crc32(payload) !== log.readUInt32LE(at + 4)) return null;
  return payload;
}

/** Offset of a valid frame after `from` with a sequence number >= minSeq, or -1. */
function findValidFrameAfter(log: Buffer, from: number, minSeq: bigint): number {
  for (let magicAt = log.indexOf(RECORD_MAGIC, from + 1); magicAt !== -1; magicAt = log.indexOf(RECORD_MAGIC, magicAt + 1)) {
    const frameAt = magicAt - FRAME_HEADER_BYTES;
    if (frameAt <= from) continue;
    const payload = readFrame(log, frameAt);
    if (payload !== null && readRecordSeq(payload) >= minSeq) return frameAt;
  }
  return -1;
}

export interface WalReplay {
  /** Bytes of whole, valid records; anything after is a torn tail to truncate. */
  validBytes: number;
  /** Sequence number of the last replayed record (firstSeq - 1 when none). */
  lastSeq: bigint;
  tornBytes: number;
}

/** Reads `file`, calling onRecord for each record in order. Records must be numbered firstSeq, firstSeq+1... */
export function replayWal(file: string, firstSeq: bigint, onRecord: (delta: RoundDelta, seq: bigint) => void): WalReplay {
  const log = fs.readFileSync(file);
  let at = 0;
  let expected = firstSeq;
  while (at < log.byteLength) {
    const payload = readFrame(log, at);
    if (payload === null) {
      const next = findValidFrameAfter(log, at, expected);
      if (next !== -1) {
        throw new StateCorruptError('WAL_CORRUPT', file, `damaged record at byte ${at} is followed by a valid record at byte ${next}`);
      }
      return { validBytes: at, lastSeq: expected - 1n, tornBytes: log.byteLength - at };
    }
    const seq = readRecordSeq(payload);
    if (seq !== expected) {
      throw new StateCorruptError('WAL_CORRUPT', file, `record at byte ${at} has sequence ${seq}, expected ${expected}`);
    }
    onRecord(decodeRecord(payload, file).delta, seq);
    at += FRAME_HEADER_BYTES + payload.byteLength;
    expected += 1n;
  }
  return { validBytes: at, lastSeq: expected - 1n, tornBytes: 0 };
}

/**
 * Appends frames to an open log. Each append is durable (fdatasync) before it returns, or, with group commit,
 * once flush() resolves.
 */
export class WalWriter {
  /** Bytes known to be on disk. */
  private syncedBytes: number;
  private syncing = false;
  private closeWhenIdle = false;
  private readonly flushWaiters: Array<{ bytes: number; resolve: () => void; reject: (error: unknown) => void }> = [];

  private constructor(
    readonly file: string,
    private fd: number | null,
    private bytes: number,
    private readonly fsync: boolean,
    private readonly groupCommit = false
  ) {
    this.syncedBytes = bytes;
  }

  /** Opens an existing log, cutting it back to `validBytes` (dropping a torn tail). */
  static openExisting(file: string, validBytes: number, fsync: boolean, groupCommit = false): WalWriter {
    const fd = fs.openSync(file, 'r+');
    try {
      if (fs.fstatSync(fd).size !== validBytes) {
        fs.ftruncateSync(fd, validBytes);
        if (fsync) fs.fsyncSync(fd);
      }
    } catch (error) {
      fs.closeSync(fd);
      throw error;
    }
    return new WalWriter(file, fd, validBytes, fsync, groupCommit);
  }

  /** Creates an empty log, replacing any leftover file of that name. Durable once its directory is fsynced. */
  static create(file: string, fsync: boolean, groupCommit = false): WalWriter {
    const fd = fs.openSync(file, 'w');
    if (fsync) fs.fsyncSync(fd);
    return new WalWriter(file, fd, 0, fsync, groupCommit);
  }

  get sizeBytes(): number {
    return this.bytes;
  }

  append(frame: Uint8Array): void {
    if (this.fd === null) throw new StateStoreUnusableError('STORE_CLOSED');
    writeAllSync(this.fd, frame, this.bytes);
    // fdatasync also flushes the new file size, which a growing append needs to survive a power loss.
    if (this.fsync && !this.groupCommit) fs.fdatasyncSync(this.fd);
    this.bytes += frame.byteLength;
    if (!this.fsync || !this.groupCommit) this.syncedBytes = this.bytes;
  }

  /** Resolves once every frame appended so far is on disk (at once without fsync or group commit). */
  flush(): Promise<void> {
    if (this.syncedBytes >= this.bytes) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.flushWaiters.push({ bytes: this.bytes, resolve, reject });
      this.startSync();
    });
  }

  /** One fdatasync at a time in the thread pool; each covers everything written before it started. */
  private startSync(): void {
    if (this.syncing || this.fd === null) return;
    const fd = this.fd;
    const covered = this.bytes;
    this.syncing = true;
    fs.fdatasync(fd, (error) => {
      this.syncing = false;
      if (error !== null) {
        for (const waiter of this.flushWaiters.splice(0)) waiter.reject(error);
      } else {
        this.syncedBytes = Math.max(this.syncedBytes, covered);
        this.settleWaiters();
      }
      if (this.closeWhenIdle) {
        this.closeWhenIdle = false;
        fs.closeSync(fd);
      } else if (this.flushWaiters.length > 0) {
        this.startSync();
      }
    });
  }

  private settleWaiters(): void {
    const still = this.flushWaiters.filter((waiter) => waiter.bytes > this.syncedBytes);
    for (const waiter of this.flushWaiters) if (waiter.bytes <= this.syncedBytes) waiter.resolve();
    this.flushWaiters.splice(0, this.flushWaiters.length, ...still);
  }

  /** Makes what is pending durable, then closes (after an fdatasync in flight, so its descriptor is never reused). */
  close(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    if (this.fsync && this.syncedBytes < this.bytes) {
      fs.fdatasyncSync(fd);
      this.syncedBytes = this.bytes;
      this.settleWaiters();
    }
    if (this.syncing) this.closeWhenIdle = true;
    else fs.closeSync(fd);
  }
}
