import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');

/** Runs `deai localnet start` as its own process and resolves with its URL once it serves. */
export function startLocalnetProcess(stateDir: string, nodeArgs: string[] = []): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [...nodeArgs, join(root, 'bin', 'deai.mjs'), 'localnet', 'start', '--port', '0', '--state-dir', stateDir, '--json'],
    {
      stdio: ['ignore', 'pipe', 'inherit']
    }
  );
  return new Promise((resolve, reject) => {
    let text = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const match = /"url": "([^"]+)"/.exec(text);
      if (match?.[1] !== undefined) resolve({ child, url: match[1] });
    });
    child.once('exit', (code) => reject(new Error(`localnet exited early (${String(code)}): ${text}`)));
  });
}

/** Sends `signal` and waits for the process to end (registering the wait first, so a fast exit is not missed). */
export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
}
