/**
 * Writes each interface's .did from its IDL (src/interface/<canister>/), with named types.
 *
 *   tsx scripts/generate-did.ts [--check]
 *
 * --check writes nothing and fails if a committed .did differs from what its IDL generates.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { DID_FILES, didText } from '../src/interface/did/interfaces.ts';

const repoRoot = resolve(import.meta.dirname, '..');
const check = process.argv.includes('--check');
let stale = 0;
for (const file of DID_FILES) {
  const path = join(repoRoot, file.path);
  const text = didText(file);
  const current = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
  if (current === text) {
    console.log(`  ${file.path}: up to date`);
  } else if (check) {
    console.error(`  ${file.path}: differs from ${file.source} (run npm run generate:did)`);
    stale++;
  } else {
    writeFileSync(path, text);
    console.log(`  ${file.path}: written`);
  }
}
if (stale > 0) process.exit(1);
