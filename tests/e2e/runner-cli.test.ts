import { execFile, spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';

import { Localnet } from '../../src/localnet/localnet.ts';
import { llamaFixture, type LlamaFixture } from '../support/llama.ts';
import { findRequest, okOf } from '../support/registry.ts';
import { taskNetwork, type TaskNetwork } from '../support/tasks.ts';

const root = join(import.meta.dirname, '..', '..');
const MODEL_ID = 'deai/tiny-random-llama';
const exec = promisify(execFile);

describe('deai runner start (a real process, real llama-server)', () => {
  let net: Localnet;
  let t: TaskNetwork;
  let llama: LlamaFixture;
  let dir: string;
  let child: ChildProcessByStdio<null, Readable, Readable> | undefined;

  beforeAll(async () => {
    llama = await llamaFixture({ slots: 1 });
    net = await Localnet.start({ port: 0, stateDir: null });
    t = await taskNetwork(net);
    dir = mkdtempSync(join(tmpdir(), 'deai-runner-cli-'));
  }, 30 * 60_000);
  afterAll(async () => {
    child?.kill('SIGKILL');
    await llama?.stop();
    await net?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('logs JSON lines, executes a task, and drains to offline on SIGTERM with exit code 0', async () => {
    writeFileSync(
      join(dir, 'runner.yaml'),
      toYaml({
        network: { host: net.url, registry: t.registry.toText() },
        identity: 'runner.pem',
        engine: { kind: 'llama.cpp', url: llama.url, modelPath: llama.modelPath },
        manifest: {
          region: 'eu-west',
          deployments: [
            {
              model: { id: MODEL_ID },
              price: { inputPerMillion: 100, outputPerMillion: 300 },
              card: { version: '1.0.0', family: 'llama', license: 'MIT' }
            }
          ]
        },
        heartbeatSeconds: 5,
        pollMs: 100,
        metricsPort: 0,
        metered: { port: 0 }
      })
    );
    const events: Array<Record<string, unknown>> = [];
    child = spawn(process.execPath, [join(root, 'bin', 'deai.mjs'), 'runner', 'start', '--config', 'runner.yaml', '--json'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe']
    });
    let buffered = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) if (line.trim() !== '') events.push(JSON.parse(line) as Record<string, unknown>);
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)));
    const waitEvent = async (name: string): Promise<Record<string, unknown>> => {
      for (let i = 0; i < 600; i++) {
        const found = events.find((e) => e.event === name);
        if (found !== undefined) return found;
        await net.tick();
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`no "${name}" event; stderr: ${stderr}; events: ${JSON.stringify(events)}`);
    };
    const ready = await waitEvent('ready');
    expect(ready).toMatchObject({ model: 'tiny-random-llama', registry: t.registry.toText() });
    expect(String(ready.metrics)).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);

    const requester = await t.requester(10_000_000n, 5_000_000n);
    const asRequester = await t.tasks(requester);
    const task = okOf(
      await asRequester.submit_task(
        t.submitArgs('cli-1', {
          request: findRequest({ model: [MODEL_ID] }),
          limits: { max_output_tokens: 64, temperature: [0], seed: [1n] }
        })
      )
    );
    await waitEvent('task-completed');
    expect((await asRequester.get_task(task.id))[0]?.state).toBe('review');
    const metrics = await (await fetch(String(ready.metrics))).text();
    expect(metrics).toMatch(/deai_runner_tasks_completed_total 1/);

    // `deai runner status` sees both sides: the registry's record and the process on this machine.
    const metricsPort = new URL(String(ready.metrics)).port;
    const status = await exec(
      process.execPath,
      [join(root, 'bin', 'deai.mjs'), 'runner', 'status', '--config', 'runner.yaml', '--metrics-port', metricsPort, '--json'],
      { cwd: dir }
    );
    expect(JSON.parse(status.stdout)).toMatchObject({
      healthy: true,
      onChain: { live: true, deployments: [{ modelId: MODEL_ID }] },
      local: { metricsUrl: String(ready.metrics), claimed: 1, completed: 1, failed: 0, inFlight: 0 },
      pendingTasks: []
    });

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(events.map((e) => e.event)).toEqual(expect.arrayContaining(['signal', 'draining', 'offline']));
    child = undefined;
  }, 180_000);
});
