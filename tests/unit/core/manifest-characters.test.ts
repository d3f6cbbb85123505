import { describe, expect, it } from 'vitest';

import { safeValidateManifest } from '../../../src/core/manifest/index.ts';
import { modelCard, rejectFrom, runner } from './manifest-fixtures.ts';

const VERSION_MESSAGE = 'expected a version label (A-Z a-z 0-9 . _ + -, starting with a letter or digit)';
const INVISIBLE_MESSAGE = 'expected text without invisible or direction-changing characters (zero-width, bidi controls such as U+202E)';

/** Bidi embeddings, overrides and isolates; zero-width space, non-joiner, joiner; BOM; and other format characters. */
const HIDDEN = [
  '\u202a',
  '\u202b',
  '\u202c',
  '\u202d',
  '\u202e',
  '\u2066',
  '\u2067',
  '\u2068',
  '\u2069',
  '\u200b',
  '\u200c',
  '\u200d',
  '\ufeff',
  '\u00ad',
  '\u2060',
  '\u2028',
  '\u0085',
  '\u{e0001}'
];
const hex = (c: string): string => {
  const code = c.codePointAt(0) ?? 0;
  return code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, '0')}`;
};

describe('manifest identifiers and free text refuse characters a reader cannot see', () => {
  it.each(['1.0.0\u202e', '1.0\u200b.0', '\u2066v1\u2069', '1.0 beta', 'версия', '-1', '1/2'])(
    'refuses the version label %j',
    (version) => {
      // What the examples and tests use stays valid: 1.0.0, 2.5, 0.1, v1, 3, and semver with pre-release and build.
      for (const valid of ['1.0.0', '2.5', '0.1', 'v1', '3', '1.0.0-rc.1+build.5', '2024_05']) {
        const card = modelCard();
        card.version = valid;
        const result = safeValidateManifest(card);
        expect(result.ok ? [] : result.issues).toEqual([]);
      }
      expect(rejectFrom(modelCard, (c) => (c.version = version))).toEqual([
        { path: 'version', message: expect.stringMatching(new RegExp(`^${escape(VERSION_MESSAGE)}, got "`)) }
      ]);
    }
  );

  it('shows the hidden character escaped in the message, never as itself', () => {
    const [issue] = rejectFrom(modelCard, (c) => (c.version = '1.0\u202e0.1'));
    expect(issue?.message).toBe(`${VERSION_MESSAGE}, got "1.0\\u202e0.1"`);
  });

  it.each(HIDDEN)('refuses U+%s in every free-text field, each issue at its path (other non-ASCII text stays valid)', (hidden) => {
    const manifest = runner();
    manifest.hardware.accelerators[0].vendor = 'Huawei 华为';
    const valid = safeValidateManifest(manifest);
    expect(valid.ok ? [] : valid.issues).toEqual([]);
    expect(rejectFrom(modelCard, (c) => (c.quantization.label = `Q4${hidden}_K_M`))).toEqual([
      { path: 'quantization.label', message: `${INVISIBLE_MESSAGE}, got "Q4${hex(hidden)}_K_M"` }
    ]);
    expect(
      rejectFrom(runner, (r) => {
        r.hardware.accelerators[0].vendor = `NVIDIA${hidden}`;
        r.hardware.accelerators[0].model = `${hidden}H100`;
      })
    ).toEqual([
      { path: 'hardware.accelerators[0].vendor', message: `${INVISIBLE_MESSAGE}, got "NVIDIA${hex(hidden)}"` },
      { path: 'hardware.accelerators[0].model', message: `${INVISIBLE_MESSAGE}, got "${hex(hidden)}H100"` }
    ]);
  });

  it('refuses hidden characters in engine versions, ids and names', () => {
    expect(rejectFrom(runner, (r) => (r.deployments[0].engineVersion = 'b4567\u200b'))).toEqual([
      { path: 'deployments[0].engineVersion', message: `${VERSION_MESSAGE}, got "b4567\\u200b"` }
    ]);
    const [id] = rejectFrom(modelCard, (c) => (c.id = 'meta-llama/Llama\u202e'));
    expect(id).toMatchObject({ path: 'id', message: expect.stringContaining('got "meta-llama/Llama\\u202e"') });
    const [family] = rejectFrom(modelCard, (c) => (c.family = 'llama\u200d'));
    expect(family).toMatchObject({ path: 'family', message: expect.stringContaining('got "llama\\u200d"') });
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
