/**
 * Builds the explorer page into dist/explorer and prints the bundle size.
 *
 *   tsx scripts/build-explorer.ts [--if-needed]
 */
import { buildExplorer, bundleFiles, EXPLORER_DIST_DIR, isBuilt } from '../src/explorer/build.ts';

try {
  const skip = process.argv.includes('--if-needed') && isBuilt();
  const files = skip ? bundleFiles(EXPLORER_DIST_DIR) : await buildExplorer();
  const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;
  for (const f of files) console.log(`  ${f.path.padEnd(40)} ${kib(f.bytes).padStart(10)}  gzip ${kib(f.gzipBytes).padStart(9)}`);
  const raw = files.reduce((sum, f) => sum + f.bytes, 0);
  const gzip = files.reduce((sum, f) => sum + f.gzipBytes, 0);
  console.log(`explorer ${skip ? 'already built' : 'built'} in ${EXPLORER_DIST_DIR}: ${kib(raw)} raw, ${kib(gzip)} gzip`);
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
}
