/**
 * A real `llama-server` built from registry material only: the llama.cpp source ships inside the npm package
 * node-llama-cpp as a git bundle, so `npm pack` + `git clone` + `cmake` give the HTTP server without any
 * other network access. Everything lands in one cache directory per toolchain version, outside the clone,
 * so the ~5 minute build happens once per machine.
 *
 * Layout of `<cacheDir>`: `gitRelease.bundle`, `src/` (the clone), `build/bin/{llama-server,llama-quantize}`,
 * `build/deai-build.json` (the stamp written last: a build is complete only when it exists and matches),
 * `models/` (see tiny-model.ts) and `.lock` while a process fills the cache.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, constants, link, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, homedir, hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { StringDecoder } from 'node:string_decoder';
import { promisify } from 'node:util';
import { z } from 'zod';

import { LlamaCacheLockedError, LlamaCommandFailedError, LlamaToolMissingError, type LlamaStep } from './errors.js';

export const NODE_LLAMA_CPP_VERSION = '3.21.1';
/** Name of the cache sub-directory; bump it when the source or the meaning of the outputs changes. */
export const LLAMA_TOOLCHAIN_VERSION = `node-llama-cpp-${NODE_LLAMA_CPP_VERSION}`;

const BUILD_TARGETS = ['llama-server', 'llama-quantize'];

/**
 * Portable x86-64-v3 flags. GGML_NATIVE=ON compiles AMX kernels on hosts that advertise AMX, and those crash
 * (SIGSEGV at `ldtilecfg`) on any quantized model on our VMs; LLAMA_USE_PREBUILT_UI=ON would download the web
 * UI. See docs/inference-notes.md.
 */
export const LLAMA_CMAKE_ARGS = [
  '-DCMAKE_BUILD_TYPE=Release',
  '-DLLAMA_USE_PREBUILT_UI=OFF',
  '-DLLAMA_BUILD_UI=OFF',
  '-DLLAMA_OPENSSL=OFF',
  '-DLLAMA_BUILD_TESTS=OFF',
  '-DLLAMA_BUILD_EXAMPLES=OFF',
  '-DBUILD_SHARED_LIBS=OFF',
  '-DGGML_NATIVE=OFF',
  ...(process.arch === 'x64' ? ['-DGGML_AVX=ON', '-DGGML_AVX2=ON', '-DGGML_FMA=ON', '-DGGML_F16C=ON', '-DGGML_BMI2=ON'] : [])
];

export { LlamaCacheLockedError, LlamaCommandFailedError, LlamaToolchainError, LlamaToolMissingError, type LlamaStep } from './errors.js';

export interface LlamaCacheOptions {
  /** The directory for this toolchain version; default `${DEAI_CACHE_DIR ?? ~/.cache/deai}/llama.cpp/<version>`. */
  cacheDir?: string;
  onProgress?: (message: string) => void;
  /** Environment for the default cache dir and the child processes; default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

export interface LlamaToolchain {
  serverPath: string;
  quantizePath: string;
  /** The llama.cpp checkout (gguf-py, models/ggml-vocab-*.gguf). */
  sourceDir: string;
  /** Full llama.cpp commit hash of the checkout. */
  commit: string;
}

export function resolveLlamaCacheDir(options: { cacheDir?: string; env?: NodeJS.ProcessEnv; homeDir?: string } = {}): string {
  if (options.cacheDir !== undefined) return options.cacheDir;
  const root = options.env?.DEAI_CACHE_DIR || join(options.homeDir ?? homedir(), '.cache', 'deai');
  return join(root, 'llama.cpp', LLAMA_TOOLCHAIN_VERSION);
}

const BuildStampSchema = z.object({
  commit: z.string().regex(/^[0-9a-f]{40}$/),
  cmakeArgs: z.array(z.string()),
  targets: z.array(z.string()),
  builtAt: z.string()
});

function toolchainPaths(dir: string) {
  const buildDir = join(dir, 'build');
  return {
    bundle: join(dir, 'gitRelease.bundle'),
    sourceDir: join(dir, 'src'),
    buildDir,
    configureStamp: join(buildDir, 'deai-configure.json'),
    buildStamp: join(buildDir, 'deai-build.json'),
    serverPath: join(buildDir, 'bin', 'llama-server'),
    quantizePath: join(buildDir, 'bin', 'llama-quantize')
  };
}

/**
 * Returns the cached llama-server and llama-quantize, building them first when the cache lacks them
 * (minutes). Safe to call from concurrent processes: one builds, the others wait on the lock.
 */
export async function ensureLlamaServer(options: LlamaCacheOptions = {}): Promise<LlamaToolchain> {
  const env = options.env ?? process.env;
  const dir = resolveLlamaCacheDir({ cacheDir: options.cacheDir, env });
  const progress = options.onProgress ?? (() => undefined);
  const paths = toolchainPaths(dir);
  const cached = await tryReadBuiltToolchain(paths);
  if (cached !== null) return cached;

  await mkdir(dir, { recursive: true });
  return withCacheLock(dir, progress, async () => {
    const built = await tryReadBuiltToolchain(paths);
    if (built !== null) return built;
    const startedMs = Date.now();
    progress(`building llama.cpp in ${dir}`);
    await removeAbandonedTemps(dir);
    await Promise.all(['npm', 'tar', 'git', 'cmake', 'ninja'].map((tool) => requireTool(tool, env)));

    if (!(await exists(paths.bundle))) {
      progress(`npm pack node-llama-cpp@${NODE_LLAMA_CPP_VERSION}`);
      const temp = await mkdirTemp(dir, 'pack');
      try {
        await execTool(
          'pack',
          'npm',
          ['pack', `node-llama-cpp@${NODE_LLAMA_CPP_VERSION}`, '--pack-destination', temp, '--ignore-scripts'],
          { cwd: temp, env }
        );
        const tarball = (await readdir(temp)).find((name) => name.endsWith('.tgz'));
        if (tarball === undefined) throw new LlamaCommandFailedError('pack', 'npm pack', 0, `no .tgz written to ${temp}`);
        progress(`extracting package/llama/gitRelease.bundle from ${tarball}`);
        await execTool('extract', 'tar', ['-xzf', join(temp, tarball), '-C', temp, 'package/llama/gitRelease.bundle'], { env });
        await rename(join(temp, 'package', 'llama', 'gitRelease.bundle'), paths.bundle);
      } finally {
        await rm(temp, { recursive: true, force: true });
      }
    }

    if (!(await exists(join(paths.sourceDir, 'CMakeLists.txt')))) {
      progress('git clone gitRelease.bundle');
      const temp = join(dir, `src.${randomBytes(4).toString('hex')}.tmp`);
      try {
        await execTool('clone', 'git', ['clone', '-q', paths.bundle, temp], { env });
        await rename(temp, paths.sourceDir);
      } finally {
        await rm(temp, { recursive: true, force: true });
      }
    }
    const commit = (await execTool('clone', 'git', ['-C', paths.sourceDir, 'rev-parse', 'HEAD'], { env })).trim();

    const configureArgs = ['-S', paths.sourceDir, '-B', paths.buildDir, '-G', 'Ninja', ...LLAMA_CMAKE_ARGS];
    const configured = await readFile(paths.configureStamp, 'utf8').catch(() => null);
    if (configured !== JSON.stringify(configureArgs) || !(await exists(join(paths.buildDir, 'build.ninja')))) {
      progress(`cmake configure (${LLAMA_CMAKE_ARGS.join(' ')})`);
      await execTool('configure', 'cmake', configureArgs, { env });
      await writeFileAtomic(paths.configureStamp, JSON.stringify(configureArgs));
    }

    const jobs = availableParallelism();
    progress(`cmake --build -j ${jobs} --target ${BUILD_TARGETS.join(' ')} (about 5 minutes on 2 cores)`);
    await streamTool('build', 'cmake', ['--build', paths.buildDir, '-j', String(jobs), '--target', ...BUILD_TARGETS], {
      env,
      onLine: throttled(progress, 5000)
    });
    const stamp = { commit, cmakeArgs: LLAMA_CMAKE_ARGS, targets: BUILD_TARGETS, builtAt: new Date().toISOString() };
    await writeFileAtomic(paths.buildStamp, JSON.stringify(stamp, null, 2));
    progress(`llama.cpp ${commit.slice(0, 7)} built in ${Math.round((Date.now() - startedMs) / 1000)} s`);
    return { serverPath: paths.serverPath, quantizePath: paths.quantizePath, sourceDir: paths.sourceDir, commit };
  });
}

async function tryReadBuiltToolchain(paths: ReturnType<typeof toolchainPaths>): Promise<LlamaToolchain | null> {
  const text = await readFile(paths.buildStamp, 'utf8').catch(() => null);
  if (text === null) return null;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null; // a stamp we cannot read means "not built": the build is incremental, so redoing it is cheap
  }
  const stamp = BuildStampSchema.safeParse(json);
  if (!stamp.success) return null;
  const sameBuild =
    JSON.stringify(stamp.data.cmakeArgs) === JSON.stringify(LLAMA_CMAKE_ARGS) && BUILD_TARGETS.every((t) => stamp.data.targets.includes(t));
  if (!sameBuild || !(await isExecutable(paths.serverPath)) || !(await isExecutable(paths.quantizePath))) return null;
  return { serverPath: paths.serverPath, quantizePath: paths.quantizePath, sourceDir: paths.sourceDir, commit: stamp.data.commit };
}

// ---------------------------------------------------------------------------------------------------------
// Cache lock: `<dir>/.lock` holds the owner's pid. It is written under a temporary name and hard-linked into
// place, so a reader never sees a half-written file; a lock whose pid is dead (a killed build) is taken over.

const locksHeldHere = new Set<string>();

/** Runs `fn` while holding the cache directory's lock, waiting (polling) while another process holds it. */
export async function withCacheLock<T>(
  dir: string,
  progress: (message: string) => void,
  fn: () => Promise<T>,
  options: { timeoutMs?: number; pollMs?: number } = {}
): Promise<T> {
  const lockPath = join(dir, '.lock');
  const timeoutMs = options.timeoutMs ?? 30 * 60_000;
  const deadlineMs = Date.now() + timeoutMs;
  const temp = `${lockPath}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temp, `${process.pid}\n${hostname()}\n${new Date().toISOString()}\n`);
  let reportedWait = false;
  try {
    for (;;) {
      try {
        await link(temp, lockPath);
        locksHeldHere.add(lockPath);
        break;
      } catch (error) {
        if (errorCode(error) !== 'EEXIST') throw error;
      }
      const holder = await readLockPid(lockPath);
      const ours = holder === process.pid && locksHeldHere.has(lockPath);
      if (holder !== null && !ours && (holder === process.pid || !isProcessAlive(holder))) {
        await rm(lockPath, { force: true }); // stale: a dead pid, or an earlier process that had our pid
        continue;
      }
      if (Date.now() > deadlineMs) throw new LlamaCacheLockedError(lockPath, holder ?? -1);
      if (!reportedWait) progress(`waiting for process ${String(holder)}, which holds ${lockPath}`);
      reportedWait = true;
      await delay(options.pollMs ?? 500);
    }
  } finally {
    await rm(temp, { force: true });
  }
  try {
    return await fn();
  } finally {
    locksHeldHere.delete(lockPath);
    await rm(lockPath, { force: true });
  }
}

async function readLockPid(lockPath: string): Promise<number | null> {
  const text = await readFile(lockPath, 'utf8').catch(() => null);
  const match = text === null ? null : /^\s*(\d+)\b/.exec(text);
  return match?.[1] === undefined ? null : Number(match[1]);
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errorCode(error) !== 'ESRCH'; // EPERM: alive, owned by another user
  }
}

// ---------------------------------------------------------------------------------------------------------
// Child processes. All asynchronous: a synchronous wait would freeze an in-process localnet for minutes.

const execFileAsync = promisify(execFile);

/** Runs a short command to completion and returns its stdout. */
export async function execTool(
  step: LlamaStep,
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}
): Promise<string> {
  try {
    const { stdout } = await execFileAsync(command, args, { cwd: options.cwd, env: options.env, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    if (errorCode(error) === 'ENOENT') throw new LlamaToolMissingError(command, { cause: error });
    const exitCode = errorCode(error);
    const output = `${stringProperty(error, 'stdout')}\n${stringProperty(error, 'stderr')}`;
    throw new LlamaCommandFailedError(
      step,
      [command, ...args].join(' '),
      typeof exitCode === 'number' ? exitCode : null,
      tail(output, 40),
      { cause: error }
    );
  }
}

/** Runs a long command, handing each output line to `onLine`; keeps the last lines for the error. */
function streamTool(
  step: LlamaStep,
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; onLine: (line: string) => void }
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const recent: string[] = [];
    const onData = lineSplitter((line) => {
      recent.push(line);
      if (recent.length > 40) recent.shift();
      options.onLine(line);
    });
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('error', (error) => reject(errorCode(error) === 'ENOENT' ? new LlamaToolMissingError(command, { cause: error }) : error));
    // A killed test worker must not leave ninja running in the build directory the next process takes over.
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    child.once('close', (code) => {
      process.removeListener('exit', killOnExit);
      if (code === 0) resolve();
      else reject(new LlamaCommandFailedError(step, [command, ...args].join(' '), code, recent.join('\n')));
    });
  });
}

async function requireTool(tool: string, env: NodeJS.ProcessEnv): Promise<void> {
  await execTool('configure', tool, ['--version'], { env });
}

export function lineSplitter(onLine: (line: string) => void): (chunk: Buffer) => void {
  const decoder = new StringDecoder('utf8'); // a chunk may end inside a multi-byte character
  let pending = '';
  return (chunk) => {
    const lines = (pending + decoder.write(chunk)).split(/\r?\n/);
    pending = lines.pop() ?? '';
    for (const line of lines) if (line.trim() !== '') onLine(line);
  };
}

/** Passes at most one line per `intervalMs` on, so a build prints a heartbeat rather than 400 lines. */
function throttled(progress: (message: string) => void, intervalMs: number): (line: string) => void {
  let lastMs = 0;
  return (line) => {
    const nowMs = Date.now();
    if (nowMs - lastMs < intervalMs) return;
    lastMs = nowMs;
    progress(line);
  };
}

// ---------------------------------------------------------------------------------------------------------
// Small file helpers

export async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false
  );
}

async function isExecutable(path: string): Promise<boolean> {
  return access(path, constants.X_OK).then(
    () => true,
    () => false
  );
}

/** Temporary directories of a step that was killed midway (a clone is ~100 MB); only the lock holder runs this. */
async function removeAbandonedTemps(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    if (/^(pack|src)\.[0-9a-f]{8}\.tmp$/.test(name)) await rm(join(dir, name), { recursive: true, force: true });
  }
}

async function mkdirTemp(dir: string, label: string): Promise<string> {
  const temp = join(dir, `${label}.${randomBytes(4).toString('hex')}.tmp`);
  await mkdir(temp, { recursive: true });
  return temp;
}

export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const temp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temp, text);
  await rename(temp, path);
}

function errorCode(error: unknown): unknown {
  return error instanceof Error && 'code' in error ? error.code : undefined;
}

function stringProperty(value: unknown, key: string): string {
  if (typeof value !== 'object' || value === null || !(key in value)) return '';
  const property: unknown = Reflect.get(value, key);
  return typeof property === 'string' ? property : '';
}

function tail(text: string, lines: number): string {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .slice(-lines)
    .join('\n');
}
