import { formatIssue, type ManifestIssue } from './issues.ts';
import { CodedError } from '../errors/coded-error.ts';

/** Errors of the manifest standard: a stable code, never retryable (the input must change). */
export type ManifestErrorCode = 'InvalidManifest' | 'ManifestSyntax' | 'ManifestTooLarge' | 'InvalidModelRef';

export class ManifestError extends CodedError<ManifestErrorCode, { issues: readonly ManifestIssue[] }> {
  constructor(
    code: ManifestErrorCode,
    readonly issues: readonly ManifestIssue[],
    options?: { cause?: unknown; source?: string }
  ) {
    super(code, summarize(code, issues, options?.source), { cause: options?.cause, details: { issues } });
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
