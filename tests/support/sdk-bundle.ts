import { join } from 'node:path';

import { build } from 'esbuild';

const root = join(import.meta.dirname, '..', '..');

/** src/sdk bundled as a dApp's web page would (esbuild, browser platform, ES module): its code and its inputs. */
export async function bundleSdkForBrowser(): Promise<{ code: string; inputs: string[] }> {
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
  const code = result.outputFiles[0]?.text;
  if (code === undefined) throw new Error('esbuild wrote no bundle');
  return { code, inputs: Object.keys(result.metafile.inputs) };
}
