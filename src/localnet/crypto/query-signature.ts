import { createPrivateKey, sign, type KeyObject } from 'node:crypto';

import { concatBytes, utf8ToBytes } from '@noble/hashes/utils';
import type { HostKeys } from './host-keys.js';
import { hashOfMap } from './request-id.js';

/** Node signatures on query responses (ic-host-spec §6), verified by default by agent-js and ic-agent. */

export const IC_RESPONSE_DOMAIN = utf8ToBytes('\x0Bic-response');

export type QueryResponseBody =
  | { status: 'replied'; reply: { arg: Uint8Array } }
  | {
      status: 'rejected';
      reject_code: number | bigint;
      reject_message: string;
      /** Always present: it is part of the signed hash and both clients accept it. */
      error_code: string;
    };

export interface NodeSignature {
  timestamp: bigint;
  signature: Uint8Array;
  /** Node principal bytes; clients look its key up under `/subnet/<sid>/node/<nid>/public_key`. */
  identity: Uint8Array;
}

/** `"\x0Bic-response" ‖ hash_of_map({...body, timestamp, request_id})`, the signed message. */
export function queryResponseMessage(body: QueryResponseBody, requestId: Uint8Array, timestampNs: bigint): Uint8Array {
  const signed =
    body.status === 'replied'
      ? { status: body.status, reply: { arg: body.reply.arg } }
      : {
          status: body.status,
          reject_code: body.reject_code,
          reject_message: body.reject_message,
          error_code: body.error_code
        };
  return concatBytes(IC_RESPONSE_DOMAIN, hashOfMap({ ...signed, timestamp: timestampNs, request_id: requestId }));
}

/**
 * The `signatures` array of a query response, signed by the host's node key. `timestampNs` must be
 * the wall clock (clients reject signatures older than their ingress expiry / 5 minutes).
 */
export function signQueryResponse(
  body: QueryResponseBody,
  requestId: Uint8Array,
  keys: Pick<HostKeys, 'nodeSecretKey' | 'nodeId'>,
  timestampNs: bigint
): NodeSignature[] {
  const signature = new Uint8Array(sign(null, queryResponseMessage(body, requestId, timestampNs), nodeKeyObject(keys.nodeSecretKey)));
  return [{ timestamp: timestampNs, signature, identity: keys.nodeId.toUint8Array() }];
}

/** Native Ed25519 signing (~60 µs, against ~2 ms in pure JS); one KeyObject per node key. */
const keyObjects = new WeakMap<Uint8Array, KeyObject>();
function nodeKeyObject(secretKey: Uint8Array): KeyObject {
  let key = keyObjects.get(secretKey);
  if (key === undefined) {
    // PKCS#8 wrapping of a raw 32-byte Ed25519 seed (RFC 8410).
    const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(secretKey)]);
    key = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
    keyObjects.set(secretKey, key);
  }
  return key;
}
