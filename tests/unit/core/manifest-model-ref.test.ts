import { describe, expect, it } from 'vitest';
import {
  ManifestError,
  formatModelRef,
  modelCardRef,
  parseModelRef,
  safeParseModelRef,
  validateModelCard
} from '../../../src/core/manifest/index.ts';
import { DIGEST_A, modelCard } from './manifest-fixtures.ts';

describe('model references', () => {
  it('takes { id, digest } from a card and round-trips through text', () => {
    const card = validateModelCard(modelCard());
    const ref = modelCardRef(card);
    expect(ref).toEqual({ id: card.id, digest: card.digest });
    const text = formatModelRef(ref);
    expect(text).toBe(`bartowski/Meta-Llama-3.1-8B-Instruct-GGUF@${card.digest}`);
    expect(parseModelRef(text)).toEqual(ref);
  });

  it('rejects text without "@"', () => {
    expect(safeParseModelRef('org/name')).toEqual({
      ok: false,
      issues: [{ path: '', message: 'expected "org/name@sha256:<64 hex>", got "org/name" (no "@")' }]
    });
  });

  it('reports the bad part of the reference', () => {
    expect(safeParseModelRef('org/name@sha256:00')).toEqual({
      ok: false,
      issues: [{ path: 'digest', message: 'expected a digest "sha256:" followed by 64 lowercase hex digits, got "sha256:00"' }]
    });
    expect(safeParseModelRef(`name@${DIGEST_A}`)).toMatchObject({ ok: false, issues: [{ path: 'id' }] });
  });

  it('parseModelRef throws InvalidModelRef', () => {
    expect(() => parseModelRef('nope')).toThrow(ManifestError);
    expect(() => parseModelRef('nope')).toThrow(expect.objectContaining({ code: 'InvalidModelRef' }));
  });
});
