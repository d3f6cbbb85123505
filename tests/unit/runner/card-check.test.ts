import { describe, expect, it } from 'vitest';

import { safeValidateModelCard, type ModelCard } from '../../../src/core/manifest/index.ts';
import { cardContradictions, publishedCardContradictions } from '../../../src/runner/card-check.ts';
import { modelCard } from '../../support/manifests.ts';

function card(overrides: Record<string, unknown> = {}): ModelCard {
  const parsed = safeValidateModelCard(modelCard(overrides));
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return parsed.manifest;
}

describe('a published card against what the runner measured', () => {
  it('agrees when only unmeasured fields differ (version, family, license, capabilities, output modalities), and bits within rounding', () => {
    const measured = card({ quantization: { method: 'Q4_K_M', bits: 4.89, label: 'Q4_K_M' } });
    const published = card({
      version: '3.1',
      family: 'llama3',
      license: 'MIT',
      capabilities: [],
      quantization: { method: 'Q4_K_M', bits: 4.8 }
    });
    expect(cardContradictions(published, measured)).toEqual([]);
  });

  it('names each contradicting field with the published and the measured value', () => {
    const measured = card();
    const published = card({
      format: 'gguf',
      architecture: 'qwen2',
      parameters: { total: 70_000_000_000 },
      quantization: { method: 'Q8_0', bits: 8.5 },
      contextLength: 4096,
      modalities: { input: ['text', 'image'], output: ['text'] }
    });
    expect(cardContradictions(published, measured).map(({ path, declared, probed }) => ({ path, declared, probed }))).toEqual([
      { path: 'architecture', declared: 'qwen2', probed: 'llama' },
      { path: 'parameters.total', declared: 70_000_000_000, probed: 8030261248 },
      { path: 'quantization.method', declared: 'Q8_0', probed: 'Q4_K_M' },
      { path: 'quantization.bits', declared: 8.5, probed: 4.5 },
      { path: 'contextLength', declared: 4096, probed: 131072 },
      { path: 'modalities.input', declared: ['text', 'image'], probed: ['text'] }
    ]);
  });

  it('a published card it cannot read contradicts as a whole', () => {
    expect(publishedCardContradictions('{not json', card())).toHaveLength(1);
    expect(publishedCardContradictions(JSON.stringify({ kind: 'ModelCard' }), card())[0]?.message).toMatch(/not a valid ModelCard/);
  });
});
