import { ed25519 } from '@noble/curves/ed25519';
import { secp256k1 } from '@noble/curves/secp256k1';
import { sha224, sha256 } from '@noble/hashes/sha2';

import { principalToText } from '../principal-text.js';

/**
 * Signatures by the same keys IC identities use (agent-js `Ed25519KeyIdentity`, `Secp256k1KeyIdentity`), checked
 * against a DER SubjectPublicKeyInfo whose self-authenticating principal is the payer. Ed25519 signs the message
 * itself; ECDSA secp256k1 signs SHA-256 of the message, 64 bytes r‖s (high s accepted, as the IC does).
 */

export type PayerKeyKind = 'ed25519' | 'secp256k1';

const ED25519_PREFIX = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
const SECP256K1_PREFIX = [
  0x30, 0x56, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a, 0x03, 0x42, 0x00
];

/** The most bytes a DER public key of a supported kind has (secp256k1 uncompressed: 88). */
export const MAX_PUBLIC_KEY_BYTES = 88;
export const SIGNATURE_BYTES = 64;

const startsWith = (bytes: Uint8Array, prefix: readonly number[]): boolean =>
  bytes.length >= prefix.length && prefix.every((b, i) => bytes[i] === b);

/** Which kind of key `der` is, or undefined for anything else (WebAuthn, canister signatures, malformed). */
export function payerKeyKind(der: Uint8Array): PayerKeyKind | undefined {
  if (der.length === 44 && startsWith(der, ED25519_PREFIX)) return 'ed25519';
  if (der.length === 88 && startsWith(der, SECP256K1_PREFIX)) return 'secp256k1';
  return undefined;
}

/** The self-authenticating principal of a DER public key (SHA-224 of the DER, then 0x02), as text. */
export function selfAuthenticatingPrincipal(der: Uint8Array): string {
  const bytes = new Uint8Array(29);
  bytes.set(sha224(der), 0);
  bytes[28] = 0x02;
  return principalToText(bytes);
}

/**
 * How a signature is checked (verifyPayerSignature by default). A Node runner may pass a native one for Ed25519: the
 * pure-JS check costs milliseconds per request where OpenSSL's costs tens of microseconds.
 */
export type SignatureVerifier = (der: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean;

/** True iff `signature` is a valid signature of `message` by `der`. Never throws. */
export function verifyPayerSignature(der: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== SIGNATURE_BYTES) return false;
  try {
    switch (payerKeyKind(der)) {
      case 'ed25519':
        return ed25519.verify(signature, message, der.subarray(12));
      case 'secp256k1':
        return secp256k1.verify(signature, sha256(message), der.subarray(23), { prehash: false, lowS: false });
      default:
        return false;
    }
  } catch {
    return false;
  }
}
