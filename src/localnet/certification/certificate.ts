import { bls12_381 } from '@noble/curves/bls12-381';
import { bytesToHex, concatBytes, utf8ToBytes } from '@noble/hashes/utils';
import { encodeCbor } from '../crypto/cbor.js';
import type { HostKeys } from '../crypto/host-keys.js';
import { reconstruct, type HashTree } from './hash-tree.js';

/** `domain_sep("ic-state-root")` = 0x0d ‖ "ic-state-root" (S-CERT). */
export const STATE_ROOT_DOMAIN = concatBytes(Uint8Array.of(13), utf8ToBytes('ic-state-root'));

/** The message the root key signs for a tree: `domain_sep("ic-state-root") ‖ root_hash`. */
export function certificateMessage(rootHash: Uint8Array): Uint8Array {
  return concatBytes(STATE_ROOT_DOMAIN, rootHash);
}

/**
 * BLS short signature (48-byte G1 point, key in G2, DST `BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_`)
 * over a root hash — what agent-js `verifyShortSignature` and ic-agent accept. Byte-identical to the
 * deprecated `bls12_381.signShortSignature(msg, sk)`.
 */
export function signRootHash(rootHash: Uint8Array, rootSecretKey: Uint8Array): Uint8Array {
  const short = bls12_381.shortSignatures;
  return short.Signature.toBytes(short.sign(short.hash(certificateMessage(rootHash)), rootSecretKey));
}

/** CBOR (tag 55799) of the certificate `{tree, signature}`, no delegation — the `certificate` blob. */
export function signTree(tree: HashTree, keys: Pick<HostKeys, 'rootSecretKey'>): Uint8Array {
  return encodeCbor({ tree, signature: signRootHash(reconstruct(tree), keys.rootSecretKey) });
}

export interface CertifierStats {
  /** Number of BLS signatures computed. */
  signed: number;
  /** Number of certify() calls answered from the signature cache. */
  cacheHits: number;
  /** Wall-clock milliseconds spent in BLS signing, total and for the last signature. */
  totalSignMs: number;
  lastSignMs: number;
}

export interface CertifierOptions {
  /** Signatures kept, keyed by root hash (least recently used evicted). Default 256. */
  cacheSize?: number;
  /** Millisecond clock for the signing-time stats; default `performance.now`. */
  nowMs?: () => number;
}

/**
 * Signs trees with the host root key, caching signatures by root hash: identical trees (for
 * example a data certificate served to many queries) are signed once. Signing costs ~10 ms.
 */
export class Certifier {
  readonly #rootSecretKey: Uint8Array;
  readonly #cacheSize: number;
  readonly #nowMs: () => number;
  readonly #signatures = new Map<string, Uint8Array>();
  readonly #stats: CertifierStats = { signed: 0, cacheHits: 0, totalSignMs: 0, lastSignMs: 0 };

  constructor(keys: Pick<HostKeys, 'rootSecretKey'>, options: CertifierOptions = {}) {
    this.#rootSecretKey = keys.rootSecretKey;
    this.#cacheSize = Math.max(0, options.cacheSize ?? 256);
    this.#nowMs = options.nowMs ?? (() => performance.now());
  }

  /** CBOR-encoded certificate for `tree`. */
  certify(tree: HashTree): Uint8Array {
    return encodeCbor({ tree, signature: this.signatureFor(reconstruct(tree)) });
  }

  /** The (cached) signature over a root hash. */
  signatureFor(rootHash: Uint8Array): Uint8Array {
    const key = bytesToHex(rootHash);
    const cached = this.#signatures.get(key);
    if (cached) {
      this.#stats.cacheHits++;
      this.#signatures.delete(key);
      this.#signatures.set(key, cached);
      return cached;
    }
    const start = this.#nowMs();
    const signature = signRootHash(rootHash, this.#rootSecretKey);
    const elapsedMs = this.#nowMs() - start;
    this.#stats.signed++;
    this.#stats.totalSignMs += elapsedMs;
    this.#stats.lastSignMs = elapsedMs;
    if (this.#cacheSize > 0) {
      this.#signatures.set(key, signature);
      const oldest = this.#signatures.keys().next();
      if (this.#signatures.size > this.#cacheSize && !oldest.done) this.#signatures.delete(oldest.value);
    }
    return signature;
  }

  get stats(): Readonly<CertifierStats> {
    return { ...this.#stats };
  }
}
