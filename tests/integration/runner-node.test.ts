import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Ed25519KeyIdentity } from '@dfinity/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { registryClient } from '../../src/ic/registry.ts';
import { Localnet } from '../../src/localnet/localnet.ts';
import { outputDigest } from '../../src/inference/chat-stream.ts';
import { RunnerNode } from '../../src/runner/node.ts';
import type { ProbeResult } from '../../src/runner/probes/types.ts';
import { startFakeEngine, type FakeEngine } from '../support/fake-engine.ts';
import { deployment, runnerManifest } from '../support/manifests.ts';
import { agentFor } from '../support/probe.ts';
import { okOf } from '../support/registry.ts';
import { taskNetwork, type TaskNetwork } from '../support/tasks.ts';

const ready: ProbeResult = {
  status: 'ready',
  engine: 'llama.cpp',
  engineVersion: 'b1-test',
  models: [{ id: 'fake', servedContext: 8192 }],
  slots: { total: 2, busy: 0 },
  load: { requestsRunning: 0, requestsWaiting: 0 }
};

async function waitFor<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, net: Localnet): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const value = await read();
    if (done(value)) return value;
    await net.tick();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('runner node against the localnet (fake engine)', () => {
  let net: Localnet;
  let t: TaskNetwork;
  let engine: FakeEngine;
  let dir: string;

  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
    t = await taskNetwork(net);
    engine = await startFakeEngine();
    dir = mkdtempSync(join(tmpdir(), 'deai-runner-'));
  });
  afterAll(async () => {
    await engine.close();
    await net.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function node(
    identity: Ed25519KeyIdentity,
    agent: Awaited<ReturnType<typeof agentFor>>,
    probe: () => Promise<ProbeResult> = async () => ready
  ): RunnerNode {
    return new RunnerNode({
      registry: registryClient(agent, t.registry),
      principal: identity.getPrincipal(),
      engineUrl: engine.url,
      engineModel: 'fake',
      manifestJson: JSON.stringify(runnerManifest(identity.getPrincipal().toText(), [deployment(t.card, { slots: 2 })])),
      cards: [],
      slots: 2,
      probe,
      stateFile: join(dir, `${identity.getPrincipal().toText()}.json`),
      pollMs: 100,
      heartbeatMs: 2_000
    });
  }

  it('registers, heartbeats, claims, executes on the engine, reports, survives an engine failure, and drains', async () => {
    const identity = Ed25519KeyIdentity.generate();
    const runner = node(identity, await agentFor(net.url, identity));
    await runner.start();
    const registry = await t.tasks(identity);
    expect((await registry.get_runner(identity.getPrincipal()))[0]?.live).toBe(true);

    const requester = await t.requester(20_000_000n, 10_000_000n);
    const asRequester = await t.tasks(requester);
    engine.failNext('http500'); // the first attempt hits a restarting engine; the runner retries within its lease
    const task = okOf(
      await asRequester.submit_task(t.submitArgs('runner-1', { input: { inline: ['one two three'], digest: [], reference: [] } }))
    );
    const done = await waitFor(
      'the result',
      async () => (await asRequester.get_task(task.id))[0],
      (v) => v?.state === 'review',
      net
    );
    expect(done?.results[0]?.output).toEqual(['three two one']);
    expect(done?.results[0]?.output_digest).toBe(outputDigest('three two one'));
    expect(done?.results[0]?.output_tokens).toBe(3n);

    engine.failNext('midstream');
    engine.failNext('midstream');
    engine.failNext('midstream');
    engine.failNext('midstream');
    engine.failNext('midstream');
    const second = okOf(await asRequester.submit_task(t.submitArgs('runner-2')));
    await waitFor(
      'the second result',
      async () => (await asRequester.get_task(second.id))[0],
      (v) => v?.state === 'review',
      net
    );
    // The counter moves once the registry's reply to the report is back, just after the task shows its result.
    const metrics = await waitFor(
      'the completed counter',
      () => runner.metrics.text(),
      (text) => /deai_runner_tasks_completed_total 2/.test(text),
      net
    );
    expect(metrics).toMatch(/deai_runner_tasks_claimed_total 2/);

    await runner.drain();
    expect(runner.currentState).toBe('offline');
    expect((await registry.get_runner(identity.getPrincipal()))[0]?.live).toBe(false);
  });
});

describe('runner node restart (fake engine)', () => {
  let net: Localnet;
  let t: TaskNetwork;
  let engine: FakeEngine;
  let dir: string;

  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
    t = await taskNetwork(net);
    engine = await startFakeEngine();
    dir = mkdtempSync(join(tmpdir(), 'deai-runner-restart-'));
  });
  afterAll(async () => {
    await engine.close();
    await net.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('finishes, after a restart, a lease it held but had not reported — and reports it once', async () => {
    const identity = Ed25519KeyIdentity.generate();
    const agent = await agentFor(net.url, identity);
    const stateFile = join(dir, 'state.json');
    const manifestJson = JSON.stringify(runnerManifest(identity.getPrincipal().toText(), [deployment(t.card, { slots: 2 })]));
    const options = {
      registry: registryClient(agent, t.registry),
      principal: identity.getPrincipal(),
      engineUrl: engine.url,
      engineModel: 'fake',
      manifestJson,
      cards: [],
      slots: 2,
      probe: async () => ready,
      stateFile,
      pollMs: 100,
      heartbeatMs: 2_000
    };
    // The runner registered and leased a task, then died before reporting: only its state file remembers the lease.
    const asRunner = await t.tasks(identity);
    okOf(await asRunner.register_runner(manifestJson));
    okOf(await asRunner.heartbeat({ state: 'ready', busy_slots: 0, queue_depth: 0, tokens_per_second: 0, kv_cache_usage: 0 }));
    const requester = await t.requester(20_000_000n, 10_000_000n);
    const asRequester = await t.tasks(requester);
    const task = okOf(
      await asRequester.submit_task(t.submitArgs('restart-1', { input: { inline: ['left behind'], digest: [], reference: [] } }))
    );
    okOf(await asRunner.claim_task([task.id]));
    writeFileSync(stateFile, JSON.stringify({ tasks: [task.id] }));

    const restarted = new RunnerNode(options);
    const requestsBefore = engine.requests;
    await restarted.start();
    const done = await waitFor(
      'the recovered result',
      async () => (await asRequester.get_task(task.id))[0],
      (v) => v?.state === 'review',
      net
    );
    expect(done?.results.map((r) => [r.runner.toText(), r.output[0]])).toEqual([[identity.getPrincipal().toText(), 'behind left']]);
    expect(engine.requests - requestsBefore).toBe(1);
    await restarted.drain();
    expect(JSON.parse(readFileSync(stateFile, 'utf8'))).toEqual({ tasks: [] });
  });
});

describe('runner node across a restart of the IC network (fake engine)', () => {
  it('keeps reporting while the network is down and reports the result once it is back', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'deai-runner-net-'));
    let net = await Localnet.start({ port: 0, stateDir });
    const port = net.port;
    const t = await taskNetwork(net);
    const engine = await startFakeEngine();
    const identity = Ed25519KeyIdentity.generate();
    const runner = new RunnerNode({
      registry: registryClient(await agentFor(net.url, identity), t.registry),
      principal: identity.getPrincipal(),
      engineUrl: engine.url,
      engineModel: 'fake',
      manifestJson: JSON.stringify(runnerManifest(identity.getPrincipal().toText(), [deployment(t.card, { slots: 2 })])),
      cards: [],
      slots: 2,
      probe: async () => ready,
      stateFile: join(stateDir, 'runner-state.json'),
      pollMs: 100,
      heartbeatMs: 2_000
    });
    try {
      await runner.start();
      const requester = await t.requester(20_000_000n, 10_000_000n);
      const task = okOf(
        await (
          await t.tasks(requester)
        ).submit_task(t.submitArgs('net-restart', { input: { inline: ['while you were away'], digest: [], reference: [] } }))
      );
      engine.delayNext(2_500);
      await waitFor(
        'the lease',
        async () => (await (await t.tasks(requester)).get_task(task.id))[0],
        (v) => (v?.leases.length ?? 0) > 0,
        net
      );
      await net.stop(); // the network goes away while the engine is still generating
      await new Promise((resolve) => setTimeout(resolve, 4_000));
      net = await Localnet.start({ port, stateDir });
      const asRequester = await t.tasks(requester);
      const done = await waitFor(
        'the result after the restart',
        async () => (await asRequester.get_task(task.id))[0],
        (v) => v?.state === 'review',
        net
      );
      expect(done?.results.map((r) => r.output[0])).toEqual(['away were you while']);
      await runner.drain();
    } finally {
      await engine.close();
      await net.stop();
      rmSync(stateDir, { recursive: true, force: true });
    }
  }, 120_000);
});
