import { describe, expect, it } from 'vitest';
import { Certificate, LookupPathStatus, lookupResultToBuffer } from '@dfinity/agent';
import { Principal } from '@dfinity/principal';
import { bls12_381 } from '@noble/curves/bls12-381';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils';
import { Certifier, certificateMessage, signRootHash, signTree } from '../../../src/localnet/certification/certificate.js';
import { buildTree, leb128, reconstruct, type LabeledTree, type TreeLabel } from '../../../src/localnet/certification/hash-tree.js';
import { decodeCbor } from '../../../src/localnet/crypto/cbor.js';
import {
  generateHostKeys,
  HostKeysError,
  hostKeysFromSecrets,
  parseHostKeys,
  safeParseHostKeys,
  serializeHostKeys
} from '../../../src/localnet/crypto/host-keys.js';

const keys = generateHostKeys();
const canisterId = Principal.fromText('ryjl3-tyaaa-aaaaa-aaaba-cai');
const nowNs = () => BigInt(Date.now()) * 1_000_000n;

function treeAt(timeNs: bigint, extra: LabeledTree = new Map()) {
  return buildTree(new Map<TreeLabel, LabeledTree | Uint8Array>([['time', leb128(timeNs)], ...extra]));
}

describe('host keys', () => {
  it('derive DER keys, node id and subnet id as the clients expect', () => {
    expect(keys.rootKeyDer.length).toBe(133);
    expect(bytesToHex(keys.rootKeyDer)).toMatch(/^308182301d060d2b0601040182dc7c0503010201060c2b0601040182dc7c05030201036100/);
    expect(keys.nodeKeyDer.length).toBe(44);
    expect(bytesToHex(keys.nodeKeyDer.slice(0, 12))).toBe('302a300506032b6570032100');
    expect(keys.subnetId.toText()).toBe(Principal.selfAuthenticating(keys.rootKeyDer).toText());
    expect(keys.nodeId.toText()).toBe(Principal.selfAuthenticating(keys.nodeKeyDer).toText());
  });

  it('are deterministic for an injected random source', () => {
    const fixed = (n: number) => new Uint8Array(n).fill(9);
    expect(bytesToHex(generateHostKeys(fixed).rootKeyDer)).toBe(bytesToHex(generateHostKeys(fixed).rootKeyDer));
  });

  it('round-trip through serializeHostKeys / parseHostKeys', () => {
    const parsed = parseHostKeys(serializeHostKeys(keys));
    expect(bytesToHex(parsed.rootKeyDer)).toBe(bytesToHex(keys.rootKeyDer));
    expect(bytesToHex(parsed.nodeSecretKey)).toBe(bytesToHex(keys.nodeSecretKey));
    expect(parsed.subnetId.toText()).toBe(keys.subnetId.toText());
  });

  it('reject malformed or inconsistent files with a HostKeysError', () => {
    expect(() => parseHostKeys('not json')).toThrow(HostKeysError);
    expect(() => parseHostKeys('{"version":1,"rootSecretKey":"zz","nodeSecretKey":""}')).toThrow(/expected/);
    const other = JSON.parse(serializeHostKeys(generateHostKeys()));
    const tampered = { ...JSON.parse(serializeHostKeys(keys)), subnetId: other.subnetId };
    expect(() => parseHostKeys(JSON.stringify(tampered))).toThrow(/subnetId do not match/);
    const zeroKey = { version: 1, rootSecretKey: '00'.repeat(32), nodeSecretKey: '11'.repeat(32) };
    const result = safeParseHostKeys(JSON.stringify(zeroKey));
    expect(result.ok).toBe(false);
    expect(() => hostKeysFromSecrets(new Uint8Array(32), new Uint8Array(32))).toThrow(HostKeysError);
  });
});

describe('signTree', () => {
  it('produces a certificate that agent-js Certificate.create verifies', async () => {
    const tree = treeAt(nowNs(), new Map([['greeting', utf8ToBytes('hello')]]));
    const certificate = signTree(tree, keys);
    const cert = await Certificate.create({ certificate, rootKey: keys.rootKeyDer, canisterId });
    expect(lookupResultToBuffer(cert.lookup_path(['greeting']))).toEqual(utf8ToBytes('hello'));
    expect(cert.lookup_path(['missing']).status).toBe(LookupPathStatus.Absent);
  });

  it('is rejected by agent-js under another root key or when stale', async () => {
    const certificate = signTree(treeAt(nowNs()), keys);
    const otherKey = generateHostKeys().rootKeyDer;
    await expect(Certificate.create({ certificate, rootKey: otherKey, canisterId })).rejects.toThrow(/ignature/);
    const stale = signTree(treeAt(nowNs() - 10n * 60n * 1_000_000_000n), keys);
    await expect(Certificate.create({ certificate: stale, rootKey: keys.rootKeyDer, canisterId })).rejects.toThrow();
  });

  it('encodes {tree, signature} with a 48-byte G1 signature identical to signShortSignature', () => {
    const tree = treeAt(1n);
    const decoded = decodeCbor(signTree(tree, keys));
    expect(decoded).toMatchObject({ tree: [2, utf8ToBytes('time'), [3, leb128(1n)]] });
    const signature = signRootHash(reconstruct(tree), keys.rootSecretKey);
    expect(signature.length).toBe(48);
    const legacy = bls12_381.signShortSignature(certificateMessage(reconstruct(tree)), keys.rootSecretKey);
    expect(bytesToHex(signature)).toBe(bytesToHex(legacy));
    expect(bls12_381.verifyShortSignature(signature, certificateMessage(reconstruct(tree)), keys.rootKeyDer.slice(37))).toBe(true);
  });
});

describe('Certifier', () => {
  it('signs once per root hash and records signing time', async () => {
    let clock = 0;
    const certifier = new Certifier(keys, { nowMs: () => (clock += 5), cacheSize: 2 });
    const tree = treeAt(nowNs());
    const first = certifier.certify(tree);
    expect(bytesToHex(certifier.certify(tree))).toBe(bytesToHex(first));
    expect(certifier.stats).toEqual({ signed: 1, cacheHits: 1, totalSignMs: 5, lastSignMs: 5 });
    await Certificate.create({ certificate: first, rootKey: keys.rootKeyDer, canisterId });
    certifier.certify(treeAt(1n));
    certifier.certify(treeAt(2n));
    certifier.certify(tree); // evicted by the two above (cache size 2)
    expect(certifier.stats.signed).toBe(4);
  });

  it('measures real BLS signing time', () => {
    signRootHash(new Uint8Array(32), keys.rootSecretKey); // JIT warm-up
    const certifier = new Certifier(keys);
    for (let i = 0; i < 10; i++) certifier.certify(treeAt(BigInt(i) + 10n));
    const { signed, totalSignMs } = certifier.stats;
    console.info(`BLS sign: ${(totalSignMs / signed).toFixed(1)} ms average over ${signed}`);
    expect(signed).toBe(10);
  });
});
