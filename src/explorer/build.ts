import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';

/** The explorer's sources (a static page) and where `npm run build:explorer` puts the bundle. */
export const EXPLORER_SOURCE_DIR = resolve(import.meta.dirname, 'app');
export const EXPLORER_DIST_DIR = resolve(import.meta.dirname, '..', '..', 'dist', 'explorer');

export interface BundleFile {
  path: string;
  bytes: number;
  gzipBytes: number;
}

/** Bundles the page with Vite (no network access needed: everything comes from node_modules). */
export async function buildExplorer(outDir = EXPLORER_DIST_DIR): Promise<BundleFile[]> {
  // Vite is a devDependency: loaded only when a bundle has to be built.
  const { build } = await import('vite');
  await build({
    configFile: false,
    root: EXPLORER_SOURCE_DIR,
    base: './',
    logLevel: 'warn',
    build: { outDir, emptyOutDir: true, target: 'es2022', reportCompressedSize: false, chunkSizeWarningLimit: 1024 }
  });
  writeFileSync(join(outDir, SOURCE_STAMP), sourceHash());
  return bundleFiles(outDir);
}

/** Written next to a bundle: the hash of the sources it was built from, so a stale bundle is rebuilt. */
const SOURCE_STAMP = '.source-hash';

/** sha256 over the page's sources (paths and contents) and the lockfile (Vite and agent versions). */
export function sourceHash(): string {
  const hash = createHash('sha256');
  const files = [
    ...listFiles(EXPLORER_SOURCE_DIR).map((f) => join(EXPLORER_SOURCE_DIR, f)),
    resolve(import.meta.dirname, '..', '..', 'package-lock.json')
  ];
  for (const file of files)
    hash
      .update(`${relative(EXPLORER_SOURCE_DIR, file)}\0`)
      .update(readFileSync(file))
      .update('\0');
  return hash.digest('hex');
}

/** Whether `dir` holds a bundle built from the current sources. */
export function isBuilt(dir = EXPLORER_DIST_DIR): boolean {
  const stamp = join(dir, SOURCE_STAMP);
  return existsSync(join(dir, 'index.html')) && existsSync(stamp) && readFileSync(stamp, 'utf8') === sourceHash();
}

/** Builds the bundle unless `dir` already holds one built from the current sources. */
export async function ensureExplorerBuilt(dir = EXPLORER_DIST_DIR): Promise<void> {
  if (!isBuilt(dir)) await buildExplorer(dir);
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (at: string): void => {
    for (const name of readdirSync(at).sort()) {
      const path = join(at, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.push(relative(dir, path));
    }
  };
  walk(dir);
  return out;
}

/** Every file of a built bundle with its raw and gzip size. */
export function bundleFiles(dir: string): BundleFile[] {
  return listFiles(dir)
    .filter((path) => path !== SOURCE_STAMP)
    .map((path) => {
      const bytes = readFileSync(join(dir, path));
      return { path, bytes: bytes.length, gzipBytes: gzipSync(bytes, { level: 9 }).length };
    })
    .sort((a, b) => a.path.localeCompare(b.path));
}
