/**
 * StateStore: the localnet's durable state directory (default `.deai/localnet`).
 *
 * On-disk format (version 1)
 * --------------------------
 *   LOCK                          owner pid, hostname, time (see dir-lock.ts); absent when nobody owns the dir
 *   manifest.json                 the current checkpoint; replaced only by write-temp + fsync + rename + dir fsync:
 *                                   { format: "deai-localnet-state", version: 1, generation: G, lastSeq: "<u64>",
 *                                     host, canisters: [{ id, meta, heap: {file, bytes, crc32} | null,
 *                                     stable: {file, bytes, crc32, pages} | null }], blobs: [{ hash, bytes }] }
 *                                 host/meta are JSON with bigint as {"$bigint":"<decimal>"} (user keys starting
 *                                 with "$" get one more "$").
 *   canisters/<id>.g<N>.heap      raw linear memory, written by the checkpoint of generation N <= G
 *   canisters/<id>.g<N>.stable    sparse stable memory: ["DLS1"][u32 n][u32 page index x n][64 KiB page x n]
 *   blobs/<sha256 hex>            content-addressed blobs (wasm modules, chunk store)
 *   wal-<G>.log                   write-ahead log of the rounds committed since checkpoint G, one record each:
 *                                   [u32 LE length][u32 LE crc32(payload)][payload]
 *                                   payload = ["DLR1"][u64 LE seq][u32 LE header length][JSON header][bytes...]
 *                                 (record-codec.ts); seq continues from the manifest's lastSeq + 1.
 *
 * Durability: commit() validates the delta, appends one record and fdatasyncs before it mutates `state` and
 * returns, so an acknowledged round survives kill -9 and power loss. Open = load the manifest (if any),
 * replay wal-<G>.log, drop a torn final record (an unacknowledged write cut by a crash), refuse a damaged
 * record that has valid ones after it (StateCorruptError), then delete files nothing references.
 *
 * Checkpoint (explicit, on close, or when the log passes checkpointAfterLogBytes): write heap/stable files of
 * canisters changed since the last checkpoint and new blobs under fresh names, create an empty
 * wal-<G+1>.log, fsync, then rename manifest.json (the commit point), and only then delete the old log and
 * unreferenced files. A crash before the rename reopens generation G with its intact log; after it,
 * generation G+1 with an empty log. Either way nothing is lost and the directory stays readable.
 *
 * Failure: an I/O error during commit or checkpoint stops the store (StateWriteError, then
 * StateStoreUnusableError): the disk state is unknown until the directory is reopened.
 */
import fs from 'node:fs';
import path from 'node:path';
import { collectGarbage, commitManifest, loadCheckpoint, writeCheckpointFiles, type CheckpointFiles } from './checkpoint-io.ts';
import { BLOBS_DIR, CANISTERS_DIR, walFileName } from './checkpoint-format.ts';
import { applyDelta, validateDelta, type DirtySets } from './delta-apply.ts';
import { acquireDirLock, isProcessAlive, LOCK_FILE, type DirLock, type IsProcessAlive } from './dir-lock.ts';
import { InvalidDeltaError, StateCorruptError, StateStoreUnusableError, StateWriteError } from './errors.ts';
import { fsyncDir, removeIfExists } from './fs-durable.ts';
import { encodeRecord } from './record-codec.ts';
import type { PersistedState, RoundDelta, StateStoreOptions } from './types.ts';
import { replayWal, WalWriter } from './wal.ts';

export const DEFAULT_STATE_DIR = '.deai/localnet';
export const DEFAULT_CHECKPOINT_AFTER_LOG_BYTES = 64 * 1024 * 1024;

function isEmptyDelta(delta: RoundDelta): boolean {
  return delta.host === undefined && delta.canisters.length === 0 && (delta.blobs === undefined || delta.blobs.length === 0);
}

export class StateStore {
  private lastSeq: bigint;
  private generation: number;
  private files: CheckpointFiles;
  private dirty: DirtySets;
  private changedSinceCheckpoint: boolean;
  private status: 'open' | 'failed' | 'closed' = 'open';

  private constructor(
    readonly dir: string,
    /** The loaded state, kept current by commit(). Treat as read-only: change it only through commit(). */
    readonly state: PersistedState,
    loaded: { generation: number; lastSeq: bigint; files: CheckpointFiles; dirty: DirtySets; replayedRecords: number },
    private wal: WalWriter,
    private readonly lock: DirLock,
    private readonly checkpointAfterLogBytes: number,
    private readonly fsync: boolean,
    private readonly groupCommit: boolean
  ) {
    this.generation = loaded.generation;
    this.lastSeq = loaded.lastSeq;
    this.files = loaded.files;
    this.dirty = loaded.dirty;
    this.changedSinceCheckpoint = loaded.replayedRecords > 0;
  }

  /**
   * Opens (creating if needed) and locks a state directory, loading checkpoint + log.
   * @example const store = StateStore.open('.deai/localnet'); store.commit({ canisters: [] }); store.close();
   */
  static open(dir: string, options: StateStoreOptions & { isProcessAlive?: IsProcessAlive } = {}): StateStore {
    const fsync = options.fsync ?? true;
    const groupCommit = options.groupCommit ?? false;
    const checkpointAfterLogBytes = options.checkpointAfterLogBytes ?? DEFAULT_CHECKPOINT_AFTER_LOG_BYTES;
    if (!(checkpointAfterLogBytes > 0)) throw new RangeError(`checkpointAfterLogBytes must be positive, got ${checkpointAfterLogBytes}`);
    fs.mkdirSync(dir, { recursive: true });
    const lock = acquireDirLock(dir, options.isProcessAlive ?? isProcessAlive);
    try {
      if (options.clean) {
        for (const name of fs.readdirSync(dir))
          if (name !== LOCK_FILE && !name.startsWith(`${LOCK_FILE}.`)) removeIfExists(path.join(dir, name));
      }
      fs.mkdirSync(path.join(dir, CANISTERS_DIR), { recursive: true });
      fs.mkdirSync(path.join(dir, BLOBS_DIR), { recursive: true });

      const loaded = loadCheckpoint(dir);
      const walFile = path.join(dir, walFileName(loaded.generation));
      let wal: WalWriter;
      // Replayed rounds changed files of the checkpoint; the next checkpoint must rewrite what they touched.
      const dirty: DirtySets = { heap: new Set(), stable: new Set() };
      let replayedRecords = 0;
      let lastSeq = loaded.lastSeq;
      if (fs.existsSync(walFile)) {
        const replay = replayWal(walFile, loaded.lastSeq + 1n, (delta, seq) => {
          try {
            validateDelta(loaded.state, delta, { checkBlobHashes: true });
          } catch (cause) {
            if (!(cause instanceof InvalidDeltaError)) throw cause;
            throw new StateCorruptError('WAL_RECORD_INVALID', walFile, `record ${seq} does not apply to the state`, { cause });
          }
          applyDelta(loaded.state, delta, dirty);
          replayedRecords += 1;
        });
        lastSeq = replay.lastSeq;
        wal = WalWriter.openExisting(walFile, replay.validBytes, fsync, groupCommit);
      } else if (loaded.fromManifest) {
        // The log is created and made durable before its manifest is committed, so this is damage.
        throw new StateCorruptError('WAL_MISSING', walFile, `the log of checkpoint generation ${loaded.generation} is missing`);
      } else {
        wal = WalWriter.create(walFile, fsync, groupCommit);
      }
      // Leftovers of an interrupted checkpoint or of a cleanup that did not finish.
      collectGarbage(dir, loaded.generation, loaded.files);
      if (fsync) fsyncDir(dir);
      return new StateStore(
        dir,
        loaded.state,
        { ...loaded, lastSeq, dirty, replayedRecords },
        wal,
        lock,
        checkpointAfterLogBytes,
        fsync,
        groupCommit
      );
    } catch (error) {
      lock.release();
      throw error;
    }
  }

  /**
   * Applies one round durably: when this returns, the round survives a crash of the process, and of the machine
   * too unless the store uses groupCommit (then once durable() resolves). Throws InvalidDeltaError
   * (nothing logged or applied) for a delta that breaks the contract, and StateWriteError on an I/O failure.
   * If the log has outgrown checkpointAfterLogBytes, a checkpoint runs before returning; should that fail,
   * the StateWriteError comes after the round itself was made durable and applied.
   */
  commit(delta: RoundDelta): void {
    this.assertOpen();
    validateDelta(this.state, delta, { checkBlobHashes: true });
    if (isEmptyDelta(delta)) return;
    const frame = encodeRecord(this.lastSeq + 1n, delta);
    try {
      this.wal.append(frame);
    } catch (cause) {
      this.status = 'failed';
      throw new StateWriteError('commit', { cause });
    }
    this.lastSeq += 1n;
    applyDelta(this.state, delta, this.dirty);
    this.changedSinceCheckpoint = true;
    if (this.wal.sizeBytes > this.checkpointAfterLogBytes) this.checkpoint();
  }

  /**
   * Resolves when every committed round is on disk: at once unless the store was opened with groupCommit, where
   * acknowledgements of a round must wait for it. Rejects (and the store fails) if the disk refuses.
   */
  durable(): Promise<void> {
    return this.wal.flush().catch((cause: unknown) => {
      this.status = 'failed';
      throw new StateWriteError('commit', { cause });
    });
  }

  /** Writes a full checkpoint atomically and starts an empty log. */
  checkpoint(): void {
    this.assertOpen();
    const generation = this.generation + 1;
    let next: WalWriter | null = null;
    let files: CheckpointFiles;
    try {
      const written = writeCheckpointFiles({
        dir: this.dir,
        state: this.state,
        generation,
        lastSeq: this.lastSeq,
        previous: this.files,
        dirty: this.dirty,
        fsync: this.fsync
      });
      files = written.files;
      next = WalWriter.create(path.join(this.dir, walFileName(generation)), this.fsync, this.groupCommit);
      if (this.fsync) fsyncDir(this.dir);
      commitManifest(this.dir, written.manifest, this.fsync);
    } catch (cause) {
      next?.close();
      this.status = 'failed';
      throw new StateWriteError('checkpoint', { cause });
    }
    this.wal.close();
    this.wal = next;
    this.generation = generation;
    this.files = files;
    this.dirty = { heap: new Set(), stable: new Set() };
    this.changedSinceCheckpoint = false;
    try {
      // Not needed for safety (a reopen sweeps again), only to reclaim space now.
      if (collectGarbage(this.dir, generation, files) && this.fsync) fsyncDir(this.dir);
    } catch (cause) {
      throw new StateWriteError('checkpoint cleanup (the checkpoint itself is committed)', { cause });
    }
  }

  /**
   * Checkpoints if anything changed since the last checkpoint, then releases the lock. Idempotent.
   * `checkpoint: false` skips the checkpoint (fast shutdown; the log already holds every round, so the
   * directory is then exactly what a crash after the last commit leaves behind).
   */
  close(options: { checkpoint?: boolean } = {}): void {
    if (this.status === 'closed') return;
    try {
      if (this.status === 'open' && this.changedSinceCheckpoint && options.checkpoint !== false) this.checkpoint();
    } finally {
      this.status = 'closed';
      this.wal.close();
      this.lock.release();
    }
  }

  /** Bytes in the current log (what a reopen would replay). */
  get logBytes(): number {
    return this.wal.sizeBytes;
  }

  private assertOpen(): void {
    if (this.status === 'closed') throw new StateStoreUnusableError('STORE_CLOSED');
    if (this.status === 'failed') throw new StateStoreUnusableError('STORE_FAILED');
  }
}
