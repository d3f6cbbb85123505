import { describe, expect, it } from 'vitest';
import { MANIFEST_TEXT_MAX_BYTES, ManifestError, formatIssue } from '../../../src/core/manifest/index.ts';
import {
  parseManifestText,
  parseManifestsText,
  safeParseManifestText,
  safeParseManifestsText
} from '../../../src/core/manifest/parse-text.ts';
import { exampleFiles, exampleText } from './manifest-fixtures.ts';

const card = exampleText('llama-3.1-8b-q4km.model.yaml');
const cpuRunner = exampleText('runner-cpu.runner.yaml');

describe('parse-text', () => {
  it.each(exampleFiles())('parses %s', (file) => {
    const result = safeParseManifestText(exampleText(file), file);
    expect(result.ok ? [] : result.issues).toEqual([]);
  });

  it('parses JSON and YAML to the same manifest', () => {
    const fromYaml = parseManifestText(card);
    expect(parseManifestText(JSON.stringify(fromYaml))).toEqual(fromYaml);
  });

  it('turns prices into bigints', () => {
    const manifest = parseManifestText(cpuRunner);
    if (manifest.kind !== 'RunnerManifest') throw new Error('expected a runner');
    expect(manifest.deployments[0]?.price).toEqual({ inputPerMillion: 200n, outputPerMillion: 600n });
  });

  it('reports a YAML syntax error with its line and column', () => {
    const text = card.replace('family: llama', 'family: llama\n  bad: [indent');
    expect(safeParseManifestText(text, 'card.yaml')).toEqual({
      ok: false,
      code: 'ManifestSyntax',
      issues: [{ path: '', message: expect.stringMatching(/^YAML syntax error: /), line: 7, column: 9 }]
    });
  });

  it('reports a duplicate key as a syntax error', () => {
    const text = `${card}\nfamily: qwen\n`;
    const result = safeParseManifestText(text);
    expect(result).toMatchObject({
      ok: false,
      code: 'ManifestSyntax',
      issues: [{ message: 'YAML syntax error: Map keys must be unique', line: 27, column: 1 }]
    });
  });

  it('reports a JSON syntax error as JSON, with its line', () => {
    const result = safeParseManifestText('{\n  "apiVersion": "deai.dev/v1",\n  "kind": "ModelCard" "x"\n}');
    expect(result).toMatchObject({ ok: false, code: 'ManifestSyntax', issues: [{ path: '', line: 3 }] });
    expect(result.ok ? '' : result.issues[0]?.message).toMatch(/^JSON syntax error: /);
  });

  it('locates validation issues in the source text', () => {
    const text = cpuRunner.replace('architecture: x86_64', 'architecture: arm64').replace('slots: 2', 'slots: 2\n    gpuLayers: 99');
    const result = safeParseManifestText(text, 'runner-cpu.runner.yaml');
    expect(result).toEqual({
      ok: false,
      code: 'InvalidManifest',
      issues: [
        {
          path: 'hardware.cpu.architecture',
          message: 'expected one of x86_64 | aarch64 | riscv64 | other, got "arm64"',
          line: 8,
          column: 21
        },
        {
          path: 'deployments[0].gpuLayers',
          message: expect.stringMatching(/^unknown field "gpuLayers" \(allowed: model, engine, /),
          line: 20,
          column: 5
        }
      ]
    });
  });

  it('points a missing field at its parent', () => {
    const result = safeParseManifestText(card.replace(/^license: .*\n/m, ''));
    expect(result).toMatchObject({ ok: false, issues: [{ path: 'license', line: 3, column: 1 }] });
  });

  it('rejects an oversized text before parsing it', () => {
    const text = `${card}#${'x'.repeat(MANIFEST_TEXT_MAX_BYTES)}\n`;
    expect(safeParseManifestText(text, 'big.yaml')).toEqual({
      ok: false,
      code: 'ManifestTooLarge',
      issues: [{ path: '', message: `big.yaml is at least ${text.length} bytes; a manifest text may be at most 262144 bytes (256 KiB)` }]
    });
  });

  it('counts UTF-8 bytes, not characters', () => {
    const text = `${card}# ${'é'.repeat(MANIFEST_TEXT_MAX_BYTES / 2)}\n`;
    expect(text.length).toBeLessThan(MANIFEST_TEXT_MAX_BYTES);
    expect(safeParseManifestText(text)).toMatchObject({ ok: false, code: 'ManifestTooLarge' });
  });

  it('rejects an empty text and a scalar document', () => {
    expect(safeParseManifestText('# nothing here\n', 'empty.yaml')).toEqual({
      ok: false,
      code: 'InvalidManifest',
      issues: [{ path: '', message: 'expected a manifest, got an empty empty.yaml' }]
    });
    expect(safeParseManifestText('just a string')).toMatchObject({
      ok: false,
      issues: [{ path: '', message: 'expected a manifest object with apiVersion and kind, got "just a string"', line: 1, column: 1 }]
    });
  });

  it('rejects alias bombs', () => {
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x, x]',
      'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]'
    ].join('\n');
    expect(safeParseManifestText(bomb)).toMatchObject({ ok: false, code: 'ManifestSyntax' });
  });
});

describe('multi-document streams', () => {
  const stream = `${card}---\n${cpuRunner}---\n`;

  it('returns every manifest of a stream, ignoring a trailing empty document', () => {
    const manifests = parseManifestsText(stream);
    expect(manifests.map((m) => m.kind)).toEqual(['ModelCard', 'RunnerManifest']);
  });

  it('refuses a stream where one manifest is expected', () => {
    expect(safeParseManifestText(stream)).toEqual({
      ok: false,
      code: 'InvalidManifest',
      issues: [{ path: '', message: 'expected one manifest, got 2 documents (use parseManifestsText for a stream)' }]
    });
  });

  it('numbers the documents in issues and locates them in the whole text', () => {
    const bad = `${card}---\n${cpuRunner.replace('ramGiB: 128', 'ramGiB: -1')}`;
    const result = safeParseManifestsText(bad, 'all.yaml');
    const cardLines = card.split('\n').length;
    expect(result).toEqual({
      ok: false,
      code: 'InvalidManifest',
      issues: [{ path: 'hardware.ramGiB', message: 'expected a number > 0, got -1', document: 1, line: cardLines + 9, column: 3 }]
    });
    if (!result.ok) {
      expect(formatIssue(result.issues[0]!)).toBe(`document 2 line ${cardLines + 9}:3 hardware.ramGiB: expected a number > 0, got -1`);
    }
  });

  it('reports a syntax error in the second document', () => {
    const result = safeParseManifestsText(`${card}---\nkind: [\n`);
    expect(result).toMatchObject({ ok: false, code: 'ManifestSyntax', issues: [{ document: 1 }] });
  });

  it('parseManifestsText throws a ManifestError naming the source', () => {
    expect(() => parseManifestsText('apiVersion: deai.dev/v2\nkind: ModelCard\n', 'old.yaml')).toThrow(
      expect.objectContaining({
        name: 'ManifestError',
        code: 'InvalidManifest',
        message: 'old.yaml: 1 problem\n  line 1:1 apiVersion: expected "deai.dev/v1", got "deai.dev/v2"'
      })
    );
    expect(() => parseManifestText('a: [')).toThrow(ManifestError);
  });
});
