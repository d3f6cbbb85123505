import { expect } from 'vitest';
import { safeValidateManifest, type ManifestIssue, type ManifestResult } from '../../../src/core/manifest/index.ts';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const EXAMPLES_DIR = fileURLToPath(new URL('../../../examples/manifests/', import.meta.url));

export const exampleFiles = (): string[] => readdirSync(EXAMPLES_DIR).sort();

export const exampleText = (name: string): string => readFileSync(`${EXAMPLES_DIR}${name}`, 'utf8');

/** A fresh plain-object copy of an example, to mutate in one test. */
export function example(name: string): Record<string, any> {
  return parse(exampleText(name)) as Record<string, any>;
}

export const modelCard = () => example('llama-3.1-8b-q4km.model.yaml');
export const runner = () => example('runner-gpu.runner.yaml');

export const DIGEST_A = `sha256:${'a'.repeat(64)}`;
export const DIGEST_B = `sha256:${'b'.repeat(64)}`;

/** The issues of a rejected manifest (fails the test when it was accepted). */
export function issuesOf(result: ManifestResult<unknown>): ManifestIssue[] {
  if (result.ok) throw new Error('expected the manifest to be rejected');
  expect(result.code).toBe('InvalidManifest');
  return result.issues;
}

/** Validates `base()` after `mutate` and returns its issues. */
export function rejectFrom(base: () => Record<string, any>, mutate: (manifest: Record<string, any>) => void): ManifestIssue[] {
  const manifest = base();
  mutate(manifest);
  return issuesOf(safeValidateManifest(manifest));
}
