import type { StoredRunner } from './types.js';

/** A runner's confidential-computing claim as discovery and views show it. */
export interface Confidential {
  kind: string;
  /** The sha256 digest of the attestation evidence the runner named (kept in its stored manifest). */
  evidenceDigest?: string;
  /** Whether the registry verified the attestation. */
  verified: boolean;
}

/**
 * The claim and whether it is verified. No attestation is verified yet (verifying SEV-SNP, TDX, SGX or GPU CC reports
 * is to come), so every claim is `verified: false`: a digest is only what the runner says. Discovery treats an
 * unverified claim as not confidential, so `confidential_required` finds only verified runners.
 */
export function confidentialOf(runner: StoredRunner): Confidential {
  const { kind, evidenceDigest } = runner.manifest.confidential;
  const claim: Confidential = { kind, verified: false };
  if (evidenceDigest !== undefined) claim.evidenceDigest = evidenceDigest;
  return claim;
}
