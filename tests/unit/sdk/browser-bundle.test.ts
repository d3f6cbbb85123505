import { join } from 'node:path';

import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..');

describe('the SDK in a browser', () => {
  // dApps call the SDK from web pages: nothing it imports may need a Node built-in (node:crypto, fs, …) or Azle.
  it('bundles for the browser platform without Node built-ins', async () => {
    const result = await build({
      entryPoints: [join(root, 'src', 'sdk', 'index.ts')],
      absWorkingDir: root,
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent'
    });
    expect(result.errors).toEqual([]);
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.filter((path) => path.startsWith('node:') || path.includes('node_modules/azle/'))).toEqual([]);
    // The direct chat() path is in the bundle, so a browser can stream from runners.
    expect(inputs).toContain('src/inference/chat-stream.ts');
  });

  it('is caught when a Node built-in slips in (the check above can fail)', async () => {
    const attempt = build({
      stdin: { contents: "import { createHash } from 'node:crypto'; export const h = createHash;", resolveDir: root },
      bundle: true,
      platform: 'browser',
      write: false,
      logLevel: 'silent'
    });
    await expect(attempt).rejects.toThrow(/node:crypto/);
  });
});
