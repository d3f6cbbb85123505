import { createPrivateKey } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

import type { Identity } from '@dfinity/agent';
import { Ed25519KeyIdentity } from '@dfinity/identity';
import { Secp256k1KeyIdentity } from '@dfinity/identity-secp256k1';

import { IcError } from './errors.js';

/**
 * Loads an identity from a PEM file in either format dfx writes: Ed25519 as PKCS#8 (`BEGIN PRIVATE KEY`)
 * or secp256k1 as SEC1 (`BEGIN EC PRIVATE KEY`). Node's own key parser reads the ASN.1.
 */
export function loadIdentity(path: string): Identity {
  if (!existsSync(path)) throw new IcError('IdentityNotFound', `Identity file ${path} does not exist`);
  return parseIdentityPem(readFileSync(path, 'utf8'), path);
}

export function parseIdentityPem(pem: string, source = 'PEM'): Identity {
  if (pem.includes('BEGIN EC PRIVATE KEY')) {
    try {
      return Secp256k1KeyIdentity.fromPem(pem);
    } catch (error) {
      throw new IcError('IdentityInvalid', `${source} is not a valid secp256k1 key: ${String(error)}`, { cause: error });
    }
  }
  let jwk;
  try {
    jwk = createPrivateKey(pem).export({ format: 'jwk' });
  } catch (error) {
    throw new IcError('IdentityInvalid', `${source} is not a PEM private key: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error
    });
  }
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519' && typeof jwk.d === 'string') {
    return Ed25519KeyIdentity.fromSecretKey(new Uint8Array(Buffer.from(jwk.d, 'base64url')));
  }
  if (jwk.kty === 'EC' && jwk.crv === 'secp256k1' && typeof jwk.d === 'string') {
    return Secp256k1KeyIdentity.fromSecretKey(new Uint8Array(Buffer.from(jwk.d, 'base64url')));
  }
  throw new IcError('IdentityInvalid', `${source} holds a ${String(jwk.kty)}/${String(jwk.crv)} key; use Ed25519 or secp256k1`);
}

/** PKCS#8 PEM of an Ed25519 secret key, the format `dfx identity new` writes. */
export function ed25519Pem(identity: Ed25519KeyIdentity): string {
  const { secretKey, publicKey } = identity.getKeyPair();
  const raw = new Uint8Array(publicKey.toRaw?.() ?? publicKey.toDer().slice(-32));
  const jwk = {
    kty: 'OKP',
    crv: 'Ed25519',
    d: Buffer.from(secretKey.subarray(0, 32)).toString('base64url'),
    x: Buffer.from(raw).toString('base64url')
  };
  const pem = createPrivateKey({ key: jwk, format: 'jwk' }).export({ type: 'pkcs8', format: 'pem' });
  return typeof pem === 'string' ? pem : pem.toString('utf8');
}

/** Loads the identity at `path`, creating an Ed25519 one (mode 0600) on first use. */
export function loadOrCreateIdentity(path: string): { identity: Identity; created: boolean } {
  if (existsSync(path)) return { identity: loadIdentity(path), created: false };
  const identity = Ed25519KeyIdentity.generate();
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, ed25519Pem(identity), { mode: 0o600 });
  chmodSync(path, 0o600);
  return { identity, created: true };
}
