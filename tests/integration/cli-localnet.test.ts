import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { SERVER_INFO_FILE } from '../../src/localnet/persistence/server-info.ts';
import { startLocalnetProcess } from '../support/localnet-process.ts';

const deai = join(import.meta.dirname, '..', '..', 'bin', 'deai.mjs');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `deai <args>` and resolves with its exit code and output (a non-zero exit is a result, not a failure). */
function cli(cwd: string, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [deai, ...args], { cwd, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('deai localnet status | stop', () => {
  const dir = mkdtempSync(join(tmpdir(), 'deai-localnet-cli-'));
  const stateDir = join(dir, 'state');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reports a running network, stops it (state kept), and exits 3 when none runs', async () => {
    const before = await cli(dir, 'localnet', 'status', '--state-dir', stateDir);
    expect(before.code).toBe(3);
    expect(before.stdout).toMatch(/Not running: no network has .* open/);
    expect(before.stdout).toContain('deai localnet start');

    const { child, url } = await startLocalnetProcess(stateDir);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const human = await cli(dir, 'localnet', 'status', '--state-dir', stateDir);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`Running at ${url} (pid ${String(child.pid)}`);
    expect(human.stdout).toMatch(/Root key: [0-9a-f]{200,}/);
    const json = await cli(dir, 'localnet', 'status', '--state-dir', stateDir, '--json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ running: true, url, pid: child.pid, canisters: {} });

    const stop = await cli(dir, 'localnet', 'stop', '--state-dir', stateDir, '--json');
    expect(stop.code).toBe(0);
    expect(JSON.parse(stop.stdout)).toMatchObject({ stopped: true, wasRunning: true, pid: child.pid, url });
    expect(await exited).toBe(0);
    expect(existsSync(join(stateDir, SERVER_INFO_FILE))).toBe(false);
    expect(existsSync(join(stateDir, 'host-keys.json'))).toBe(true);

    const after = await cli(dir, 'localnet', 'status', '--state-dir', stateDir, '--json');
    expect(after.code).toBe(3);
    expect(JSON.parse(after.stdout)).toMatchObject({ running: false });
    const again = await cli(dir, 'localnet', 'stop', '--state-dir', stateDir);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('nothing to stop');
  });

  it('tells a crashed network (stale server.json) and an unreadable server.json apart from a running one', async () => {
    const gone = spawnSync(process.execPath, ['-e', '0']).pid;
    const cases = [
      [
        JSON.stringify({ pid: gone, url: 'http://127.0.0.1:1', port: 1, rootKey: 'ab', startedAtMs: 0 }),
        /pid \d+\) is gone without stopping cleanly/
      ],
      ['{ not json', /unreadable \(not JSON/],
      [JSON.stringify({ pid: 'x' }), /unreadable \(pid: /]
    ] as const;
    await Promise.all(
      cases.map(async ([file, reason], i) => {
        const crashed = join(dir, `crashed-${i}`);
        mkdirSync(crashed, { recursive: true });
        writeFileSync(join(crashed, SERVER_INFO_FILE), file);
        const status = await cli(dir, 'localnet', 'status', '--state-dir', crashed);
        expect(status.code).toBe(3);
        expect(status.stdout).toMatch(reason);
        const stop = await cli(dir, 'localnet', 'stop', '--state-dir', crashed, '--json');
        expect(stop.code).toBe(0);
        expect(JSON.parse(stop.stdout)).toMatchObject({ stopped: false, wasRunning: false });
      })
    );
  });

  it('refuses a bad --timeout with a usage error', async () => {
    const bad = await cli(dir, 'localnet', 'stop', '--state-dir', stateDir, '--timeout', 'soon');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('must be a number of seconds');
  });
});
