import { execFile, spawn, type ChildProcessByStdio } from 'node:child_process';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

const root = join(import.meta.dirname, '..', '..');
const deai = join(root, 'bin', 'deai.mjs');

/** Runs `deai <args>` in `cwd` and parses its --json output (rejects on a non-zero exit with what it printed). */
export function deaiJson<T>(cwd: string, args: string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [deai, ...args, '--json'], { cwd, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`deai ${args.join(' ')}: ${error.message}\n${stdout}${stderr}`));
      else resolve(JSON.parse(stdout) as T);
    });
  });
}

export interface GatewayProcess {
  child: ChildProcessByStdio<null, Readable, Readable>;
  baseURL: string;
  /** What it printed on stderr (progress lines) so far. */
  log(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** `deai gateway … --json` as a child process (with `nodeArgs`, e.g. --cpu-prof), resolved once it prints its base URL. */
export async function spawnGateway(cwd: string, args: string[], nodeArgs: string[] = []): Promise<GatewayProcess> {
  const child = spawn(process.execPath, [...nodeArgs, deai, 'gateway', ...args, '--json'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const baseURL = await new Promise<string>((resolve, reject) => {
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /"baseURL": "([^"]+)"/.exec(stdout);
      if (match?.[1] !== undefined) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`deai gateway exited ${String(code)}: ${stdout}${stderr}`)));
  });
  return {
    child,
    baseURL,
    log: () => stderr,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    }
  };
}
