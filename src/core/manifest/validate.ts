import { z } from 'zod';
import { ManifestError, type ManifestErrorCode } from './errors.ts';
import { manifestErrorMap, reportIssues, show, type ManifestIssue } from './issues.ts';
import { ModelCardSchema, type ModelCard } from './model-card.ts';
import { RunnerManifestSchema, type RunnerManifest } from './runner-manifest.ts';
import { API_VERSION, MANIFEST_KINDS } from './vocabulary.ts';

/** Any manifest, told apart by `kind`. */
export const ManifestSchema = z.discriminatedUnion('kind', [ModelCardSchema, RunnerManifestSchema]);

export type Manifest = z.infer<typeof ManifestSchema>;

export type ManifestResult<T = Manifest> = { ok: true; manifest: T } | { ok: false; code: ManifestErrorCode; issues: ManifestIssue[] };

const PARSE_CONTEXT = { error: manifestErrorMap, reportInput: true, async: false } as const;

/**
 * `safeParse` without its error object: zod's run, then only the reported issues finalized (reportIssues), which in a
 * canister is the difference between ~0.3M and ~0.1M instructions an issue.
 */
function run<T>(schema: z.ZodType<T>, value: unknown): ManifestResult<T> {
  const result = schema._zod.run({ value, issues: [] }, PARSE_CONTEXT);
  if (result instanceof Promise) throw new z.core.$ZodAsyncError();
  if (result.issues.length === 0) return { ok: true, manifest: result.value as T };
  const config = z.core.config();
  return {
    ok: false,
    code: 'InvalidManifest',
    issues: reportIssues(result.issues, (issue) => z.core.util.finalizeIssue(issue, PARSE_CONTEXT, config))
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * `apiVersion` and `kind` first, together, so that a manifest of another version or kind gets
 * one clear message per header field instead of a list of field errors for the wrong kind.
 */
function headerIssues(value: unknown, kinds: readonly string[]): ManifestIssue[] {
  if (!isRecord(value)) {
    return [{ path: '', message: `expected a manifest object with apiVersion and kind, got ${show(value)}` }];
  }
  const issues: ManifestIssue[] = [];
  const { apiVersion, kind } = value;
  if (apiVersion !== API_VERSION) {
    const message =
      apiVersion === undefined ? `missing required field: expected "${API_VERSION}"` : `expected "${API_VERSION}", got ${show(apiVersion)}`;
    issues.push({ path: 'apiVersion', message });
  }
  if (typeof kind !== 'string' || !kinds.includes(kind)) {
    const expected = kinds.length === 1 ? `"${kinds[0]}"` : `one of ${kinds.join(' | ')}`;
    const message = kind === undefined ? `missing required field: expected ${expected}` : `expected ${expected}, got ${show(kind)}`;
    issues.push({ path: 'kind', message });
  }
  return issues;
}

function validateAs<T>(schema: z.ZodType<T>, kinds: readonly string[], value: unknown): ManifestResult<T> {
  const header = headerIssues(value, kinds);
  if (header.length > 0) return { ok: false, code: 'InvalidManifest', issues: header };
  return run(schema, value);
}

/** Validates any manifest (`ModelCard` or `RunnerManifest`); never throws. */
export function safeValidateManifest(value: unknown): ManifestResult<Manifest> {
  const header = headerIssues(value, MANIFEST_KINDS);
  if (header.length > 0) return { ok: false, code: 'InvalidManifest', issues: header };
  const kind = isRecord(value) ? value.kind : undefined;
  return kind === 'ModelCard' ? run(ModelCardSchema, value) : run(RunnerManifestSchema, value);
}

/** Validates a value that must be a `ModelCard`; never throws. */
export function safeValidateModelCard(value: unknown): ManifestResult<ModelCard> {
  return validateAs(ModelCardSchema, ['ModelCard'], value);
}

/** Validates a value that must be a `RunnerManifest`; never throws. */
export function safeValidateRunnerManifest(value: unknown): ManifestResult<RunnerManifest> {
  return validateAs(RunnerManifestSchema, ['RunnerManifest'], value);
}

function orThrow<T>(result: ManifestResult<T>): T {
  if (!result.ok) throw new ManifestError(result.code, result.issues);
  return result.manifest;
}

/** Like {@link safeValidateManifest}, but throws a `ManifestError` (code `InvalidManifest`). */
export function validateManifest(value: unknown): Manifest {
  return orThrow(safeValidateManifest(value));
}

export function validateModelCard(value: unknown): ModelCard {
  return orThrow(safeValidateModelCard(value));
}

export function validateRunnerManifest(value: unknown): RunnerManifest {
  return orThrow(safeValidateRunnerManifest(value));
}
