import { describe, expect, it } from 'vitest';
import {
  API_VERSION,
  GGUF_FILE_TYPES,
  ManifestError,
  MAX_MANIFEST_ISSUES,
  safeValidateManifest,
  safeValidateModelCard,
  validateManifest,
  type ManifestIssue
} from '../../../src/core/manifest/index.ts';
import { DIGEST_A, example, exampleFiles, modelCard, issuesOf, rejectFrom } from './manifest-fixtures.ts';

const reject = (mutate: (manifest: Record<string, any>) => void): ManifestIssue[] => rejectFrom(modelCard, mutate);

describe('examples', () => {
  it.each(exampleFiles().filter((f) => f.endsWith('.yaml')))('%s is a valid manifest', (file) => {
    const result = safeValidateManifest(example(file));
    expect(result.ok ? [] : result.issues).toEqual([]);
  });

  it('mixtral.model.json is a mixture of experts (active < total)', () => {
    const result = safeValidateModelCard(example('mixtral.model.json'));
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    expect(result.manifest.parameters.active).toBeLessThan(result.manifest.parameters.total);
  });

  it('keeps the validated card as it was written', () => {
    expect(validateManifest(modelCard())).toEqual(modelCard());
  });
});

describe('ModelCard: header and shape', () => {
  it('rejects an unknown key at its own path, suggesting the camelCase field', () => {
    expect(reject((c) => (c.context_length = 8192))).toEqual([
      {
        path: 'context_length',
        message: expect.stringMatching(/^unknown field "context_length" \(did you mean contextLength\? allowed: apiVersion, kind, id, /)
      }
    ]);
  });

  it('reports at most MAX_MANIFEST_ISSUES issues and counts the rest (each reported one costs a canister ~0.9M instructions)', () => {
    const issues = reject((c) => {
      for (let i = 0; i < 40; i++) c[`extra${i}`] = i;
    });
    expect(issues).toHaveLength(MAX_MANIFEST_ISSUES + 1);
    expect(issues.slice(0, MAX_MANIFEST_ISSUES).map((i) => i.path)).toEqual(
      Array.from({ length: MAX_MANIFEST_ISSUES }, (_, i) => `extra${i}`)
    );
    expect(issues[MAX_MANIFEST_ISSUES]).toEqual({ path: '', message: `and ${40 - MAX_MANIFEST_ISSUES} more issues not listed` });
  });

  it('rejects an unknown nested key', () => {
    expect(reject((c) => (c.quantization.groupSize = 128))).toEqual([
      { path: 'quantization.groupSize', message: 'unknown field "groupSize" (allowed: method, bits, label)' }
    ]);
  });

  it('rejects a wrong apiVersion', () => {
    expect(reject((c) => (c.apiVersion = 'deai.dev/v2'))).toEqual([
      { path: 'apiVersion', message: `expected "${API_VERSION}", got "deai.dev/v2"` }
    ]);
  });

  it('rejects a wrong kind with the known kinds', () => {
    expect(reject((c) => (c.kind = 'Model'))).toEqual([
      { path: 'kind', message: 'expected one of ModelCard | RunnerManifest, got "Model"' }
    ]);
  });

  it('reports a missing kind and a wrong apiVersion together', () => {
    expect(
      reject((c) => {
        delete c.kind;
        c.apiVersion = 1;
      })
    ).toEqual([
      { path: 'apiVersion', message: 'expected "deai.dev/v1", got 1' },
      { path: 'kind', message: 'missing required field: expected one of ModelCard | RunnerManifest' }
    ]);
  });

  it('rejects a value that is not an object', () => {
    expect(issuesOf(safeValidateManifest('kind: ModelCard'))).toEqual([
      { path: '', message: 'expected a manifest object with apiVersion and kind, got "kind: ModelCard"' }
    ]);
  });

  it('reports a missing required field', () => {
    expect(reject((c) => delete c.digest)).toEqual([{ path: 'digest', message: 'missing required field: expected a string' }]);
  });

  it('tells to quote a version that YAML read as a number', () => {
    expect(reject((c) => (c.version = 1.1))).toEqual([
      { path: 'version', message: 'expected a string, got number 1.1 (quote the value in YAML)' }
    ]);
  });

  it('safeValidateModelCard refuses another kind', () => {
    expect(issuesOf(safeValidateModelCard(example('runner-cpu.runner.yaml')))).toEqual([
      { path: 'kind', message: 'expected "ModelCard", got "RunnerManifest"' }
    ]);
  });

  it('validateManifest throws a coded ManifestError carrying the issues', () => {
    const card = { ...modelCard(), digest: 'sha256:xyz' };
    const error = (() => {
      try {
        validateManifest(card);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ManifestError);
    expect(error).toMatchObject({ code: 'InvalidManifest', retryable: false, issues: [{ path: 'digest' }] });
    expect(String((error as Error).message)).toContain('digest: expected a digest');
  });
});

describe('ModelCard: fields', () => {
  it.each([
    ['no org', 'Llama-3.1-8B'],
    ['two slashes', 'a/b/c'],
    ['leading dot', 'meta/.hidden'],
    ['space', 'meta llama/x']
  ])('rejects an id with %s', (_, id) => {
    expect(reject((c) => (c.id = id))).toEqual([
      { path: 'id', message: expect.stringMatching(/^expected a model id "org\/name" .*, got ".*"$/) }
    ]);
  });

  it('rejects an id longer than 160 characters', () => {
    const id = `${'o'.repeat(64)}/${'n'.repeat(100)}`;
    expect(reject((c) => (c.id = id))).toEqual([{ path: 'id', message: 'expected at most 160 characters, got 165' }]);
  });

  it.each([
    ['uppercase hex', `sha256:${'A'.repeat(64)}`],
    ['short hex', `sha256:${'a'.repeat(63)}`],
    ['long hex', `sha256:${'a'.repeat(65)}`],
    ['other algorithm', `sha512:${'a'.repeat(64)}`],
    ['no prefix', 'a'.repeat(64)]
  ])('rejects a digest with %s', (_, digest) => {
    expect(reject((c) => (c.digest = digest))).toEqual([
      { path: 'digest', message: expect.stringMatching(/^expected a digest "sha256:" followed by 64 lowercase hex digits, got "/) }
    ]);
  });

  it('rejects a base that is the model itself', () => {
    expect(reject((c) => (c.base.id = c.id))).toEqual([
      { path: 'base.id', message: `expected a base model other than the model itself, got "${modelCard().id}"` }
    ]);
  });

  it('rejects an unknown base relation', () => {
    expect(reject((c) => (c.base.relation = 'distilled'))).toEqual([
      { path: 'base.relation', message: 'expected one of finetune | quantized | adapter | merge, got "distilled"' }
    ]);
  });

  it('rejects active parameters above total', () => {
    expect(reject((c) => (c.parameters = { total: 1000, active: 1001 }))).toEqual([
      { path: 'parameters.active', message: 'expected active ≤ total (1000), got 1001' }
    ]);
  });

  it.each([
    [0, 'expected an integer ≥ 1, got 0'],
    [1.5, 'expected an integer, got number 1.5'],
    [2e13, 'expected an integer ≤ 10000000000000, got 20000000000000'],
    ['8B', 'expected a number, got string "8B"']
  ])('rejects parameters.total %j', (total, message) => {
    expect(reject((c) => (c.parameters.total = total))).toEqual([{ path: 'parameters.total', message }]);
  });

  it.each([
    [0, 'expected a number > 0, got 0'],
    [33, 'expected a number ≤ 32, got 33']
  ])('rejects quantization.bits %j', (bits, message) => {
    expect(reject((c) => (c.quantization.bits = bits))).toEqual([{ path: 'quantization.bits', message }]);
  });

  it('rejects an unknown quantization method, suggesting the right case', () => {
    const [issue, ...rest] = reject((c) => (c.quantization.method = 'q4_k_m'));
    expect(rest).toEqual([]);
    expect(issue?.path).toBe('quantization.method');
    expect(issue?.message).toMatch(/^expected one of F32 \| F16 \| BF16 \| .* \| none, got "q4_k_m" \(did you mean Q4_K_M\?\)$/);
  });

  it('requires a GGUF file type when the format is gguf', () => {
    expect(reject((c) => (c.quantization.method = 'awq'))).toEqual([
      { path: 'quantization.method', message: `expected a GGUF file type for format gguf (${GGUF_FILE_TYPES.join(' | ')}), got "awq"` }
    ]);
  });

  it('rejects an unknown format', () => {
    expect(reject((c) => (c.format = 'pt'))).toEqual([
      { path: 'format', message: 'expected one of gguf | safetensors | onnx | mlx | other, got "pt"' }
    ]);
  });

  it.each([
    [0, 'expected an integer ≥ 1, got 0'],
    [10_000_001, 'expected an integer ≤ 10000000, got 10000001']
  ])('rejects contextLength %j', (contextLength, message) => {
    expect(reject((c) => (c.contextLength = contextLength))).toEqual([{ path: 'contextLength', message }]);
  });

  it('rejects an unknown modality', () => {
    expect(reject((c) => (c.modalities.input = ['text', 'pixels']))).toEqual([
      { path: 'modalities.input[1]', message: 'expected one of text | image | audio | video | embedding, got "pixels"' }
    ]);
  });

  it('rejects a duplicate modality at the duplicate', () => {
    expect(reject((c) => (c.modalities.output = ['text', 'image', 'text']))).toEqual([
      { path: 'modalities.output[2]', message: 'duplicate "text" (already listed at index 0)' }
    ]);
  });

  it('rejects an empty modality set', () => {
    expect(reject((c) => (c.modalities.input = []))).toEqual([{ path: 'modalities.input', message: 'expected at least 1 entry, got 0' }]);
  });

  it('accepts no capabilities but rejects an unknown one', () => {
    expect(safeValidateManifest({ ...modelCard(), capabilities: [] }).ok).toBe(true);
    expect(reject((c) => (c.capabilities = ['tools', 'vision']))).toEqual([
      { path: 'capabilities[1]', message: 'expected one of tools | json_schema | reasoning | fim | rerank, got "vision"' }
    ]);
  });

  it.each(['MIT', 'Apache-2.0', 'GPL-3.0+', 'LicenseRef-my-license', 'llama3.1'])('accepts license %s', (license) => {
    expect(safeValidateManifest({ ...modelCard(), license }).ok).toBe(true);
  });

  it('rejects a license expression', () => {
    expect(reject((c) => (c.license = 'MIT OR Apache-2.0'))).toEqual([
      {
        path: 'license',
        message: 'expected an SPDX license identifier or LicenseRef-… (letters, digits, ".", "-", "+"), got "MIT OR Apache-2.0"'
      }
    ]);
  });

  it('rejects a string too long, showing its length', () => {
    expect(reject((c) => (c.version = 'v'.repeat(65)))).toEqual([{ path: 'version', message: 'expected at most 64 characters, got 65' }]);
  });

  it('rejects control characters in free text', () => {
    expect(reject((c) => (c.quantization.label = 'Q4\nK'))).toEqual([
      { path: 'quantization.label', message: 'expected text without control characters (tabs, newlines), got "Q4\\nK"' }
    ]);
  });

  it('rejects a family that is not a lowercase token', () => {
    expect(reject((c) => (c.family = 'Llama'))).toEqual([
      { path: 'family', message: expect.stringMatching(/^expected a lowercase token .*, got "Llama"$/) }
    ]);
  });

  it('reports several problems at once, each at its path', () => {
    const issues = reject((c) => {
      c.format = 'pt';
      c.digest = DIGEST_A.toUpperCase();
      c.modalities.input = ['text', 'text'];
    });
    expect(issues.map((i) => i.path)).toEqual(['format', 'modalities.input[1]', 'digest']);
  });
});
