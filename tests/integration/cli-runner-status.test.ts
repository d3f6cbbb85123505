import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Ed25519KeyIdentity } from '@dfinity/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';

import { ed25519Pem } from '../../src/ic/identity.ts';
import { RunnerMetrics } from '../../src/runner/metrics.ts';
import { Localnet } from '../../src/localnet/localnet.ts';
import { taskNetwork, type TaskNetwork } from '../support/tasks.ts';

const deai = join(import.meta.dirname, '..', '..', 'bin', 'deai.mjs');

function cli(cwd: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [deai, ...args], { cwd, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

describe('deai runner status (on-chain view of a runner, without its process)', () => {
  let net: Localnet;
  let t: TaskNetwork;
  let dir: string;

  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
    t = await taskNetwork(net);
    dir = mkdtempSync(join(tmpdir(), 'deai-runner-status-'));
  });
  afterAll(async () => {
    await net.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A runner.yaml in its own folder, with `identity` as its PEM (none when undefined). */
  function project(name: string, identity: Ed25519KeyIdentity | undefined, extra: Record<string, unknown> = {}): string {
    const cwd = mkdtempSync(join(dir, `${name}-`));
    if (identity !== undefined) writeFileSync(join(cwd, 'runner.pem'), ed25519Pem(identity));
    writeFileSync(
      join(cwd, 'runner.yaml'),
      toYaml({
        network: { host: net.url, registry: t.registry.toText() },
        identity: 'runner.pem',
        engine: { kind: 'llama.cpp', url: 'http://127.0.0.1:9' },
        manifest: { region: 'eu-west', deployments: [] },
        metricsPort: 0,
        ...extra
      })
    );
    return cwd;
  }

  it('a registered, heartbeating runner is live (exit 0), in human and JSON form', async () => {
    const runner = await t.runner(2);
    const cwd = project('live', runner);
    const [human, json] = await Promise.all([cli(cwd, 'runner', 'status'), cli(cwd, 'runner', 'status', '--json')]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`Runner ${runner.getPrincipal().toText()}`);
    expect(human.stdout).toMatch(/live, state ready, last heartbeat [\d.]+ s ago/);
    expect(human.stdout).toContain(`serves ${String(t.card.id)} on llama.cpp`);
    expect(human.stdout).toContain('process: no runner answers on its metrics port here');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      principal: runner.getPrincipal().toText(),
      healthy: true,
      onChain: { live: true, heartbeat: { state: 'ready', busySlots: 0 }, deployments: [{ modelId: String(t.card.id), slots: 2 }] },
      reputation: { completed: 0, failed: 0 },
      pendingTasks: []
    });
    const withLeases = project('leases', runner, { stateFile: 'leases.json' });
    writeFileSync(join(withLeases, 'leases.json'), JSON.stringify({ tasks: ['task-7'] }));
    const leases = await cli(withLeases, 'runner', 'status');
    expect(leases.stdout).toContain('unreported leased tasks (resumed on restart): task-7');
  });

  it("reads the local process's counters from its /metrics, refused completions included", async () => {
    const runner = await t.runner(1);
    const metrics = new RunnerMetrics();
    metrics.claimed.inc(5);
    metrics.completed.inc(2);
    // Three results the registry refused (each also reported with fail_task, so counted as failed).
    metrics.completionsRefused.inc({ error: 'NotLeased' }, 2);
    metrics.completionsRefused.inc({ error: 'InvalidArgument' });
    metrics.failed.inc(3);
    const served = await metrics.serve(0);
    try {
      const port = Number(new URL(served.url).port);
      const cwd = project('local', runner, { metricsPort: port });
      const [human, json] = await Promise.all([cli(cwd, 'runner', 'status'), cli(cwd, 'runner', 'status', '--json')]);
      expect(human.stdout).toContain(
        `process: running (${served.url}): 5 claimed, 2 completed, 3 failed (3 refused completions), 0 in flight`
      );
      expect(JSON.parse(json.stdout)).toMatchObject({
        local: { metricsUrl: served.url, claimed: 5, completed: 2, failed: 3, completionsRefused: 3, inFlight: 0 }
      });
    } finally {
      await served.close();
    }
  });

  it('an unregistered identity exits 3 and says how to start; bad setups exit 1 with what to do', async () => {
    const stranger = await cli(project('stranger', Ed25519KeyIdentity.generate()), 'runner', 'status');
    expect(stranger.code).toBe(3);
    expect(stranger.stdout).toContain('not registered: start it with `deai runner start --config runner.yaml`');

    const noKey = await cli(project('nokey', undefined), 'runner', 'status');
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toMatch(/runner\.pem does not exist: the runner creates it on its first `deai runner start`/);
    expect(noKey.stderr).toContain('Next: pass --identity');

    const badConfig = await cli(project('bad', undefined, { heartbeatSeconds: 'often' }), 'runner', 'status', '--json');
    expect(badConfig.code).toBe(1);
    expect(JSON.parse(badConfig.stdout)).toMatchObject({
      error: { code: 'ManifestInvalid', message: expect.stringContaining('heartbeatSeconds') }
    });

    const wrongRegistry = await cli(project('wrong', Ed25519KeyIdentity.generate()), 'runner', 'status', '--registry', t.ledger.toText());
    expect(wrongRegistry.code).toBe(1);
    expect(wrongRegistry.stderr).toContain('Next:');
  });
});
