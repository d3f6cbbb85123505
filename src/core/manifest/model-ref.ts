import { z } from 'zod';
import { ManifestError } from './errors.ts';
import { DigestSchema, ModelIdSchema } from './fields.ts';
import { manifestErrorMap, toManifestIssues, type ManifestIssue } from './issues.ts';

/** A model by name and content: the id says what it is meant to be, the digest what it is. */
export const ModelRefSchema = z.strictObject({
  id: ModelIdSchema,
  digest: DigestSchema
});

export type ModelRef = z.infer<typeof ModelRefSchema>;

/** The reference a runner deploys and a registry indexes: `{ id, digest }` of a card. */
export function modelCardRef(card: { id: string; digest: string }): ModelRef {
  return { id: card.id, digest: card.digest };
}

/** `{ id, digest }` → `meta-llama/Llama-3.1-8B-Instruct@sha256:…`. */
export function formatModelRef(ref: ModelRef): string {
  return `${ref.id}@${ref.digest}`;
}

export type ModelRefResult = { ok: true; ref: ModelRef } | { ok: false; issues: ManifestIssue[] };

/** `org/name@sha256:<64 hex>` → `{ id, digest }`, or the issues. */
export function safeParseModelRef(text: string): ModelRefResult {
  const at = text.lastIndexOf('@');
  if (at < 0) {
    const message = `expected "org/name@sha256:<64 hex>", got ${JSON.stringify(text)} (no "@")`;
    return { ok: false, issues: [{ path: '', message }] };
  }
  const parsed = ModelRefSchema.safeParse(
    { id: text.slice(0, at), digest: text.slice(at + 1) },
    { error: manifestErrorMap, reportInput: true }
  );
  if (parsed.success) return { ok: true, ref: parsed.data };
  return { ok: false, issues: toManifestIssues(parsed.error.issues) };
}

/** Like {@link safeParseModelRef}, but throws a `ManifestError` with code `InvalidModelRef`. */
export function parseModelRef(text: string): ModelRef {
  const result = safeParseModelRef(text);
  if (!result.ok) throw new ManifestError('InvalidModelRef', result.issues);
  return result.ref;
}
