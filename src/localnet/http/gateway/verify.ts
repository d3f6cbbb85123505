import type { Principal } from '@dfinity/principal';
import { getMinVerificationVersion, ResponseVerificationError, verifyRequestResponsePair } from '@dfinity/response-verification';

import type { HeaderField, HttpRequest } from './candid.js';

/** How old a certificate may be, as the boundary nodes allow (ic-http-gateway: 5 minutes). */
export const MAX_CERT_TIME_OFFSET_NS = 300_000_000_000n;

export interface CanisterHttpResponse {
  statusCode: number;
  headers: HeaderField[];
  body: Uint8Array;
}

export type Verification =
  | { ok: true; version: number; certified?: { statusCode?: number; headers: HeaderField[]; body: Uint8Array } }
  | { ok: false; message: string };

/**
 * Response verification as the HTTP gateway protocol spec prescribes (v2, and v1 for older canisters), through
 * DFINITY's own verifier: the certificate must be signed by this network's root key, be recent, and reveal the
 * canister's certified data; the tree must prove the request/response pair.
 */
export function verifyResponse(options: {
  request: HttpRequest;
  response: CanisterHttpResponse;
  canisterId: Principal;
  rootKeyDer: Uint8Array;
  nowNs: bigint;
}): Verification {
  try {
    const info = verifyRequestResponsePair(
      { ...options.request, body: options.request.body },
      { status_code: options.response.statusCode, headers: options.response.headers, body: options.response.body },
      options.canisterId.toUint8Array(),
      options.nowNs,
      MAX_CERT_TIME_OFFSET_NS,
      options.rootKeyDer,
      getMinVerificationVersion()
    );
    const certified = info.response;
    return {
      ok: true,
      version: info.verificationVersion,
      certified:
        certified === undefined ? undefined : { statusCode: certified.statusCode, headers: certified.headers, body: certified.body }
    };
  } catch (error) {
    if (error instanceof ResponseVerificationError) return { ok: false, message: error.message };
    return { ok: false, message: error instanceof Error ? error.message : String(error) };
  }
}
