import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { hashOfMap as agentHashOfMap, requestIdOf as agentRequestIdOf } from '@dfinity/agent';
import { Principal } from '@dfinity/principal';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils';

import { hashOfMap, requestIdOf } from '../../../src/localnet/crypto/request-id.js';

// What request and response contents hold: text, bytes, naturals (number or bigint), arrays and nested maps.
const leaf = fc.oneof(
  fc.string(),
  fc.uint8Array({ maxLength: 80 }),
  fc.nat(),
  fc.bigInt({ min: 0n, max: 2n ** 130n }),
  fc.uint8Array({ maxLength: 29 }).map((b) => Principal.fromUint8Array(b))
);
const { value } = fc.letrec<{ value: unknown; map: Record<string, unknown> }>((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('value'), { maxLength: 4 }), tie('map')),
  map: fc.dictionary(fc.string({ maxLength: 12 }), fc.oneof(tie('value'), fc.constant(undefined)), { maxKeys: 6 })
}));

describe('request ids through node:crypto', () => {
  it('equal agent-js requestIdOf / hashOfMap for any content', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 16 }), value, { maxKeys: 8 }), (map) => {
        expect(bytesToHex(hashOfMap(map))).toBe(bytesToHex(agentHashOfMap(map)));
      }),
      { numRuns: 300 }
    );
  });

  it('gives the interface specification example request id', () => {
    // The spec's worked example ("Request ids"): a call to "hello" with argument "DIDL\x00\xFD*".
    const content = {
      request_type: 'call',
      sender: Principal.fromUint8Array(Uint8Array.of(0x04)),
      ingress_expiry: 1685570400000000000n,
      canister_id: hexToBytes('00000000000004d2'),
      method_name: 'hello',
      arg: hexToBytes('4449444c00fd2a')
    };
    expect(bytesToHex(requestIdOf(content))).toBe('1d1091364d6bb8a6c16b203ee75467d59ead468f523eb058880ae8ec80e2b101');
    expect(bytesToHex(requestIdOf(content))).toBe(bytesToHex(agentRequestIdOf(content)));
  });

  it('rejects what cannot be hashed, as agent-js does', () => {
    expect(() => hashOfMap({ n: -1 })).toThrow(RangeError);
    expect(() => hashOfMap({ n: 1.5 })).toThrow(RangeError);
    expect(() => hashOfMap({ n: -1n })).toThrow(RangeError);
    expect(() => hashOfMap({ b: true })).toThrow(TypeError);
    expect(() => agentHashOfMap({ b: true })).toThrow();
  });
});
