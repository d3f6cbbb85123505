import { createPublicKey, verify, type KeyObject } from 'node:crypto';

import { payerKeyKind, verifyPayerSignature, SIGNATURE_BYTES, type SignatureVerifier } from '../../core/credit/index.js';

/** Payers' keys parsed once (a busy runner sees the same few payers on every request). */
const MAX_CACHED_KEYS = 1_024;
const keys = new Map<string, KeyObject>();

function keyObjectOf(der: Uint8Array): KeyObject {
  const id = Buffer.from(der).toString('hex');
  let key = keys.get(id);
  if (key === undefined) {
    if (keys.size >= MAX_CACHED_KEYS) keys.clear();
    key = createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' });
    keys.set(id, key);
  }
  return key;
}

/**
 * verifyPayerSignature with OpenSSL for Ed25519 (tens of microseconds instead of the pure-JS milliseconds that
 * otherwise sit before every metered request's first token, twice: the request and the receipt it carries).
 * OpenSSL's RFC 8032 check is stricter than the registry's ZIP-215 one, so whatever the runner accepts the registry
 * accepts too. secp256k1 keys keep the pure-JS check.
 */
export const nativeVerifyPayerSignature: SignatureVerifier = (der, message, signature) => {
  if (signature.length !== SIGNATURE_BYTES) return false;
  if (payerKeyKind(der) !== 'ed25519') return verifyPayerSignature(der, message, signature);
  try {
    return verify(null, message, keyObjectOf(der), signature);
  } catch {
    return false;
  }
};
