import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

import { idlDifference, listDifference } from '../interface/did/equal.js';
import { parseDid } from '../interface/did/parse.js';
import { addCustomSection } from '../localnet/wasm/custom-section.js';
import { ProjectConfigError, readDfxCanisters, type CanisterConfig } from './dfx-config.js';

export interface BuildOptions {
  /** Directory holding dfx.json. */
  projectDir: string;
  /** Root of the repository (for src/core and the lockfile, which every bundle depends on). */
  repoRoot: string;
  /** Only these canisters (default: all). */
  names?: string[];
  /** Skip canisters whose inputs are unchanged since their last build. */
  ifNeeded?: boolean;
  onProgress?: (message: string) => void;
}

export interface BuildReport {
  name: string;
  wasm: string;
  built: boolean;
  seconds: number;
  bytes: number;
}

function filesUnder(path: string): string[] {
  if (!existsSync(path)) return [];
  if (statSync(path).isFile()) return [path];
  return readdirSync(path, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) return [];
    const full = join(path, entry.name);
    return entry.isDirectory() ? filesUnder(full) : entry.name.endsWith('.did') ? [] : [full];
  });
}

/**
 * Hash of everything a canister bundle can depend on: its folder, canisters/, src/core, src/interface (the Candid
 * contract), its committed .did, the lockfile, this builder.
 */
function inputHash(canister: CanisterConfig, repoRoot: string): string {
  const hash = createHash('sha256');
  const files = [
    ...filesUnder(dirname(canister.main)),
    ...filesUnder(join(repoRoot, 'canisters')),
    ...filesUnder(join(repoRoot, 'src', 'core')),
    ...filesUnder(join(repoRoot, 'src', 'interface')),
    canister.candid,
    join(repoRoot, 'package-lock.json'),
    join(repoRoot, 'src', 'project', 'build.ts')
  ].sort();
  for (const file of files) {
    if (existsSync(file)) hash.update(relative(repoRoot, file)).update(readFileSync(file));
  }
  return hash.digest('hex');
}

/** Where azle writes the .did it generates from a canister's decorators (inline types, beside the Wasm). */
export const generatedCandidPath = (canister: CanisterConfig): string => join(dirname(canister.wasm), `${canister.name}.generated.did`);

/**
 * Checks that the service azle generated from the decorators is the committed interface, structurally (names
 * aside): a decorator that drifted from the contract fails the build, naming the method.
 */
export function checkCandid(name: string, committedPath: string, committed: string, generated: string): void {
  const declared = parseDid(committed);
  const built = parseDid(generated);
  const difference =
    listDifference(declared.init, built.init, 'init arguments') ??
    idlDifference(declared.service, built.service)?.replace('not in the interface', 'declared by the decorators but not in the interface');
  if (difference !== undefined)
    throw new ProjectConfigError(
      `${name}: the canister's decorators do not match ${committedPath}: ${difference}. ` +
        'Change the method in the interface (then npm run generate:did) or the decorator, so that they agree.'
    );
}

/**
 * Builds canisters with azle 0.33 (which writes the Wasm and a .did generated from the decorators under .azle/),
 * checks that generated service against the committed .did of dfx.json's `candid` (or writes it there when there is
 * none yet), and attaches the committed .did as `icp:public candid:service` metadata, which dfx, icp and agent-js
 * read through read_state.
 */
export function buildCanisters(options: BuildOptions): BuildReport[] {
  const progress = options.onProgress ?? (() => undefined);
  const canisters = readDfxCanisters(options.projectDir).filter((c) => options.names === undefined || options.names.includes(c.name));
  const missing = (options.names ?? []).filter((n) => !canisters.some((c) => c.name === n));
  if (missing.length > 0)
    throw new ProjectConfigError(`No canister named ${missing.join(', ')} in ${join(options.projectDir, 'dfx.json')}`);
  return canisters.map((canister) => {
    const stampPath = `${canister.wasm}.inputs`;
    const digest = inputHash(canister, options.repoRoot);
    if (options.ifNeeded === true && existsSync(canister.wasm) && existsSync(stampPath) && readFileSync(stampPath, 'utf8') === digest) {
      progress(`${canister.name}: up to date`);
      return { name: canister.name, wasm: canister.wasm, built: false, seconds: 0, bytes: statSync(canister.wasm).size };
    }
    progress(`${canister.name}: building ${relative(options.repoRoot, canister.main)} with azle`);
    const started = performance.now();
    const result = spawnSync('npx', ['azle', 'build', canister.name], {
      cwd: options.projectDir,
      env: {
        ...process.env,
        CANISTER_CANDID_PATH: relative(options.projectDir, generatedCandidPath(canister)),
        AZLE_DFX_ROOT: options.projectDir
      },
      encoding: 'utf8'
    });
    if (result.status !== 0) {
      throw new ProjectConfigError(
        `azle build of ${canister.name} failed (exit ${String(result.status)}):\n${result.stdout}${result.stderr}`
      );
    }
    const generated = readFileSync(generatedCandidPath(canister), 'utf8');
    if (existsSync(canister.candid)) {
      checkCandid(canister.name, relative(options.projectDir, canister.candid), readFileSync(canister.candid, 'utf8'), generated);
    } else {
      writeFileSync(canister.candid, generated);
    }
    const wasm = readFileSync(canister.wasm);
    writeFileSync(canister.wasm, addCustomSection(wasm, 'icp:public candid:service', readFileSync(canister.candid)));
    writeFileSync(stampPath, digest);
    const seconds = (performance.now() - started) / 1000;
    const bytes = statSync(canister.wasm).size;
    progress(`${canister.name}: built in ${seconds.toFixed(1)} s (${(bytes / 1024 / 1024).toFixed(2)} MiB)`);
    return { name: canister.name, wasm: canister.wasm, built: true, seconds, bytes };
  });
}
