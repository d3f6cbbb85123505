import { decode, encodeWithSelfDescribedTag, type CborValue } from '@dfinity/cbor';
import { Principal } from '@dfinity/principal';
import { concatBytes } from '@noble/hashes/utils';
import { CodedError } from '../../core/errors/coded-error.js';

/**
 * CBOR for the IC HTTP interface, delegating to `@dfinity/cbor` (the codec agent-js itself uses).
 *
 * What `@dfinity/cbor@0.2` does on its own, and what this wrapper adds:
 * - encode: emits integers for `number`/`bigint` but silently garbles non-integer numbers (it has no
 *   float support), encodes a `Map` as an empty map and other typed arrays as maps of indices — so the
 *   replacer below rejects floats/typed arrays, converts `Map`s and principals, and drops `undefined`
 *   map values (the IC treats absent and omitted fields alike; hash-of-map skips them too).
 * - decode: skips tag 55799 (no other tag is supported), rejects floats and non-text map keys, returns
 *   `bigint` for every integer encoded in 8 bytes (so all values ≥ 2^32, in particular ≥ 2^53) and
 *   `number` below that. It silently shortens a truncated byte string, ignores trailing bytes, turns
 *   a stray break byte into an internal symbol and lets a `__proto__` key replace an object's
 *   prototype — this wrapper frames the input to catch the first two and checks the result for the
 *   others.
 */

export type CborErrorCode = 'CBOR_ENCODE_FAILED' | 'CBOR_DECODE_FAILED';

export class CborError extends CodedError<CborErrorCode> {
  constructor(code: CborErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'CborError';
  }
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function replace(value: unknown): CborValue {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) {
      throw new CborError('CBOR_ENCODE_FAILED', `cannot encode non-integer or unsafe number ${value}`);
    }
    return value;
  }
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'function' || typeof value === 'symbol') {
      throw new CborError('CBOR_ENCODE_FAILED', `cannot encode a ${typeof value}`);
    }
    return value;
  }
  if (value instanceof Uint8Array || Array.isArray(value)) return value;
  if (Principal.isPrincipal(value)) return value.toUint8Array();
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
    throw new CborError('CBOR_ENCODE_FAILED', 'only Uint8Array can be encoded as a byte string');
  }
  const entries = value instanceof Map ? [...value.entries()] : Object.entries(value);
  if (!(value instanceof Map) && !isPlainObject(value)) {
    throw new CborError('CBOR_ENCODE_FAILED', `cannot encode an instance of ${value.constructor.name}`);
  }
  const out: Record<string, CborValue> = {};
  for (const [key, v] of entries) {
    if (typeof key !== 'string') throw new CborError('CBOR_ENCODE_FAILED', 'map keys must be strings');
    if (v !== undefined) out[key] = v;
  }
  return out;
}

/** CBOR-encodes `value` with the self-describe tag 55799 (`d9 d9 f7`) in front, as the replica does. */
export function encodeCbor(value: unknown): Uint8Array {
  try {
    return encodeWithSelfDescribedTag(value, replace);
  } catch (error) {
    if (error instanceof CborError) throw error;
    throw new CborError('CBOR_ENCODE_FAILED', `CBOR encoding failed: ${String(error)}`, { cause: error });
  }
}

function assertOrdinaryMaps(value: unknown, depth: number): void {
  if (depth > 256) throw new CborError('CBOR_DECODE_FAILED', 'CBOR nesting too deep');
  // A stray "break" (0xff) decodes to @dfinity/cbor's internal stop-code symbol.
  if (typeof value === 'symbol') throw new CborError('CBOR_DECODE_FAILED', 'unexpected CBOR break code');
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return;
  if (Array.isArray(value)) {
    for (const item of value) assertOrdinaryMaps(item, depth + 1);
    return;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) {
    throw new CborError('CBOR_DECODE_FAILED', 'CBOR map uses the reserved key "__proto__"');
  }
  for (const item of Object.values(value)) assertOrdinaryMaps(item, depth + 1);
}

/**
 * Decodes one CBOR item, with or without the 55799 tag. Integers encoded in 8 bytes come back as
 * `bigint` (ingress_expiry etc.), smaller ones as `number`; byte strings as `Uint8Array`.
 * Throws {@link CborError}.
 */
export function decodeCbor(bytes: Uint8Array): unknown {
  // @dfinity/cbor neither reports trailing bytes nor a truncated final byte string, so decode
  // `[item, SENTINEL]`: the sentinel comes back intact only if the item ended exactly at the end.
  const framed = concatBytes(Uint8Array.of(0x82), bytes, SENTINEL);
  let decoded: unknown;
  try {
    decoded = decode(framed);
  } catch (error) {
    throw new CborError('CBOR_DECODE_FAILED', `invalid CBOR: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error
    });
  }
  if (!Array.isArray(decoded) || decoded.length !== 2 || !isSentinel(decoded[1])) {
    throw new CborError('CBOR_DECODE_FAILED', 'invalid CBOR: truncated input or trailing bytes');
  }
  const value: unknown = decoded[0];
  assertOrdinaryMaps(value, 0);
  return value;
}

/** CBOR byte string h'2a'. */
const SENTINEL = Uint8Array.of(0x41, 0x2a);
const isSentinel = (v: unknown) => v instanceof Uint8Array && v.length === 1 && v[0] === 0x2a;

export type CborDecodeResult = { ok: true; value: unknown } | { ok: false; error: CborError };

/** Like {@link decodeCbor} but returns a result instead of throwing. */
export function safeDecodeCbor(bytes: Uint8Array): CborDecodeResult {
  try {
    return { ok: true, value: decodeCbor(bytes) };
  } catch (error) {
    if (error instanceof CborError) return { ok: false, error };
    throw error;
  }
}
