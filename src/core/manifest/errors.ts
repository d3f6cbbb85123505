import { formatIssue, type ManifestIssue } from './issues.ts';

/** Errors of the manifest standard: a stable code, never retryable (the input must change). */
export type ManifestErrorCode = 'InvalidManifest' | 'ManifestSyntax' | 'ManifestTooLarge' | 'InvalidModelRef';

export class ManifestError extends Error {
  readonly retryable = false;

  constructor(
    readonly code: ManifestErrorCode,
    readonly issues: readonly ManifestIssue[],
    options?: { cause?: unknown; source?: string }
  ) {
    super(summarize(code, issues, options?.source), { cause: options?.cause });
    this.name = 'ManifestError';
  }
}

function summarize(code: ManifestErrorCode, issues: readonly ManifestIssue[], source?: string): string {
  const what = source ?? 'manifest';
  const head =
    code === 'InvalidModelRef' ? 'invalid model reference' : `${what}: ${issues.length} ${issues.length === 1 ? 'problem' : 'problems'}`;
  const lines = issues.map((issue) => `  ${formatIssue(issue)}`);
  return [head, ...lines].join('\n');
}
