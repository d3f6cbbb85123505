/** Byte helpers shared by the log, the checkpoint and delta application. */
import { createHash } from 'node:crypto';
import { STABLE_PAGE_BYTES } from './types.ts';

const ZERO_PAGE = Buffer.alloc(STABLE_PAGE_BYTES);

export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A plain Uint8Array view (no copy), so loaded state compares equal to what the engine committed. */
export function asUint8Array(bytes: Buffer): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** True when a stable page holds only zeros (native memcmp, not a JS loop). */
export function isZeroPage(page: Uint8Array): boolean {
  return page.byteLength === STABLE_PAGE_BYTES && asBuffer(page).equals(ZERO_PAGE);
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export const SHA256_HEX = /^[0-9a-f]{64}$/;
