import { join } from 'node:path';

import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

import { bundleSdkForBrowser } from '../../support/sdk-bundle.ts';

describe('the SDK bundles for browsers', () => {
  // dApps call the SDK from web pages: nothing it imports may need a Node built-in (node:crypto, fs, …) or Azle.
  // tests/e2e/sdk-browser.test.ts runs the bundle in Chromium.
  it('without Node built-ins or Azle', async () => {
    const { inputs } = await bundleSdkForBrowser();
    expect(inputs.filter((path) => path.startsWith('node:') || path.includes('node_modules/azle/'))).toEqual([]);
    // The paid direct chat() path is in the bundle, so a page can stream from runners' metered endpoints.
    expect(inputs).toContain('src/sdk/paid/payer.ts');
  });

  it('fails when a Node built-in slips in (the check above can fail)', async () => {
    const attempt = build({
      stdin: {
        contents: "import { createHash } from 'node:crypto'; export const h = createHash;",
        resolveDir: join(import.meta.dirname, '..', '..', '..')
      },
      bundle: true,
      platform: 'browser',
      write: false,
      logLevel: 'silent'
    });
    await expect(attempt).rejects.toThrow(/node:crypto/);
  });
});
