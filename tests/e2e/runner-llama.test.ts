import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Principal } from '@dfinity/principal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Localnet } from '../../src/localnet/localnet.ts';
import { RunnerConfigSchema } from '../../src/runner/config.ts';
import { startRunner, type StartedRunner } from '../../src/runner/start.ts';
import { account } from '../support/ledger.ts';
import { llamaFixture, type LlamaFixture } from '../support/llama.ts';
import { findRequest, okOf } from '../support/registry.ts';
import { taskNetwork, type TaskNetwork } from '../support/tasks.ts';

const MODEL_ID = 'deai/tiny-random-llama';

async function until<T>(what: string, net: Localnet, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await net.tick();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('end to end: a dApp task executed by a runner on a real llama-server', () => {
  let net: Localnet;
  let t: TaskNetwork;
  let llama: LlamaFixture;
  let runner: StartedRunner | undefined;
  let dir: string;

  beforeAll(async () => {
    // The first run on a machine builds llama-server from the source shipped in node-llama-cpp (minutes).
    llama = await llamaFixture({ slots: 2 });
    net = await Localnet.start({ port: 0, stateDir: null });
    t = await taskNetwork(net);
    dir = mkdtempSync(join(tmpdir(), 'deai-e2e-runner-'));
  }, 20 * 60_000);
  afterAll(async () => {
    await runner?.stop();
    await llama?.stop();
    await net?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('registers measured facts, runs real inference, gets paid exactly the quote, and drains on stop', async () => {
    const events: string[] = [];
    const hashed: unknown[] = [];
    // The configured modelPath names other bytes than llama-server serves: the runner must hash the served file.
    const decoy = join(dir, 'decoy.gguf');
    writeFileSync(decoy, 'not the weights llama-server loaded');
    const config = RunnerConfigSchema.parse({
      network: { host: net.url, registry: t.registry.toText() },
      identity: join(dir, 'runner.pem'),
      engine: { kind: 'llama.cpp', url: llama.url, modelPath: decoy },
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
      metered: { port: 0, receiptsFile: join(dir, 'receipts.json') },
      stateFile: join(dir, 'state.json')
    });
    runner = await startRunner(config, {
      projectDir: dir,
      log: (event, fields) => {
        events.push(event);
        if (event === 'hashing-model') hashed.push(fields);
      }
    });
    const manifest = JSON.parse(runner.manifestJson) as {
      endpoint?: string;
      deployments: Array<{ model: { id: string; digest: string }; engine: string; servedContext: number }>;
    };
    // The manifest advertises the metered endpoint, never the engine's own port.
    expect(runner.meteredUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(manifest.endpoint).toBe(runner.meteredUrl);
    expect(manifest.endpoint).not.toBe(llama.url);
    const models = (await (await fetch(`${runner.meteredUrl}/v1/models`)).json()) as { data: Array<{ id: string }> };
    expect(models.data.map((m) => m.id)).toEqual([MODEL_ID]);
    expect(manifest.deployments[0]).toMatchObject({ engine: 'llama.cpp', model: { id: MODEL_ID } });
    expect(manifest.deployments[0]?.model.digest).toBe(
      `sha256:${createHash('sha256').update(readFileSync(llama.modelPath)).digest('hex')}`
    );
    expect(hashed).toEqual([{ path: llama.modelPath, source: 'engine' }]);
    expect(events).toContain('model-path-differs');

    const requester = await t.requester(10_000_000n, 5_000_000n);
    const asRequester = await t.tasks(requester);
    const candidates = okOf(await asRequester.find_runners(findRequest({ model: [MODEL_ID] })));
    expect(candidates.map((c) => c.runner.toText())).toEqual([runner.principal]);
    const task = okOf(
      await asRequester.submit_task(
        t.submitArgs('e2e-1', {
          request: findRequest({ model: [MODEL_ID] }),
          input: { inline: ['Write one sentence about the sea.'], digest: [], reference: [] },
          limits: { max_output_tokens: 32, temperature: [0], seed: [7n] }
        })
      )
    );
    const reviewed = await until(
      'the runner to answer',
      net,
      async () => (await asRequester.get_task(task.id))[0],
      (v) => v?.state === 'review'
    );
    const result = reviewed?.results[0];
    expect(result?.runner.toText()).toBe(runner.principal);
    expect(result?.output_tokens).toBeGreaterThan(0n);
    expect((result?.output[0] ?? '').length).toBeGreaterThan(0);

    okOf(await asRequester.accept_task(task.id));
    okOf(await (await t.tasks(t.admin)).process_tasks());
    const balance = await (await t.token(t.admin)).icrc1_balance_of(account(Principal.fromText(runner.principal)));
    // Paid the engine's real token counts × the runner's posted prices (the metered cost on its result).
    expect(result?.cost_e8s[0]).toBeDefined();
    expect(balance).toBe(result?.cost_e8s[0]);
    expect(result?.input_tokens).toBeGreaterThan(0n);

    // Stop while a task is running: it finishes, is reported, and the runner leaves discovery.
    const second = okOf(
      await asRequester.submit_task(
        t.submitArgs('e2e-2', {
          request: findRequest({ model: [MODEL_ID] }),
          limits: { max_output_tokens: 256, temperature: [0], seed: [7n] }
        })
      )
    );
    await until(
      'the runner to lease the second task',
      net,
      async () => (await asRequester.get_task(second.id))[0],
      (v) => (v?.leases.length ?? 0) > 0 || v?.state === 'review'
    );
    await runner.stop();
    runner = undefined;
    const drained = (await asRequester.get_task(second.id))[0];
    expect(drained?.state).toBe('review');
    expect(events).toContain('draining');
    expect(events).toContain('offline');
    expect(okOf(await asRequester.find_runners(findRequest({ model: [MODEL_ID] })))).toEqual([]);
  }, 180_000);
});
