/**
 * Builds every canister of dfx.json (and the test fixtures) with azle 0.33, then adds the
 * `icp:public candid:service` metadata section so dfx, icp and the localnet can read the interface.
 *
 *   tsx scripts/build-canisters.ts [--if-needed] [name ...]
 *
 * --if-needed skips a canister whose sources, dependencies and azle version are unchanged since its last build.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

import { z } from 'zod';

import { addCustomSection } from '../src/localnet/wasm/custom-section.ts';

const root = resolve(import.meta.dirname, '..');
const dfxSchema = z.object({
  canisters: z.record(
    z.string(),
    z.object({ main: z.string().optional(), candid: z.string().optional(), wasm: z.string().optional() }).loose()
  )
});

interface Target {
  name: string;
  projectDir: string;
  main: string;
  candid: string;
  wasm: string;
}

function targetsOf(projectDir: string): Target[] {
  const path = join(projectDir, 'dfx.json');
  if (!existsSync(path)) return [];
  const dfx = dfxSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
  return Object.entries(dfx.canisters).flatMap(([name, config]) =>
    config.main === undefined || config.candid === undefined
      ? []
      : [{ name, projectDir, main: config.main, candid: config.candid, wasm: config.wasm ?? join('.azle', name, `${name}.wasm`) }]
  );
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  if (statSync(dir).isFile()) return [dir];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) return [];
    const full = join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(full) : entry.name.endsWith('.did') ? [] : [full];
  });
}

/** Everything a canister bundle can depend on: its own folder, the shared core, the lockfile. */
function inputHash(target: Target): string {
  const hash = createHash('sha256');
  const files = [
    ...filesUnder(dirname(join(target.projectDir, target.main))),
    ...filesUnder(join(root, 'src', 'core')),
    join(root, 'package-lock.json'),
    join(root, 'scripts', 'build-canisters.ts')
  ].sort();
  for (const file of files) {
    if (!existsSync(file)) continue;
    hash.update(relative(root, file)).update(readFileSync(file));
  }
  return hash.digest('hex');
}

function build(target: Target, ifNeeded: boolean): void {
  const wasmPath = join(target.projectDir, target.wasm);
  const stampPath = `${wasmPath}.inputs`;
  const digest = inputHash(target);
  const label = relative(root, join(target.projectDir, target.main));
  if (ifNeeded && existsSync(wasmPath) && existsSync(stampPath) && readFileSync(stampPath, 'utf8') === digest) {
    console.log(`  ${target.name}: up to date (${label})`);
    return;
  }
  const started = performance.now();
  process.stdout.write(`  ${target.name}: building ${label} with azle … `);
  const result = spawnSync('npx', ['azle', 'build', target.name], {
    cwd: target.projectDir,
    env: { ...process.env, CANISTER_CANDID_PATH: target.candid, AZLE_DFX_ROOT: target.projectDir },
    encoding: 'utf8'
  });
  if (result.status !== 0) {
    console.log('failed');
    console.error(result.stdout, result.stderr);
    throw new Error(`azle build of ${target.name} failed with exit code ${String(result.status)}`);
  }
  const candid = readFileSync(join(target.projectDir, target.candid));
  const wasm = readFileSync(wasmPath);
  writeFileSync(wasmPath, addCustomSection(wasm, 'icp:public candid:service', candid));
  writeFileSync(stampPath, digest);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`done in ${seconds} s (${(statSync(wasmPath).size / 1024 / 1024).toFixed(2)} MiB)`);
}

const args = process.argv.slice(2);
const ifNeeded = args.includes('--if-needed');
const names = args.filter((a) => !a.startsWith('--'));
const targets = [...targetsOf(root), ...targetsOf(join(root, 'tests', 'fixtures'))].filter(
  (t) => names.length === 0 || names.includes(t.name)
);
if (names.length > 0 && targets.length === 0) {
  console.error(`No canister named ${names.join(', ')} in dfx.json or tests/fixtures/dfx.json`);
  process.exit(2);
}
console.log(`Building ${targets.length} canister(s)${ifNeeded ? ' (only what changed)' : ''}:`);
try {
  for (const target of targets) build(target, ifNeeded);
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
}
