import { describe, expect, it } from 'vitest';
import { Cbor } from '@dfinity/agent';
import { Principal } from '@dfinity/principal';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils';
import { CborError, decodeCbor, encodeCbor, safeDecodeCbor } from '../../../src/localnet/crypto/cbor.js';

describe('encodeCbor', () => {
  it('prefixes the self-describe tag and encodes ints, bigints, bytes, text, arrays and maps', () => {
    const bytes = encodeCbor({ a: 1, b: 2n ** 60n, c: Uint8Array.of(1, 2), d: 'x', e: [0, true, null] });
    expect(bytesToHex(bytes.slice(0, 3))).toBe('d9d9f7');
    expect(decodeCbor(bytes)).toEqual({ a: 1, b: 2n ** 60n, c: Uint8Array.of(1, 2), d: 'x', e: [0, true, null] });
    expect(bytesToHex(encodeCbor(1_685_570_400_000_000_000n))).toBe('d9d9f71b1764595927e9c000');
  });

  it('never emits floats: non-integers and unsafe numbers are rejected', () => {
    expect(() => encodeCbor({ x: 1.5 })).toThrow(CborError);
    expect(() => encodeCbor(Number.MAX_SAFE_INTEGER + 2)).toThrow(/non-integer or unsafe/);
    expect(() => encodeCbor(Number.NaN)).toThrow(CborError);
  });

  it('converts Maps and principals, drops undefined fields, rejects other objects', () => {
    const p = Principal.fromText('ryjl3-tyaaa-aaaaa-aaaba-cai');
    expect(decodeCbor(encodeCbor(new Map([['k', p]])))).toEqual({ k: p.toUint8Array() });
    expect(decodeCbor(encodeCbor({ a: undefined, b: 1 }))).toEqual({ b: 1 });
    expect(() => encodeCbor(new Uint16Array(2))).toThrow(/only Uint8Array/);
    expect(() => encodeCbor(new Date())).toThrow(/instance of Date/);
  });
});

describe('decodeCbor', () => {
  it('accepts input with and without the tag and returns bigint for 64-bit integers', () => {
    expect(decodeCbor(hexToBytes('1b1764595927e9c000'))).toBe(1_685_570_400_000_000_000n);
    expect(decodeCbor(hexToBytes('d9d9f71b0020000000000000'))).toBe(2n ** 53n);
    expect(decodeCbor(hexToBytes('1a000f4240'))).toBe(1_000_000);
  });

  it('decodes what the agent encodes (principals, Expiry-like bigints)', () => {
    const p = Principal.fromText('aaaaa-aa');
    const bytes = Cbor.encode({ content: { canister_id: p, ingress_expiry: 1_700_000_000_000_000_000n } });
    expect(decodeCbor(bytes)).toEqual({ content: { canister_id: new Uint8Array(), ingress_expiry: 1_700_000_000_000_000_000n } });
  });

  it('fails with a CborError on garbage, floats, other tags and a __proto__ key', () => {
    expect(() => decodeCbor(new Uint8Array())).toThrow(CborError);
    expect(() => decodeCbor(hexToBytes('fb3ff8000000000000'))).toThrow(/invalid CBOR/);
    expect(() => decodeCbor(hexToBytes('c11a514b67b0'))).toThrow(/Unsupported tag/);
    // {"__proto__": {"polluted": 1}}
    const proto = hexToBytes('a1695f5f70726f746f5f5fa168706f6c6c7574656401');
    expect(() => decodeCbor(proto)).toThrow(/__proto__/);
    const result = safeDecodeCbor(hexToBytes('ff'));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.code).toBe('CBOR_DECODE_FAILED');
  });
});

describe('decodeCbor framing', () => {
  it('rejects truncated byte strings and trailing bytes that @dfinity/cbor alone would accept', () => {
    const good = encodeCbor({ arg: new Uint8Array(10).fill(7) });
    expect(decodeCbor(good)).toEqual({ arg: new Uint8Array(10).fill(7) });
    for (let cut = 1; cut <= 3; cut++) {
      expect(() => decodeCbor(good.slice(0, good.length - cut))).toThrow(CborError);
    }
    expect(() => decodeCbor(Uint8Array.of(...good, 0))).toThrow(/trailing bytes/);
  });
});
