import type { ManifestIssue } from './issues.ts';

/** Errors of the manifest standard: a stable code, never retryable (the input must change). */
export type ManifestErrorCode =
  | 'InvalidManifest'
  | 'ManifestSyntax'
  | 'ManifestTooLarge'
  | 'InvalidModelRef';

export class ManifestError extends Error {
  readonly retryable = false;

  constructor(
    readonly code: ManifestErrorCode,
    readonly issues: readonly ManifestIssue[],
    options?: { cause?: unknown; source?: string }
  ) {
    super(summarize(code, issues, options?.source), options);
    this.name = 'ManifestError';
  }
}

function summarize(code: ManifestErrorCode, issues: readonly ManifestIssue[], source?: string): string {
  const what = source ?? 'manifest';
  const head =
    code === 'InvalidModelRef'
      ? 'invalid model reference'
      : `${what}: ${issues.length} ${issues.length === 1 ? 'problem' : 'problems'}`;
  const lines = issues.map((issue) => `  ${formatIssue(issue)}`);
  return [head, ...lines].join('\n');
}

/** One issue as a line: `[document 2 ]line 12:7 hardware.cpu.cores: expected …`. */
export function formatIssue(issue: ManifestIssue): string {
  const where: string[] = [];
  if (issue.document !== undefined) where.push(`document ${issue.document + 1}`);
  if (issue.line !== undefined) where.push(`line ${issue.line}:${issue.column ?? 1}`);
  if (issue.path !== '') where.push(issue.path);
  return where.length === 0 ? issue.message : `${where.join(' ')}: ${issue.message}`;
}
