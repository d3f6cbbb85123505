/**
 * Fixed, unambiguous byte layouts for what a payer signs (README "Paid direct path"). Every field has a fixed width or
 * a length prefix, and every layout starts with its own domain separator, so a signature over one kind of message can
 * never be replayed as another (a request signature as a receipt, or an agent's IC request as either).
 */

const encoder = new TextEncoder();

export function u64be(value: bigint): Uint8Array {
  if (value < 0n || value >= 1n << 64n) throw new RangeError(`u64 out of range: ${value}`);
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, value);
  return out;
}

export function u128be(value: bigint): Uint8Array {
  if (value < 0n || value >= 1n << 128n) throw new RangeError(`u128 out of range: ${value}`);
  const out = new Uint8Array(16);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, value >> 64n);
  view.setBigUint64(8, value & ((1n << 64n) - 1n));
  return out;
}

/** A length-prefixed field (u32 big-endian length, then the bytes). */
export function lengthPrefixed(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + bytes.length);
  new DataView(out.buffer).setUint32(0, bytes.length);
  out.set(bytes, 4);
  return out;
}

/** A domain separator as the IC writes them: one length byte, then the ASCII name. */
export function domainSeparator(name: string): Uint8Array {
  const bytes = encoder.encode(name);
  return concatBytes([Uint8Array.of(bytes.length), bytes]);
}

export const utf8 = (text: string): Uint8Array => encoder.encode(text);

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
