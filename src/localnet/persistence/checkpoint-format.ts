/**
 * Names and layouts of checkpoint files: the manifest schema, per-canister file names and the sparse
 * stable-memory file (see the format description in state-store.ts).
 */
import { crc32 } from 'node:zlib';
import { z } from 'zod';
import { sha256Hex } from './bytes.ts';
import { STABLE_PAGE_BYTES } from './types.ts';

export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_FORMAT = 'deai-localnet-state';
export const MANIFEST_VERSION = 1;
export const CANISTERS_DIR = 'canisters';
export const BLOBS_DIR = 'blobs';
export const STABLE_MAGIC = Buffer.from('DLS1', 'latin1');

export function walFileName(generation: number): string {
  return `wal-${generation}.log`;
}

/** Principal text is already file-name safe; anything else is hashed rather than escaped. */
function canisterFileStem(id: string): string {
  return /^[a-z0-9-]{1,64}$/.test(id) ? id : `_${sha256Hex(Buffer.from(id, 'utf8')).slice(0, 32)}`;
}

export function heapFileName(id: string, generation: number): string {
  return `${CANISTERS_DIR}/${canisterFileStem(id)}.g${generation}.heap`;
}

export function stableFileName(id: string, generation: number): string {
  return `${CANISTERS_DIR}/${canisterFileStem(id)}.g${generation}.stable`;
}

export function blobFileName(hash: string): string {
  return `${BLOBS_DIR}/${hash}`;
}

const count = z.number().int().nonnegative();
const canisterFile = z.string().regex(/^canisters\/[a-z0-9_-][a-z0-9-]*\.g\d+\.(heap|stable)$/);
const fileRefSchema = z.strictObject({ file: canisterFile, bytes: count, crc32: count });

export const manifestSchema = z.strictObject({
  format: z.literal(MANIFEST_FORMAT),
  version: z.literal(MANIFEST_VERSION),
  generation: count,
  /** Sequence number of the last log record folded into this checkpoint (decimal string: it is a u64). */
  lastSeq: z.string().regex(/^\d+$/),
  host: z.unknown(),
  canisters: z.array(
    z.strictObject({
      id: z.string().min(1),
      meta: z.unknown(),
      heap: fileRefSchema.nullable(),
      stable: fileRefSchema.extend({ pages: count }).nullable()
    })
  ),
  blobs: z.array(z.strictObject({ hash: z.string().regex(/^[0-9a-f]{64}$/), bytes: count }))
});
export type Manifest = z.infer<typeof manifestSchema>;
export type FileRef = z.infer<typeof fileRefSchema>;
export type StableFileRef = FileRef & { pages: number };

/** Sparse stable memory: ["DLS1"][u32 count][u32 index x count, ascending][65536-byte page x count]. */
export function encodeStableFile(pages: ReadonlyMap<number, Uint8Array>): { parts: Uint8Array[]; bytes: number; crc32: number } {
  const indexes = [...pages.keys()].sort((a, b) => a - b);
  const head = Buffer.allocUnsafe(8 + 4 * indexes.length);
  STABLE_MAGIC.copy(head, 0);
  head.writeUInt32LE(indexes.length, 4);
  indexes.forEach((index, i) => head.writeUInt32LE(index, 8 + 4 * i));
  const parts: Uint8Array[] = [head];
  let crc = crc32(head);
  for (const index of indexes) {
    const page = pages.get(index);
    if (page === undefined) continue;
    parts.push(page);
    crc = crc32(page, crc);
  }
  return { parts, bytes: head.byteLength + indexes.length * STABLE_PAGE_BYTES, crc32: crc };
}

/** Inverse of encodeStableFile; returns a reason string when the layout is wrong. Pages are copies. */
export function decodeStableFile(file: Buffer): Map<number, Uint8Array> | string {
  if (file.byteLength < 8 || !file.subarray(0, 4).equals(STABLE_MAGIC)) return 'missing stable-file magic';
  const pageCount = file.readUInt32LE(4);
  const dataAt = 8 + 4 * pageCount;
  if (file.byteLength !== dataAt + pageCount * STABLE_PAGE_BYTES) return `length does not match ${pageCount} pages`;
  const pages = new Map<number, Uint8Array>();
  for (let i = 0; i < pageCount; i += 1) {
    const at = dataAt + i * STABLE_PAGE_BYTES;
    pages.set(file.readUInt32LE(8 + 4 * i), new Uint8Array(file.subarray(at, at + STABLE_PAGE_BYTES)));
  }
  if (pages.size !== pageCount) return 'duplicate page index';
  return pages;
}
