/**
 * Builds every canister of dfx.json, canisters/explorer/dfx.json and tests/fixtures/dfx.json with azle (see src/project/build.ts).
 *
 *   tsx scripts/build-canisters.ts [--if-needed] [name ...]
 */
import { join, resolve } from 'node:path';

import { buildCanisters } from '../src/project/build.ts';
import { readDfxCanisters } from '../src/project/dfx-config.ts';

const repoRoot = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const ifNeeded = args.includes('--if-needed');
const names = args.filter((a) => !a.startsWith('--'));
// The explorer's asset canister is its own project: `deai deploy` deploys dfx.json's registry and ledger only.
const projects = [repoRoot, join(repoRoot, 'canisters', 'explorer'), join(repoRoot, 'tests', 'fixtures')];

try {
  let matched = 0;
  for (const projectDir of projects) {
    const available = readDfxCanisters(projectDir).map((c) => c.name);
    const wanted = names.length === 0 ? available : names.filter((n) => available.includes(n));
    if (wanted.length === 0) continue;
    matched += wanted.length;
    buildCanisters({ projectDir, repoRoot, names: wanted, ifNeeded, onProgress: (m) => console.log(`  ${m}`) });
  }
  if (names.length > 0 && matched < names.length) throw new Error(`Unknown canister name in: ${names.join(', ')}`);
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
}
