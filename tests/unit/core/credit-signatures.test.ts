import { Ed25519KeyIdentity } from '@dfinity/identity';
import { Secp256k1KeyIdentity } from '@dfinity/identity-secp256k1';
import { describe, expect, it } from 'vitest';

import {
  AUTH_HEADERS,
  authHeaders,
  MAX_REQUEST_VALIDITY_NS,
  receiptProblem,
  receiptSigningBytes,
  requestSigningBytes,
  selfAuthenticatingPrincipal,
  signedReceiptFromJson,
  signedReceiptToJson,
  verifyRequestAuth,
  type Receipt,
  type RequestToSign
} from '../../../src/core/credit/index.js';

const RUNNER = Ed25519KeyIdentity.generate().getPrincipal().toText();
const OTHER_RUNNER = Ed25519KeyIdentity.generate().getPrincipal().toText();
const NOW = 1_800_000_000_000_000_000n;

const identities = {
  ed25519: () => Ed25519KeyIdentity.generate(),
  secp256k1: () => Secp256k1KeyIdentity.generate()
};

type AnyIdentity = Ed25519KeyIdentity | Secp256k1KeyIdentity;
const der = (identity: AnyIdentity) => new Uint8Array(identity.getPublicKey().toDer());
const sign = async (identity: AnyIdentity, bytes: Uint8Array) => new Uint8Array(await identity.sign(bytes));

describe.each(Object.entries(identities))('payer signatures by %s identities', (_kind, make) => {
  it('the key derives the identity principal', () => {
    const identity = make();
    expect(selfAuthenticatingPrincipal(der(identity))).toBe(identity.getPrincipal().toText());
  });

  it('a signed receipt verifies; any change to it, the key or the signature does not', async () => {
    const payer = make();
    const receipt: Receipt = {
      lineId: 7n,
      payer: payer.getPrincipal().toText(),
      runner: RUNNER,
      seq: 3n,
      owedE8s: 12_345n,
      inputTokens: 100n,
      outputTokens: 50n,
      requests: 3n
    };
    const signed = { receipt, publicKey: der(payer), signature: await sign(payer, receiptSigningBytes(receipt)) };
    expect(receiptProblem(signed)).toBeUndefined();
    expect(signedReceiptFromJson(JSON.parse(JSON.stringify(signedReceiptToJson(signed))))).toEqual(signed);
    for (const change of [{ owedE8s: 12_346n }, { seq: 4n }, { runner: OTHER_RUNNER }, { lineId: 8n }, { requests: 2n }])
      expect(receiptProblem({ ...signed, receipt: { ...receipt, ...change } })).toBe('BadSignature');
    const flipped = signed.signature.slice();
    flipped[5] = (flipped[5] ?? 0) ^ 1;
    expect(receiptProblem({ ...signed, signature: flipped })).toBe('BadSignature');
    const stranger = make();
    expect(receiptProblem({ ...signed, publicKey: der(stranger) })).toBe('KeyNotPayer');
    expect(receiptProblem({ ...signed, receipt: { ...receipt, owedE8s: 1n << 128n } })).toBe('OutOfRange');
  });

  it('a signed request verifies for its runner, method, path and body only, within its validity', async () => {
    const payer = make();
    const body = new TextEncoder().encode('{"model":"m"}');
    const request: RequestToSign = {
      runner: RUNNER,
      lineId: 1n,
      method: 'POST',
      path: '/v1/chat/completions',
      body,
      nonce: new Uint8Array(16).fill(9),
      expiresAtNs: NOW + 60_000_000_000n
    };
    const headers = authHeaders(request, der(payer), await sign(payer, requestSigningBytes(request)));
    const target = { runner: RUNNER, method: 'POST', path: '/v1/chat/completions', body };
    const ok = verifyRequestAuth(headers, target, NOW);
    expect(ok).toEqual({
      ok: true,
      value: { payer: payer.getPrincipal().toText(), lineId: 1n, nonceHex: '09'.repeat(16), expiresAtNs: request.expiresAtNs }
    });
    const bad = { ok: false, problem: { code: 'BadSignature' } };
    expect(verifyRequestAuth(headers, { ...target, runner: OTHER_RUNNER }, NOW)).toEqual(bad);
    expect(verifyRequestAuth(headers, { ...target, path: '/v1/completions' }, NOW)).toEqual(bad);
    expect(verifyRequestAuth(headers, { ...target, body: new Uint8Array([1]) }, NOW)).toEqual(bad);
    expect(verifyRequestAuth({ ...headers, [AUTH_HEADERS.line]: '2' }, target, NOW)).toEqual(bad);
    expect(verifyRequestAuth(headers, target, request.expiresAtNs)).toMatchObject({ ok: false, problem: { code: 'Expired' } });
    expect(verifyRequestAuth(headers, target, request.expiresAtNs - MAX_REQUEST_VALIDITY_NS - 1n)).toMatchObject({
      ok: false,
      problem: { code: 'TooLong' }
    });
    // At most 60 s (finding 5: nonces are kept that long, so a longer validity lets a cache fill for longer).
    expect(verifyRequestAuth(headers, target, NOW - 1_000_000_000n)).toMatchObject({ ok: false, problem: { code: 'TooLong' } });
  });
});

describe('malformed request auth', () => {
  const target = { runner: RUNNER, method: 'POST', path: '/v1/models', body: new Uint8Array() };
  const good = {
    [AUTH_HEADERS.publicKey]: 'ab'.repeat(44),
    [AUTH_HEADERS.line]: '1',
    [AUTH_HEADERS.nonce]: 'ab'.repeat(16),
    [AUTH_HEADERS.expiry]: (NOW + 1n).toString(),
    [AUTH_HEADERS.signature]: 'ab'.repeat(64)
  };

  it.each(Object.values(AUTH_HEADERS).filter((h) => h !== AUTH_HEADERS.receipt))('names a missing %s', (header) => {
    const headers: Record<string, string> = { ...good };
    delete headers[header];
    expect(verifyRequestAuth(headers, target, NOW)).toEqual({ ok: false, problem: { code: 'MissingHeader', header } });
  });

  it.each([
    [AUTH_HEADERS.line, '-1'],
    [AUTH_HEADERS.line, '99999999999999999999'],
    [AUTH_HEADERS.nonce, 'zz'.repeat(16)],
    [AUTH_HEADERS.expiry, '1e9'],
    [AUTH_HEADERS.signature, 'ab'],
    [AUTH_HEADERS.publicKey, 'abc'],
    [AUTH_HEADERS.publicKey, 'ab'.repeat(101)]
  ])('refuses %s = %s as Malformed', (header, value) => {
    expect(verifyRequestAuth({ ...good, [header]: value }, target, NOW)).toEqual({
      ok: false,
      problem: { code: 'Malformed', header }
    });
  });

  it('refuses an unsupported key kind as a bad signature', () => {
    expect(verifyRequestAuth(good, target, NOW)).toEqual({ ok: false, problem: { code: 'BadSignature' } });
  });

  it('refuses receipts JSON with missing or malformed fields', () => {
    expect(signedReceiptFromJson(null)).toBeUndefined();
    expect(signedReceiptFromJson({ receipt: {}, publicKey: '', signature: '' })).toBeUndefined();
    const receipt = {
      lineId: '1',
      payer: 'aaaaa-aa',
      runner: 'aaaaa-aa',
      seq: '1',
      owedE8s: '-1',
      inputTokens: '0',
      outputTokens: '0',
      requests: '1'
    };
    expect(signedReceiptFromJson({ receipt, publicKey: 'ab', signature: 'ab' })).toBeUndefined();
    expect(signedReceiptFromJson({ receipt: { ...receipt, owedE8s: '1' }, publicKey: 'xy', signature: 'ab' })).toBeUndefined();
  });
});
