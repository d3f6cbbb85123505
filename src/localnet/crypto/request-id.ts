import { createHash, type Hash } from 'node:crypto';

import { leb128 } from '../certification/hash-tree.js';

/**
 * The IC's representation-independent hash ("hash of map", interface specification, Request ids), with
 * OpenSSL's SHA-256. Same input rules and results as agent-js's `requestIdOf` / `hashOfMap` (a property test
 * compares them), but agent-js hashes with pure-JS noble: ~0.25 ms of the host's main thread per request,
 * twice per query (request id and response signature).
 *
 * Values: text (UTF-8), bytes (any ArrayBuffer view), non-negative integers (number or bigint, LEB128),
 * arrays (hash of the concatenated element hashes), principals (their bytes), objects with `toHash()`, and
 * nested maps. `undefined` fields are left out. Anything else throws, as agent-js does.
 */
export function hashOfMap(map: object): Uint8Array {
  const pairs: Array<[Buffer, Buffer]> = [];
  for (const [key, value] of Object.entries(map)) {
    if (value !== undefined) pairs.push([keyHash(key), hashValue(value)]);
  }
  pairs.sort((a, b) => Buffer.compare(a[0], b[0]));
  const hash = createHash('sha256');
  for (const [key, value] of pairs) hash.update(key).update(value);
  return new Uint8Array(hash.digest());
}

/** Request ids of envelopes' contents. */
export const requestIdOf = (content: object): Uint8Array => hashOfMap(content);

const sha256 = (data: Uint8Array | string): Buffer => createHash('sha256').update(data).digest();

// The field names of requests and responses repeat on every message; their hashes are computed once.
const keyHashes = new Map<string, Buffer>();
function keyHash(key: string): Buffer {
  let hash = keyHashes.get(key);
  if (hash === undefined) {
    hash = sha256(key);
    if (keyHashes.size < 256) keyHashes.set(key, hash);
  }
  return hash;
}

function hashValue(value: unknown): Buffer {
  if (typeof value === 'string') return sha256(value);
  if (typeof value === 'number') return sha256(leb128(integer(value)));
  if (typeof value === 'bigint') return sha256(leb128(value));
  if (ArrayBuffer.isView(value)) return sha256(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
  if (Array.isArray(value)) return concatHash(value.map(hashValue));
  if (typeof value === 'object' && value !== null) {
    const object = value as { _isPrincipal?: unknown; toUint8Array?: unknown; toHash?: unknown };
    if (object._isPrincipal === true && typeof object.toUint8Array === 'function')
      return sha256((object.toUint8Array as () => Uint8Array).call(value));
    if (typeof object.toHash === 'function') return hashValue((object.toHash as () => unknown).call(value));
    return Buffer.from(hashOfMap(value));
  }
  throw new TypeError(`cannot hash a value of type ${typeof value}`);
}

function concatHash(parts: Buffer[]): Buffer {
  const hash: Hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
}

function integer(value: number): bigint {
  if (!Number.isSafeInteger(value)) throw new RangeError(`cannot hash ${value}: not a safe integer`);
  return BigInt(value);
}
