import { createPublicKey, verify, type KeyObject } from 'node:crypto';

import { bytesToHex, hexToBytes } from '@noble/hashes/utils';

/**
 * DER public keys a request may be signed with (S-TREE "Signatures"). Ed25519 and ECDSA
 * (secp256k1, P-256; signature r‖s over SHA-256 of the message) are verified; WebAuthn and
 * canister-signature keys are recognised but rejected as unsupported.
 */

export type PublicKeyKind = 'ed25519' | 'ecdsa-secp256k1' | 'ecdsa-p256';

export type PublicKeyVerifier = {
  kind: PublicKeyKind;
  /** True iff `signature` is valid for `message` (never throws). */
  verify(signature: Uint8Array, message: Uint8Array): boolean;
};

export type PublicKeyParseResult = ({ ok: true } & PublicKeyVerifier) | { ok: false; message: string };

const ED25519_PREFIX = hexToBytes('302a300506032b6570032100');
const SECP256K1_PREFIX = hexToBytes('3056301006072a8648ce3d020106052b8104000a034200');
const P256_PREFIX = hexToBytes('3059301306072a8648ce3d020106082a8648ce3d030107034200');

/** OID bodies (1.3.6.1.4.1.56387.1.{1,2}, 1.3.6.1.4.1.44668.5.3.1.2.1) found inside unsupported keys. */
const UNSUPPORTED_OIDS: ReadonlyArray<readonly [string, string]> = [
  ['2b0601040183b8430101', 'WebAuthn (COSE)'],
  ['2b0601040183b8430102', 'canister signature'],
  ['2b0601040182dc7c0503010201', 'BLS12-381']
];

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  return bytes.length >= prefix.length && prefix.every((b, i) => bytes[i] === b);
}

function safely(check: () => boolean): boolean {
  try {
    return check();
  } catch {
    return false;
  }
}

/** Parsed keys by DER (clients sign every request with the same key; parsing costs more than verifying). */
const keyCache = new Map<string, KeyObject>();
const KEY_CACHE_SIZE = 4096;

/** The DER SubjectPublicKeyInfo as a native key: OpenSSL verifies ~30x faster than pure-JS curves. */
function spki(der: Uint8Array): KeyObject | undefined {
  const cacheKey = Buffer.from(der).toString('base64');
  const cached = keyCache.get(cacheKey);
  if (cached !== undefined) return cached;
  try {
    const key = createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' });
    if (keyCache.size >= KEY_CACHE_SIZE) keyCache.clear();
    keyCache.set(cacheKey, key);
    return key;
  } catch {
    return undefined;
  }
}

function ecdsa(kind: PublicKeyKind, key: KeyObject): PublicKeyVerifier {
  return {
    kind,
    // r‖s over SHA-256 of the message; high-s values are accepted (WebCrypto does not normalise s).
    verify: (signature, message) =>
      signature.length === 64 && safely(() => verify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, signature))
  };
}

/** Recognises a DER public key and returns its verifier, or why it cannot be used. */
export function parsePublicKey(der: Uint8Array): PublicKeyParseResult {
  if (der.length === 44 && startsWith(der, ED25519_PREFIX)) {
    const key = spki(der);
    if (key === undefined) return { ok: false, message: 'invalid Ed25519 public key' };
    return {
      ok: true,
      kind: 'ed25519',
      verify: (signature, message) => signature.length === 64 && safely(() => verify(null, message, key, signature))
    };
  }
  if (der.length === SECP256K1_PREFIX.length + 65 && startsWith(der, SECP256K1_PREFIX)) {
    const key = spki(der);
    if (key === undefined) return { ok: false, message: 'invalid secp256k1 public key' };
    return { ok: true, ...ecdsa('ecdsa-secp256k1', key) };
  }
  if (der.length === P256_PREFIX.length + 65 && startsWith(der, P256_PREFIX)) {
    const key = spki(der);
    if (key === undefined) return { ok: false, message: 'invalid P-256 public key' };
    return { ok: true, ...ecdsa('ecdsa-p256', key) };
  }
  const hex = bytesToHex(der);
  const known = UNSUPPORTED_OIDS.find(([oid]) => hex.includes(oid));
  return {
    ok: false,
    message: known
      ? `unsupported public key type: ${known[1]} keys are not supported by this host`
      : `unsupported public key type: unrecognised DER public key (${der.length} bytes)`
  };
}
