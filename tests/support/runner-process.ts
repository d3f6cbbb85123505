import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

const root = join(import.meta.dirname, '..', '..');
const deai = join(root, 'bin', 'deai.mjs');

export interface RunnerProcess {
  child: ChildProcessByStdio<null, Readable, Readable>;
  /** The metered endpoint the runner advertises. */
  meteredUrl: string;
  /** What it logged (JSON lines) so far. */
  log(): string;
  /** SIGTERM (the runner drains), then the exit code. */
  stop(): Promise<number | null>;
}

/**
 * `deai runner start --json` as its own process (as in production), with `config` written to `<cwd>/runner.yaml`
 * (JSON is YAML) and `nodeArgs` (e.g. --cpu-prof) for node, resolved once it logs `ready` (registered, its metered endpoint serving the manifest's models).
 */
export async function spawnRunner(
  cwd: string,
  config: unknown,
  options: { nodeArgs?: string[]; timeoutMs?: number } = {}
): Promise<RunnerProcess> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const configFile = join(cwd, 'runner.yaml');
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), deai, 'runner', 'start', '--config', configFile, '--json'], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe']
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let output = '';
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const meteredUrl = await new Promise<string>((resolve, reject) => {
    let url: string | undefined;
    let pending = '';
    const timer = setTimeout(
      () => reject(new Error(`deai runner start: not ready within ${timeoutMs} ms:\n${output.slice(-2_000)}`)),
      timeoutMs
    );
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        let event: { event?: unknown; url?: unknown };
        try {
          event = JSON.parse(line) as { event?: unknown; url?: unknown };
        } catch {
          continue;
        }
        if (event.event === 'metered-endpoint' && typeof event.url === 'string') url = event.url;
        if (event.event === 'ready') {
          clearTimeout(timer);
          if (url === undefined) reject(new Error(`deai runner start: ready without a metered endpoint:\n${output.slice(-2_000)}`));
          else resolve(url);
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`deai runner start exited ${String(code)}:\n${output.slice(-2_000)}`));
    });
  });
  return {
    child,
    meteredUrl,
    log: () => output,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    }
  };
}
