/** What reconciling finds wrong while it builds the manifest: contradictions of a measurement, and plain problems. */
import type { ManifestIssue } from '../core/manifest/index.js';
import type { RunnerIssue } from './errors.js';

/** A declared value the probes measured otherwise. */
export interface Contradiction extends RunnerIssue {
  declared: unknown;
  probed: unknown;
}

/** Collects contradictions and plain problems while the manifest is built. */
export class Findings {
  readonly contradictions: Contradiction[] = [];
  readonly invalid: ManifestIssue[] = [];

  contradict(path: string, declared: unknown, probed: unknown, message: string): void {
    this.contradictions.push({ path, declared, probed, message });
  }

  problem(path: string, message: string): void {
    this.invalid.push({ path, message });
  }
}
