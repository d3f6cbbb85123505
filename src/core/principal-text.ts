/**
 * Textual principals, checked the way `Principal.fromText` checks them (base32 of a CRC-32 and the bytes, grouped by
 * five), but pure: the core runs in the canister and in tests without azle or @dfinity/principal.
 */

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
/** A principal is at most 29 bytes. */
const MAX_PRINCIPAL_BYTES = 29;

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = (CRC_TABLE[(crc ^ byte) & 0xff] ?? 0) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function base32Decode(text: string): Uint8Array | undefined {
  const out: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const char of text) {
    const value = ALPHABET.indexOf(char);
    if (value < 0) return undefined;
    buffer = (buffer << 5) | value;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((buffer >>> bits) & 0xff);
    }
    buffer &= (1 << bits) - 1;
  }
  return Uint8Array.from(out);
}

function base32Encode(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(buffer >>> bits) & 31];
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

/** The canonical text of `bytes` (what `Principal.toText` writes). */
export function principalToText(bytes: Uint8Array): string {
  const crc = crc32(bytes);
  const withCrc = Uint8Array.from([(crc >>> 24) & 0xff, (crc >>> 16) & 0xff, (crc >>> 8) & 0xff, crc & 0xff, ...bytes]);
  return (base32Encode(withCrc).match(/.{1,5}/g) ?? []).join('-');
}

/**
 * Why `text` is not a principal's canonical text (bad characters, length, or checksum), or undefined when it is: the
 * text must round-trip through decoding and encoding, as `Principal.fromText(text).toText() === text`.
 */
export function principalTextProblem(text: string): string | undefined {
  if (text.length === 0 || text.length > 63) return 'not a textual principal (1 to 63 characters)';
  const bytes = base32Decode(text.replace(/-/g, ''));
  if (bytes === undefined) return 'not a textual principal (groups of a-z and 2-7 separated by "-")';
  if (bytes.length < 4 || bytes.length - 4 > MAX_PRINCIPAL_BYTES) return 'not a textual principal (wrong length)';
  const body = bytes.subarray(4);
  if (principalToText(body) !== text) return 'not a valid principal: its checksum or grouping is wrong (a typo?)';
  return undefined;
}

/** Whether `text` is a principal's canonical text. */
export const isPrincipalText = (text: string): boolean => principalTextProblem(text) === undefined;

/**
 * Principals decoded lately (a payer and a runner sign and check the same few on every request). Only valid texts are
 * kept, so a key is at most 63 characters: a caller sending long or malformed texts is refused before the memo and
 * cannot fill it.
 */
const MAX_REMEMBERED = 256;
const remembered = new Map<string, Uint8Array>();

/** The bytes of a principal's canonical text, or undefined when `text` is not one. */
export function principalBytes(text: string): Uint8Array | undefined {
  if (text.length === 0 || text.length > 63) return undefined;
  let bytes = remembered.get(text);
  if (bytes === undefined) {
    if (principalTextProblem(text) !== undefined) return undefined;
    bytes = base32Decode(text.replace(/-/g, ''))?.subarray(4);
    if (bytes === undefined) return undefined;
    if (remembered.size >= MAX_REMEMBERED) remembered.clear();
    remembered.set(text, bytes);
  }
  // A copy: what a caller does with its bytes never changes what the next caller gets.
  return bytes.slice();
}
