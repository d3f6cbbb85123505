import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

/** A registry built from an earlier commit: its Wasm and the .did it was built against (its own Candid contract). */
export interface OlderRegistry {
  commit: string;
  wasm: Uint8Array;
  did: string;
}

/**
 * The registry canister as `commit` built it, for upgrade tests from genuinely older state. Built once per commit
 * (about 20 s: `git archive` of the commit into a temporary folder, this checkout's node_modules, the commit's own
 * scripts/build-canisters.ts) and cached in ~/.cache/deai/older-registry/<commit>. Needs the commit in the clone's
 * history (a shallow clone must be deepened first: `git fetch --unshallow`).
 */
export function olderRegistry(commit: string): OlderRegistry {
  const cache = join(homedir(), '.cache', 'deai', 'older-registry', commit);
  const wasmPath = join(cache, 'registry.wasm');
  const didPath = join(cache, 'registry.did');
  if (!existsSync(wasmPath) || !existsSync(didPath)) build(commit, cache);
  return { commit, wasm: new Uint8Array(readFileSync(wasmPath)), did: readFileSync(didPath, 'utf8') };
}

function build(commit: string, cache: string): void {
  try {
    execFileSync('git', ['-C', REPO_ROOT, 'cat-file', '-e', `${commit}^{commit}`], { stdio: 'ignore' });
  } catch {
    throw new Error(`commit ${commit} is not in this clone's history (a shallow clone? run git fetch --unshallow)`);
  }
  const tree = mkdtempSync(join(tmpdir(), 'deai-older-registry-'));
  try {
    execFileSync('sh', ['-c', `git -C "$1" archive "$2" | tar -x -C "$3"`, 'sh', REPO_ROOT, commit, tree]);
    symlinkSync(realpathSync(join(REPO_ROOT, 'node_modules')), join(tree, 'node_modules'));
    execFileSync('npx', ['tsx', 'scripts/build-canisters.ts', 'registry'], { cwd: tree, stdio: 'pipe' });
    // Written beside, then renamed: a build cut short leaves no half-written cache.
    const staging = `${cache}.${process.pid}`;
    mkdirSync(staging, { recursive: true });
    writeFileSync(join(staging, 'registry.wasm'), readFileSync(join(tree, '.azle', 'registry', 'registry.wasm')));
    writeFileSync(join(staging, 'registry.did'), readFileSync(join(tree, 'src', 'interface', 'registry', 'registry.did')));
    rmSync(cache, { recursive: true, force: true });
    renameSync(staging, cache);
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
}
