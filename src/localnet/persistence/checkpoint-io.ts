/**
 * Writing and loading checkpoints. A checkpoint writes only what changed since the previous one: heap and
 * stable files of untouched canisters, and blobs already on disk, are referenced again, not rewritten.
 * New files get generation-tagged names, so nothing the current manifest references is ever overwritten;
 * the rename of manifest.json is the commit point, and unreferenced files are deleted only afterwards.
 */
import fs from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { asUint8Array, sha256Hex } from './bytes.ts';
import {
  BLOBS_DIR,
  blobFileName,
  CANISTERS_DIR,
  decodeStableFile,
  encodeStableFile,
  heapFileName,
  MANIFEST_FILE,
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  manifestSchema,
  stableFileName,
  walFileName,
  type FileRef,
  type Manifest,
  type StableFileRef
} from './checkpoint-format.ts';
import type { DirtySets } from './delta-apply.ts';
import { StateCorruptError } from './errors.ts';
import { fsyncDir, readFileIfExists, removeIfExists, replaceFileDurable, writeFileDurable } from './fs-durable.ts';
import { decodeJson, encodeJson } from './json-codec.ts';
import { emptyState, type PersistedState } from './types.ts';

export interface CanisterFiles {
  heap: FileRef | null;
  stable: StableFileRef | null;
}

/** What the store remembers about the files of the current checkpoint. */
export interface CheckpointFiles {
  canisters: Map<string, CanisterFiles>;
  blobsOnDisk: Set<string>;
}

export interface WriteCheckpointInput {
  dir: string;
  state: PersistedState;
  generation: number;
  lastSeq: bigint;
  previous: CheckpointFiles;
  dirty: DirtySets;
  fsync: boolean;
}

/** Writes every data file of the new checkpoint durably; returns the manifest that would commit it. */
export function writeCheckpointFiles(input: WriteCheckpointInput): { manifest: Manifest; files: CheckpointFiles } {
  const { dir, state, generation, previous, dirty, fsync } = input;
  const files: CheckpointFiles = { canisters: new Map(), blobsOnDisk: new Set() };
  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    version: MANIFEST_VERSION,
    generation,
    lastSeq: input.lastSeq.toString(),
    host: encodeJson(state.host, 'host'),
    canisters: [],
    blobs: []
  };
  for (const canister of state.canisters.values()) {
    const before = previous.canisters.get(canister.id);
    let heap = before?.heap ?? null;
    if (before === undefined || dirty.heap.has(canister.id)) {
      heap = null;
      if (canister.heap !== null) {
        heap = { file: heapFileName(canister.id, generation), bytes: canister.heap.byteLength, crc32: crc32(canister.heap) };
        writeFileDurable(path.join(dir, heap.file), [canister.heap], fsync);
      }
    }
    let stable = before?.stable ?? null;
    if (before === undefined || dirty.stable.has(canister.id)) {
      stable = null;
      if (canister.stablePages.size > 0) {
        const encoded = encodeStableFile(canister.stablePages);
        stable = {
          file: stableFileName(canister.id, generation),
          bytes: encoded.bytes,
          crc32: encoded.crc32,
          pages: canister.stablePages.size
        };
        writeFileDurable(path.join(dir, stable.file), encoded.parts, fsync);
      }
    }
    files.canisters.set(canister.id, { heap, stable });
    manifest.canisters.push({ id: canister.id, meta: encodeJson(canister.meta, `meta of ${canister.id}`), heap, stable });
  }
  for (const [hash, bytes] of state.blobs) {
    if (!previous.blobsOnDisk.has(hash)) {
      // Content-addressed names must only ever hold complete content, hence temp + rename.
      const file = path.join(dir, blobFileName(hash));
      writeFileDurable(`${file}.tmp`, [bytes], fsync);
      fs.renameSync(`${file}.tmp`, file);
    }
    files.blobsOnDisk.add(hash);
    manifest.blobs.push({ hash, bytes: bytes.byteLength });
  }
  if (fsync) {
    fsyncDir(path.join(dir, CANISTERS_DIR));
    fsyncDir(path.join(dir, BLOBS_DIR));
  }
  return { manifest, files };
}

/** The commit point of a checkpoint: after this returns, a reopen loads the new manifest. */
export function commitManifest(dir: string, manifest: Manifest, fsync: boolean): void {
  replaceFileDurable(path.join(dir, MANIFEST_FILE), [Buffer.from(JSON.stringify(manifest), 'utf8')], fsync);
}

export interface LoadedCheckpoint {
  state: PersistedState;
  generation: number;
  lastSeq: bigint;
  files: CheckpointFiles;
  /** False when the directory has no manifest yet (nothing was ever checkpointed). */
  fromManifest: boolean;
}

function readChecked(dir: string, ref: FileRef): Buffer {
  const file = path.join(dir, ref.file);
  const bytes = readFileIfExists(file);
  if (bytes === null) throw new StateCorruptError('CHECKPOINT_FILE_MISSING', file, 'referenced by the manifest but absent');
  if (bytes.byteLength !== ref.bytes || crc32(bytes) !== ref.crc32) {
    throw new StateCorruptError('CHECKPOINT_FILE_INVALID', file, `expected ${ref.bytes} bytes with crc32 ${ref.crc32}`);
  }
  return bytes;
}

export function loadCheckpoint(dir: string): LoadedCheckpoint {
  const manifestFile = path.join(dir, MANIFEST_FILE);
  const text = readFileIfExists(manifestFile);
  const files: CheckpointFiles = { canisters: new Map(), blobsOnDisk: new Set() };
  if (text === null) return { state: emptyState(), generation: 0, lastSeq: 0n, files, fromManifest: false };

  let manifest: Manifest;
  try {
    manifest = manifestSchema.parse(JSON.parse(text.toString('utf8')));
  } catch (cause) {
    throw new StateCorruptError('MANIFEST_INVALID', manifestFile, 'not a valid state manifest', { cause });
  }
  const state = emptyState();
  state.host = decodeJson(manifest.host, 'MANIFEST_INVALID', manifestFile);
  for (const entry of manifest.canisters) {
    const heap = entry.heap === null ? null : asUint8Array(readChecked(dir, entry.heap));
    let stablePages = new Map<number, Uint8Array>();
    if (entry.stable !== null) {
      const decoded = decodeStableFile(readChecked(dir, entry.stable));
      if (typeof decoded === 'string') throw new StateCorruptError('CHECKPOINT_FILE_INVALID', path.join(dir, entry.stable.file), decoded);
      stablePages = decoded;
    }
    if (state.canisters.has(entry.id)) throw new StateCorruptError('MANIFEST_INVALID', manifestFile, `canister ${entry.id} listed twice`);
    state.canisters.set(entry.id, { id: entry.id, meta: decodeJson(entry.meta, 'MANIFEST_INVALID', manifestFile), heap, stablePages });
    files.canisters.set(entry.id, { heap: entry.heap, stable: entry.stable });
  }
  for (const blob of manifest.blobs) {
    const file = path.join(dir, blobFileName(blob.hash));
    const bytes = readFileIfExists(file);
    if (bytes === null) throw new StateCorruptError('CHECKPOINT_FILE_MISSING', file, 'blob referenced by the manifest but absent');
    if (bytes.byteLength !== blob.bytes || sha256Hex(bytes) !== blob.hash) {
      throw new StateCorruptError('BLOB_INVALID', file, 'content does not match its sha256 name');
    }
    state.blobs.set(blob.hash, asUint8Array(bytes));
    files.blobsOnDisk.add(blob.hash);
  }
  return { state, generation: manifest.generation, lastSeq: BigInt(manifest.lastSeq), files, fromManifest: true };
}

/**
 * Deletes whatever the current checkpoint and log do not reference: superseded logs and canister files,
 * leftovers of an interrupted checkpoint, temp files. Returns whether anything was removed.
 */
export function collectGarbage(dir: string, generation: number, files: CheckpointFiles): boolean {
  const keep = new Set<string>([walFileName(generation)]);
  for (const f of files.canisters.values()) {
    if (f.heap !== null) keep.add(f.heap.file);
    if (f.stable !== null) keep.add(f.stable.file);
  }
  for (const hash of files.blobsOnDisk) keep.add(blobFileName(hash));
  let removed = false;
  const sweep = (entries: string[], prefix: string, isCandidate: (name: string) => boolean): void => {
    for (const name of entries) {
      const rel = prefix === '' ? name : `${prefix}/${name}`;
      if (isCandidate(name) && !keep.has(rel)) {
        removeIfExists(path.join(dir, rel));
        removed = true;
      }
    }
  };
  sweep(fs.readdirSync(dir), '', (name) => /^wal-\d+\.log$/.test(name) || name === `${MANIFEST_FILE}.tmp`);
  sweep(fs.readdirSync(path.join(dir, CANISTERS_DIR)), CANISTERS_DIR, () => true);
  sweep(fs.readdirSync(path.join(dir, BLOBS_DIR)), BLOBS_DIR, () => true);
  return removed;
}
