import { Ed25519KeyIdentity } from '@dfinity/identity';
import { Secp256k1KeyIdentity } from '@dfinity/identity-secp256k1';
import { describe, expect, it } from 'vitest';

import { verifyPayerSignature } from '../../../src/core/credit/index.js';
import { nativeSigner } from '../../../src/gateway/native-signer.js';

const message = new TextEncoder().encode('a request to sign');

describe('nativeSigner', () => {
  it('signs as the Ed25519 identity itself (same principal, key and signature bytes)', async () => {
    const identity = Ed25519KeyIdentity.generate();
    const signer = nativeSigner(identity);
    expect(signer).not.toBe(identity);
    expect(signer.getPrincipal().toText()).toBe(identity.getPrincipal().toText());
    const der = new Uint8Array(signer.getPublicKey().toDer());
    const signature = new Uint8Array(await signer.sign(message));
    // Ed25519 is deterministic: OpenSSL and the pure-JS identity give the same bytes.
    expect(signature).toEqual(new Uint8Array(await identity.sign(message)));
    expect(verifyPayerSignature(der, message, signature)).toBe(true);
  });

  it('leaves a secp256k1 identity (also a 32-byte secret) as it is', () => {
    const identity = Secp256k1KeyIdentity.generate();
    expect(nativeSigner(identity)).toBe(identity);
  });
});
