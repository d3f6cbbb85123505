import { sha256 } from '@noble/hashes/sha2';

import { principalBytes } from '../principal-text.js';
import { concatBytes, domainSeparator, lengthPrefixed, u64be, utf8 } from './encoding.js';
import { selfAuthenticatingPrincipal, verifyPayerSignature, type SignatureVerifier } from './signature.js';

/**
 * How a payer authenticates one HTTP request to a runner's metered endpoint (README "Paid direct path"). The payer
 * signs, with its IC identity's key, the runner it addresses (so a request cannot be replayed at another runner), the
 * credit line it pays from, the method, the path, SHA-256 of the body, a random nonce and an expiry. The runner checks
 * the signature off-chain, refuses an expired request or a nonce it has seen before the expiry, and refuses a payer
 * whose line lacks the credit the request could cost.
 */

/** Header names (lowercase, as Node delivers them). */
export const AUTH_HEADERS = {
  publicKey: 'x-deai-public-key',
  line: 'x-deai-line',
  nonce: 'x-deai-nonce',
  expiry: 'x-deai-expiry-ns',
  signature: 'x-deai-signature',
  /** The payer's signed receipt for the previous request, JSON (receipt.ts), when it has one to hand over. */
  receipt: 'x-deai-receipt'
} as const;

/** A request may not be signed to stay valid longer than this (the runner keeps nonces that long). */
export const MAX_REQUEST_VALIDITY_NS = 60n * 1_000_000_000n;
export const NONCE_BYTES = 16;

export interface RequestToSign {
  runner: string;
  lineId: bigint;
  method: string;
  /** Path and query, as sent (e.g. `/v1/chat/completions`). */
  path: string;
  body: Uint8Array;
  nonce: Uint8Array;
  expiresAtNs: bigint;
}

const REQUEST_DOMAIN = domainSeparator('deai-request-v1');

/** The exact bytes a payer signs for one request. Throws RangeError on an out-of-range field. */
export function requestSigningBytes(request: RequestToSign): Uint8Array {
  const runner = principalBytes(request.runner);
  if (runner === undefined) throw new RangeError(`not a principal: ${request.runner}`);
  if (request.nonce.length !== NONCE_BYTES) throw new RangeError(`nonce must be ${NONCE_BYTES} bytes`);
  return concatBytes([
    REQUEST_DOMAIN,
    lengthPrefixed(runner),
    u64be(request.lineId),
    lengthPrefixed(utf8(request.method.toUpperCase())),
    lengthPrefixed(utf8(request.path)),
    sha256(request.body),
    request.nonce,
    u64be(request.expiresAtNs)
  ]);
}

export type RequestAuthProblem =
  | { code: 'MissingHeader'; header: string }
  | { code: 'Malformed'; header: string }
  | { code: 'Expired'; expiresAtNs: bigint; nowNs: bigint }
  | { code: 'TooLong'; maxValidityNs: bigint }
  | { code: 'BadSignature' };

export interface VerifiedRequest {
  /** The payer's principal (self-authenticating, from the key). */
  payer: string;
  lineId: bigint;
  /** Hex, for the runner's replay cache (kept until `expiresAtNs`). */
  nonceHex: string;
  expiresAtNs: bigint;
}

const HEX = /^[0-9a-f]*$/i;
const unhex = (text: string): Uint8Array => Uint8Array.from(text.match(/../g) ?? [], (pair) => parseInt(pair, 16));
const hex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

/** The auth headers for a signed request (hex for binary fields, decimal for numbers). */
export function authHeaders(request: RequestToSign, publicKey: Uint8Array, signature: Uint8Array): Record<string, string> {
  return {
    [AUTH_HEADERS.publicKey]: hex(publicKey),
    [AUTH_HEADERS.line]: request.lineId.toString(),
    [AUTH_HEADERS.nonce]: hex(request.nonce),
    [AUTH_HEADERS.expiry]: request.expiresAtNs.toString(),
    [AUTH_HEADERS.signature]: hex(signature)
  };
}

/** The auth headers parsed, shape and expiry checked: what can be refused before the body is read. */
export interface AuthHeaderFields {
  publicKey: Uint8Array;
  /** The principal of `publicKey` (the payer, if the signature turns out valid). */
  payer: string;
  lineId: bigint;
  nonce: Uint8Array;
  expiresAtNs: bigint;
  signature: Uint8Array;
}

/**
 * Checks the auth headers' shape and expiry at `nowNs`, without the body or the signature: a runner refuses a
 * request missing them, malformed, expired or valid too long before reading its body. Never throws.
 */
export function checkAuthHeaders(
  headers: Readonly<Record<string, string | undefined>>,
  nowNs: bigint
): { ok: true; value: AuthHeaderFields } | { ok: false; problem: RequestAuthProblem } {
  const read = (header: string, pattern: RegExp, maxLength: number) => {
    const value = headers[header];
    if (value === undefined) return { problem: { code: 'MissingHeader', header } as const };
    if (value.length > maxLength || !pattern.test(value)) return { problem: { code: 'Malformed', header } as const };
    return { value };
  };
  const key = read(AUTH_HEADERS.publicKey, HEX, 200);
  const line = read(AUTH_HEADERS.line, /^\d{1,19}$/, 19);
  const nonce = read(AUTH_HEADERS.nonce, /^[0-9a-f]{32}$/i, 32);
  const expiry = read(AUTH_HEADERS.expiry, /^\d{1,20}$/, 20);
  const signature = read(AUTH_HEADERS.signature, /^[0-9a-f]{128}$/i, 128);
  for (const field of [key, line, nonce, expiry, signature]) if (field.problem) return { ok: false, problem: field.problem };
  if (key.value!.length % 2 !== 0) return { ok: false, problem: { code: 'Malformed', header: AUTH_HEADERS.publicKey } };
  const lineId = BigInt(line.value!);
  const expiresAtNs = BigInt(expiry.value!);
  if (lineId >= 1n << 64n) return { ok: false, problem: { code: 'Malformed', header: AUTH_HEADERS.line } };
  if (expiresAtNs >= 1n << 64n) return { ok: false, problem: { code: 'Malformed', header: AUTH_HEADERS.expiry } };
  if (expiresAtNs <= nowNs) return { ok: false, problem: { code: 'Expired', expiresAtNs, nowNs } };
  if (expiresAtNs - nowNs > MAX_REQUEST_VALIDITY_NS)
    return { ok: false, problem: { code: 'TooLong', maxValidityNs: MAX_REQUEST_VALIDITY_NS } };
  const publicKey = unhex(key.value!);
  return {
    ok: true,
    value: {
      publicKey,
      payer: selfAuthenticatingPrincipal(publicKey),
      lineId,
      nonce: unhex(nonce.value!),
      expiresAtNs,
      signature: unhex(signature.value!)
    }
  };
}

/**
 * Checks one request's auth headers for `runner` at `nowNs`: well-formed, not expired, not valid for longer than
 * MAX_REQUEST_VALIDITY_NS, signed by the key whose principal is the payer. Replay (the nonce) and credit are the
 * caller's checks. Never throws (nor may `verify`).
 */
export function verifyRequestAuth(
  headers: Readonly<Record<string, string | undefined>>,
  request: { runner: string; method: string; path: string; body: Uint8Array },
  nowNs: bigint,
  verify: SignatureVerifier = verifyPayerSignature
): { ok: true; value: VerifiedRequest } | { ok: false; problem: RequestAuthProblem } {
  const fields = checkAuthHeaders(headers, nowNs);
  if (!fields.ok) return fields;
  const { publicKey, payer, lineId, nonce, expiresAtNs, signature } = fields.value;
  let message: Uint8Array;
  try {
    message = requestSigningBytes({ ...request, lineId, nonce, expiresAtNs });
  } catch {
    return { ok: false, problem: { code: 'Malformed', header: AUTH_HEADERS.line } };
  }
  if (!verify(publicKey, message, signature)) return { ok: false, problem: { code: 'BadSignature' } };
  return { ok: true, value: { payer, lineId, nonceHex: hex(nonce), expiresAtNs } };
}
