import { describe, expect, it } from 'vitest';

import { safeValidateRunnerManifest, warmManifestValidators } from '../../../src/core/manifest/index.ts';
import {
  MAX_MANIFEST_BRACKETS,
  MAX_MANIFEST_BYTES,
  MAX_MANIFEST_SEPARATORS,
  parseManifestBytes
} from '../../../src/core/registry/index.ts';
import { parseManifestJson } from '../../support/manifests.ts';

const bytesOf = (text: string): Uint8Array => new TextEncoder().encode(text);
const parse = parseManifestJson;

const DIGEST = `sha256:${'a'.repeat(64)}`;

/** A valid manifest at every field's limit: 16 accelerators, 16 deployments with images and evidence, longest texts. */
function largestManifest(): Record<string, unknown> {
  const accelerator = {
    class: 'gpu',
    vendor: 'v'.repeat(64),
    model: 'm'.repeat(64),
    memoryGiB: 1023.75,
    count: 4,
    peakTops: 19999.5,
    watts: 2999.5
  };
  const deployment = (i: number) => ({
    model: { id: `${'o'.repeat(64)}/${'n'.repeat(91)}${String(i).padStart(4, '0')}`, digest: DIGEST },
    engine: 'llama.cpp',
    engineVersion: 'b'.repeat(64),
    apiDialect: 'openai',
    image: `registry.example.org/${'a'.repeat(300)}:${'t'.repeat(100)}@${DIGEST}`,
    servedContext: 9_999_999,
    slots: 64,
    price: { inputPerMillion: '99999999999999', outputPerMillion: '99999999999999' },
    evidenceDigest: DIGEST
  });
  return {
    apiVersion: 'deai.dev/v1',
    kind: 'RunnerManifest',
    operator: 'aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaa',
    endpoint: `https://${'a'.repeat(60)}.example.org/${'p'.repeat(170)}`,
    region: 'r'.repeat(32),
    hardware: { accelerators: Array.from({ length: 16 }, () => accelerator), cpu: { cores: 1024, architecture: 'x86_64' }, ramGiB: 32768 },
    confidential: { kind: 'sgx', evidenceDigest: DIGEST },
    deployments: Array.from({ length: 16 }, (_, i) => deployment(i))
  };
}

describe('a runner manifest bounded before it is decoded (parseManifestBytes)', () => {
  it('accepts the largest valid manifest, compact and pretty-printed, well within every bound', () => {
    const manifest = largestManifest();
    expect(safeValidateRunnerManifest(manifest)).toMatchObject({ ok: true });
    for (const indent of [0, 2]) {
      const text = JSON.stringify(manifest, null, indent);
      expect(bytesOf(text).length).toBeLessThan(MAX_MANIFEST_BYTES * 0.85);
      expect(text.split(/[[{]/).length - 1).toBe(70);
      expect(text.split(',').length - 1).toBe(297);
      expect(parse(text)).toEqual({ Ok: manifest });
    }
  });

  it('refuses more bytes than MAX_MANIFEST_BYTES before decoding', () => {
    expect(parse(JSON.stringify({ a: 'y'.repeat(MAX_MANIFEST_BYTES) }))).toEqual({
      Err: { LimitExceeded: { what: 'manifest bytes', limit: BigInt(MAX_MANIFEST_BYTES) } }
    });
    let decoded = false;
    parseManifestBytes(new Uint8Array(MAX_MANIFEST_BYTES + 1), () => ((decoded = true), ''));
    expect(decoded).toBe(false);
  });

  it('refuses more brackets than MAX_MANIFEST_BRACKETS, in strings too, so nesting is bounded without a scan', () => {
    const brackets = { Err: { LimitExceeded: { what: 'manifest brackets ([ and {)', limit: BigInt(MAX_MANIFEST_BRACKETS) } } };
    expect(parse('{"a":'.repeat(5_000))).toEqual(brackets);
    expect(parse(JSON.stringify({ a: Array.from({ length: MAX_MANIFEST_BRACKETS }, () => []) }))).toEqual(brackets);
    expect(parse(JSON.stringify({ a: '['.repeat(MAX_MANIFEST_BRACKETS) }))).toEqual(brackets);
    // At the bound it still parses: 128 levels is no danger to the parser's stack.
    const deepest = '['.repeat(MAX_MANIFEST_BRACKETS) + ']'.repeat(MAX_MANIFEST_BRACKETS);
    expect(parse(deepest)).toEqual({ Ok: JSON.parse(deepest) as unknown });
  });

  it('refuses more commas than MAX_MANIFEST_SEPARATORS, so validating and reporting stays cheap', () => {
    // n keys, n - 1 commas.
    const many = JSON.stringify(Object.fromEntries(Array.from({ length: MAX_MANIFEST_SEPARATORS + 2 }, (_, i) => [`k${i}`, i])));
    expect(parse(many)).toEqual({
      Err: { LimitExceeded: { what: 'manifest commas (fields and list entries)', limit: BigInt(MAX_MANIFEST_SEPARATORS) } }
    });
    const atBound = JSON.stringify(Object.fromEntries(Array.from({ length: MAX_MANIFEST_SEPARATORS + 1 }, (_, i) => [`k${i}`, i])));
    expect(parse(atBound)).toHaveProperty('Ok');
  });

  it('answers InvalidManifest for bytes that are not UTF-8 and for text that is not JSON', () => {
    expect(parse(Uint8Array.from([0x7b, 0xff, 0x7d]))).toEqual({
      Err: { InvalidManifest: { issues: [{ path: '', message: 'not valid UTF-8' }] } }
    });
    expect(parse('{"a":')).toEqual({
      Err: { InvalidManifest: { issues: [{ path: '', message: expect.stringMatching(/^not valid JSON: SyntaxError/) as unknown }] } }
    });
    expect(parse('{"vendor":"Ñvidia ✓"}')).toEqual({ Ok: { vendor: 'Ñvidia ✓' } });
  });

  it('reports a string past its length once, without running the field pattern on it', () => {
    const manifest = { ...largestManifest(), region: 'Y'.repeat(30_000) };
    const result = safeValidateRunnerManifest(manifest);
    expect(result).toMatchObject({ ok: false, issues: [{ path: 'region', message: 'expected at most 32 characters, got 30000' }] });
  });

  it('warms the validators with examples that are valid', () => {
    expect(() => warmManifestValidators()).not.toThrow();
  });
});
