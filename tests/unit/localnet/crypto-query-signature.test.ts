import { describe, expect, it } from 'vitest';
import { hashOfMap, IC_RESPONSE_DOMAIN_SEPARATOR } from '@dfinity/agent';
import { ed25519 } from '@noble/curves/ed25519';
import { concatBytes, hexToBytes } from '@noble/hashes/utils';
import { generateHostKeys } from '../../../src/localnet/crypto/host-keys.js';
import { queryResponseMessage, signQueryResponse, type QueryResponseBody } from '../../../src/localnet/crypto/query-signature.js';

const keys = generateHostKeys();
const requestId = hexToBytes('1d1091364d6bb8a6c16b203ee75467d59ead468f523eb058880ae8ec80e2b101');
const timestamp = 1_746_143_718_005_285_297n;
const nodeRawKey = keys.nodeKeyDer.slice(12);

/** What agent-js #verifyQueryResponse computes for the signed message. */
function agentMessage(fields: Record<string, unknown>) {
  return concatBytes(IC_RESPONSE_DOMAIN_SEPARATOR, hashOfMap({ ...fields, timestamp, request_id: requestId }));
}

describe('signQueryResponse', () => {
  it('signs replies as agent-js verifies them', () => {
    const body: QueryResponseBody = { status: 'replied', reply: { arg: hexToBytes('4449444c0000') } };
    const [sig, ...rest] = signQueryResponse(body, requestId, keys, timestamp);
    expect(rest).toEqual([]);
    expect(sig?.timestamp).toBe(timestamp);
    expect(sig?.identity).toEqual(keys.nodeId.toUint8Array());
    const message = agentMessage({ status: 'replied', reply: { arg: body.reply.arg } });
    expect(queryResponseMessage(body, requestId, timestamp)).toEqual(message);
    expect(ed25519.verify(sig?.signature ?? new Uint8Array(64), message, nodeRawKey)).toBe(true);
  });

  it('signs rejections including error_code, and binds request id and timestamp', () => {
    const body: QueryResponseBody = {
      status: 'rejected',
      reject_code: 3,
      reject_message: 'Canister guva5-raaaa-aaaaa-aaeaa-cai not found',
      error_code: 'IC0301'
    };
    const [sig] = signQueryResponse(body, requestId, keys, timestamp);
    const signature = sig?.signature ?? new Uint8Array(64);
    const { status, reject_code, reject_message, error_code } = body;
    expect(ed25519.verify(signature, agentMessage({ status, reject_code, reject_message, error_code }), nodeRawKey)).toBe(true);
    expect(ed25519.verify(signature, agentMessage({ status, reject_code, reject_message }), nodeRawKey)).toBe(false);
    const [other] = signQueryResponse(body, new Uint8Array(32), keys, timestamp);
    expect(other?.signature).not.toEqual(signature);
  });

  it('measures Ed25519 signing time', () => {
    const body: QueryResponseBody = { status: 'replied', reply: { arg: new Uint8Array(100) } };
    for (let i = 0; i < 20; i++) signQueryResponse(body, requestId, keys, timestamp); // JIT warm-up
    const runs = 100;
    const start = performance.now();
    for (let i = 0; i < runs; i++) signQueryResponse(body, requestId, keys, timestamp + BigInt(i));
    console.info(`Ed25519 query signature: ${((performance.now() - start) / runs).toFixed(2)} ms average over ${runs}`);
  });
});
