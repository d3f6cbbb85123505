/**
 * One write-ahead-log record = one committed RoundDelta.
 *
 *   frame   = [u32 LE payload length][u32 LE crc32(payload)][payload]
 *   payload = ["DLR1"][u64 LE seq][u32 LE header length][header: UTF-8 JSON][byte sections...]
 *
 * The header mirrors the RoundDelta with every byte array replaced by its length; the sections follow in
 * header order (per canister: heap full or chunks, then non-null stable pages; then blobs). Metadata goes
 * through json-codec, so bigint round-trips. Stable pages that are all zeros are logged as null.
 */
import { crc32 } from 'node:zlib';
import { z } from 'zod';
import { asBuffer, isZeroPage } from './bytes.ts';
import { StateCorruptError } from './errors.ts';
import { decodeJson, encodeJson, type WireJson } from './json-codec.ts';
import type { CanisterDelta, RoundDelta } from './types.ts';

export const FRAME_HEADER_BYTES = 8;
export const RECORD_MAGIC = Buffer.from('DLR1', 'latin1');
const PAYLOAD_PREFIX_BYTES = 4 + 8 + 4;

const count = z.number().int().nonnegative();
const wireCanisterSchema = z.strictObject({
  id: z.string().min(1),
  deleted: z.literal(true).optional(),
  meta: z.unknown().optional(),
  heap: z
    .union([
      z.strictObject({ clear: z.literal(true) }),
      z.strictObject({ size: count, full: count }),
      z.strictObject({ size: count, chunks: z.array(z.tuple([count, count])) })
    ])
    .optional(),
  stable: z
    .union([z.strictObject({ clear: z.literal(true) }), z.strictObject({ pages: z.array(z.tuple([count, count.nullable()])) })])
    .optional()
});
const wireHeaderSchema = z.strictObject({
  host: z.unknown().optional(),
  canisters: z.array(wireCanisterSchema),
  blobs: z.array(z.tuple([z.string(), count])).optional()
});
type WireCanister = z.infer<typeof wireCanisterSchema>;
type WireHeader = z.infer<typeof wireHeaderSchema>;

/** Encodes one record as a complete frame, ready for a single write. */
export function encodeRecord(seq: bigint, delta: RoundDelta): Buffer {
  const sections: Uint8Array[] = [];
  const canisters = delta.canisters.map((c, i) => encodeCanister(c, sections, `canisters[${i}]`));
  const header: { host?: WireJson; canisters: WireCanister[]; blobs?: Array<[string, number]> } = { canisters };
  if (delta.host !== undefined) header.host = encodeJson(delta.host, 'host');
  if (delta.blobs !== undefined && delta.blobs.length > 0) {
    header.blobs = delta.blobs.map((b) => {
      sections.push(b.bytes);
      return [b.hash, b.bytes.byteLength];
    });
  }
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  let payloadLength = PAYLOAD_PREFIX_BYTES + headerBytes.byteLength;
  for (const s of sections) payloadLength += s.byteLength;

  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payloadLength);
  let at = FRAME_HEADER_BYTES;
  at += RECORD_MAGIC.copy(frame, at);
  at = frame.writeBigUInt64LE(seq, at);
  at = frame.writeUInt32LE(headerBytes.byteLength, at);
  at += headerBytes.copy(frame, at);
  for (const s of sections) at += asBuffer(s).copy(frame, at);
  frame.writeUInt32LE(payloadLength, 0);
  frame.writeUInt32LE(crc32(frame.subarray(FRAME_HEADER_BYTES)), 4);
  return frame;
}

function encodeCanister(c: CanisterDelta, sections: Uint8Array[], where: string): WireCanister {
  if (c.deleted) return { id: c.id, deleted: true };
  const out: WireCanister = { id: c.id };
  if (c.meta !== undefined) out.meta = encodeJson(c.meta, `${where}.meta`);
  if (c.heap !== undefined) {
    if ('clear' in c.heap) out.heap = { clear: true };
    else if ('full' in c.heap) {
      sections.push(c.heap.full);
      out.heap = { size: c.heap.size, full: c.heap.full.byteLength };
    } else {
      out.heap = {
        size: c.heap.size,
        chunks: c.heap.chunks.map((chunk): [number, number] => {
          sections.push(chunk.bytes);
          return [chunk.offset, chunk.bytes.byteLength];
        })
      };
    }
  }
  if (c.stable !== undefined) {
    if ('clear' in c.stable) out.stable = { clear: true };
    else {
      out.stable = {
        pages: c.stable.pages.map((page): [number, number | null] => {
          if (page.bytes === null || isZeroPage(page.bytes)) return [page.index, null];
          sections.push(page.bytes);
          return [page.index, page.bytes.byteLength];
        })
      };
    }
  }
  return out;
}

/** True when the payload starts like a record; used to tell a torn tail from corruption in the middle. */
export function hasRecordMagic(payload: Buffer): boolean {
  return payload.byteLength >= PAYLOAD_PREFIX_BYTES && payload.subarray(0, 4).equals(RECORD_MAGIC);
}

export function readRecordSeq(payload: Buffer): bigint {
  return payload.readBigUInt64LE(4);
}

/**
 * Decodes a payload whose crc already matched. Byte arrays are views into `payload` (applyDelta copies).
 */
export function decodeRecord(payload: Buffer, path: string): { seq: bigint; delta: RoundDelta } {
  const fail = (detail: string, cause?: unknown): never => {
    throw new StateCorruptError('WAL_RECORD_INVALID', path, detail, { cause });
  };
  if (!hasRecordMagic(payload)) fail('record does not start with the record magic');
  const seq = payload.readBigUInt64LE(4);
  const headerLength = payload.readUInt32LE(12);
  let at = PAYLOAD_PREFIX_BYTES + headerLength;
  if (at > payload.byteLength) fail(`record ${seq}: header runs past the record`);
  let header: WireHeader | undefined;
  try {
    header = wireHeaderSchema.parse(JSON.parse(payload.toString('utf8', PAYLOAD_PREFIX_BYTES, at)));
  } catch (cause) {
    fail(`record ${seq}: malformed header`, cause);
  }
  if (header === undefined) return fail(`record ${seq}: malformed header`);

  const take = (length: number): Uint8Array => {
    if (at + length > payload.byteLength) fail(`record ${seq}: byte sections run past the record`);
    const view = new Uint8Array(payload.buffer, payload.byteOffset + at, length);
    at += length;
    return view;
  };
  const canisters = header.canisters.map((w): CanisterDelta => {
    if (w.deleted) return { id: w.id, deleted: true };
    const c: CanisterDelta = { id: w.id };
    if (w.meta !== undefined) c.meta = decodeJson(w.meta, 'WAL_RECORD_INVALID', path);
    if (w.heap !== undefined) {
      if ('clear' in w.heap) c.heap = { clear: true };
      else if ('full' in w.heap) c.heap = { size: w.heap.size, full: take(w.heap.full) };
      else c.heap = { size: w.heap.size, chunks: w.heap.chunks.map(([offset, length]) => ({ offset, bytes: take(length) })) };
    }
    if (w.stable !== undefined) {
      if ('clear' in w.stable) c.stable = { clear: true };
      else c.stable = { pages: w.stable.pages.map(([index, length]) => ({ index, bytes: length === null ? null : take(length) })) };
    }
    return c;
  });
  const delta: RoundDelta = { canisters };
  if (header.host !== undefined) delta.host = decodeJson(header.host, 'WAL_RECORD_INVALID', path);
  if (header.blobs !== undefined) delta.blobs = header.blobs.map(([hash, length]) => ({ hash, bytes: take(length) }));
  if (at !== payload.byteLength) fail(`record ${seq}: ${payload.byteLength - at} unexplained trailing bytes`);
  return { seq, delta };
}
