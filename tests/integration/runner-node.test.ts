import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Ed25519KeyIdentity } from '@dfinity/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { MAX_OUTPUT_BYTES } from '../../src/core/tasks/limits.ts';
import { registryClient } from '../../src/ic/registry.ts';
import type { ResultArgs } from '../../src/interface/registry/index.ts';
import { Localnet } from '../../src/localnet/localnet.ts';
import { outputDigest } from '../../src/inference/chat-stream.ts';
import { RunnerNode } from '../../src/runner/node.ts';
import type { ProbeResult } from '../../src/runner/probes/types.ts';
import { startFakeEngine, type FakeEngine } from '../support/fake-engine.ts';
import { RunnerError } from '../../src/runner/errors.ts';
import { deployment, digestOf, modelCard, runnerManifest } from '../support/manifests.ts';
import { agentFor } from '../support/probe.ts';
import { okOf } from '../support/registry.ts';
import { taskNetwork, type SubmitTaskArgs, type TaskNetwork } from '../support/tasks.ts';

const ready: ProbeResult = {
  status: 'ready',
  engine: 'llama.cpp',
  engineVersion: 'b1-test',
  models: [{ id: 'fake', servedContext: 8192 }],
  slots: { total: 2, busy: 0 },
  load: { requestsRunning: 0, requestsWaiting: 0 }
};

/** Polls `read` until `done` (ticking the network's timers), for up to `withinMs` of wall time: the full suite runs
 * many networks on two cores, so a count of attempts was too short there. */
async function waitFor<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, net: Localnet, withinMs = 60_000): Promise<T> {
  const deadline = performance.now() + withinMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what} (${withinMs} ms)`);
    await net.tick();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
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

describe('runner node bounds: lease, output caps, refused results (fake engine)', () => {
  let net: Localnet;
  let t: TaskNetwork;
  let engine: FakeEngine;
  let dir: string;

  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
    t = await taskNetwork(net);
    engine = await startFakeEngine();
    dir = mkdtempSync(join(tmpdir(), 'deai-runner-bounds-'));
  });
  afterAll(async () => {
    await engine.close();
    await net.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A started runner, what it logged, and a requester; `use` runs with them and the runner is drained after. */
  async function withRunner(
    overrides: Partial<ConstructorParameters<typeof RunnerNode>[0]>,
    use: (r: {
      runner: RunnerNode;
      events: Array<{ event: string } & Record<string, unknown>>;
      stateFile: string;
      asRequester: Awaited<ReturnType<TaskNetwork['tasks']>>;
    }) => Promise<void>,
    wrap: (registry: ReturnType<typeof registryClient>) => ReturnType<typeof registryClient> = (registry) => registry
  ): Promise<void> {
    const identity = Ed25519KeyIdentity.generate();
    const events: Array<{ event: string } & Record<string, unknown>> = [];
    const stateFile = join(dir, `${identity.getPrincipal().toText()}.json`);
    const runner = new RunnerNode({
      registry: wrap(registryClient(await agentFor(net.url, identity), t.registry)),
      principal: identity.getPrincipal(),
      engineUrl: engine.url,
      engineModel: 'fake',
      manifestJson: JSON.stringify(runnerManifest(identity.getPrincipal().toText(), [deployment(t.card, { slots: 2 })])),
      cards: [],
      slots: 2,
      probe: async () => ready,
      stateFile,
      pollMs: 100,
      heartbeatMs: 2_000,
      log: (event, fields) => events.push({ event, ...fields }),
      ...overrides
    });
    await runner.start();
    try {
      await use({ runner, events, stateFile, asRequester: await t.tasks(await t.requester(20_000_000n, 10_000_000n)) });
    } finally {
      await runner.drain();
      engine.clearMisbehaviours();
      // Past every task's deadline: a task this test left queued cannot be claimed by the next test's runner.
      await net.advanceTime(DEADLINE_MS + 1_000);
    }
  }

  const DEADLINE_MS = 60_000;
  /** Waits until the engine has seen the client of a misbehaving stream (begun after `before` others) go away. */
  const abandonedKinds = (before: number, kinds: string[]): Promise<string[]> =>
    waitFor(
      'the engine to see its client go away',
      async () => engine.abandoned.slice(before).map((a) => a.kind),
      (seen) => seen.length >= kinds.length,
      net
    );
  const canisterNowMs = (): number => Number(net.engine.now() / 1_000_000n);
  const prompt = (text: string): Partial<SubmitTaskArgs> => ({
    input: { inline: [text], digest: [], reference: [] },
    deadline_ns: net.engine.now() + BigInt(DEADLINE_MS) * 1_000_000n
  });

  it('aborts a slow engine at the lease end minus the margin and reports the task failed with the reason', async () => {
    // The lease ends at the task's deadline (sooner than the registry's lease length), DEADLINE_MS after it is submitted;
    // the runner's clock runs DEADLINE_MS - 15 s ahead, so to it the lease ends 15 s after the submission: the abort
    // comes 1 s before that (time enough, on a busy 2-core CI machine, for the claim and the engine request to start
    // first; the slow engine never ends, so the wait cannot let it finish).
    await withRunner(
      { now: () => canisterNowMs() + DEADLINE_MS - 15_000, leaseMarginMs: 1_000 },
      async ({ runner, events, asRequester }) => {
        engine.misbehaveNext({ kind: 'slow', tokenMs: 1_000 }); // slower than the lease: max_output_tokens chunks take minutes
        const abandonedBefore = engine.abandoned.length;
        const task = okOf(await asRequester.submit_task(t.submitArgs('bounds-slow', prompt('take your time'))));
        const failed = await waitFor(
          'the failure report',
          async () => (await asRequester.get_task(task.id))[0],
          (v) => (v?.failures.length ?? 0) > 0,
          net,
          100_000 // the abort comes ~14 s after the submission: wait well past it, also on a loaded machine
        );
        expect(failed?.failures[0]?.reason).toBe(
          'lease ended before the engine finished (the engine request was aborted 1000 ms before the lease end)'
        );
        expect(failed?.results).toEqual([]);
        expect(failed?.leases).toEqual([]); // the slot and the task are free again, long before the registry's lease ends
        expect(await abandonedKinds(abandonedBefore, ['slow'])).toEqual(['slow']);
        const metrics = await waitFor(
          'the failed counter',
          () => runner.metrics.text(),
          (text) => /deai_runner_tasks_failed_total 1/.test(text),
          net
        );
        expect(metrics).toMatch(/deai_runner_tasks_completed_total 0/);
        expect(events.map((e) => e.event)).not.toContain('task-completed');
      }
    );
  }, 120_000);

  it('stops reading an engine that ignores max_tokens at max_output_tokens and completes with what was produced', async () => {
    await withRunner({}, async ({ asRequester }) => {
      engine.misbehaveNext({ kind: 'endless', token: 'word ' });
      const abandonedBefore = engine.abandoned.length;
      const task = okOf(
        await asRequester.submit_task(
          t.submitArgs('bounds-tokens', { ...prompt('go on forever'), limits: { max_output_tokens: 5, temperature: [], seed: [] } })
        )
      );
      const done = await waitFor(
        'the result',
        async () => (await asRequester.get_task(task.id))[0],
        (v) => v?.state === 'review',
        net
      );
      expect(done?.results[0]?.output).toEqual(['word '.repeat(5)]);
      expect(done?.results[0]?.output_tokens).toBe(5n);
      expect(await abandonedKinds(abandonedBefore, ['endless'])).toEqual(['endless']);
    });
  });

  it('cuts an endless stream at the registry’s output limit on a character boundary, and the registry accepts it', async () => {
    await withRunner({}, async ({ asRequester }) => {
      engine.misbehaveNext({ kind: 'endless', token: '€'.repeat(1000) });
      const task = okOf(
        await asRequester.submit_task(
          t.submitArgs('bounds-bytes', { ...prompt('fill the page'), limits: { max_output_tokens: 1_000_000, temperature: [], seed: [] } })
        )
      );
      const done = await waitFor(
        'the result',
        async () => (await asRequester.get_task(task.id))[0],
        (v) => v?.state === 'review',
        net
      );
      const output = done?.results[0]?.output[0] ?? '';
      // MAX_OUTPUT_BYTES is 256 KiB = 262,144 bytes: 87,381 three-byte characters (262,143 bytes), no partial one.
      expect(output).toBe('€'.repeat(Math.floor(MAX_OUTPUT_BYTES / 3)));
      expect(done?.results[0]?.output_digest).toBe(outputDigest(output));
    });
  });

  it('fails a task whose engine sends one endless SSE line, as a protocol error', async () => {
    await withRunner({}, async ({ asRequester }) => {
      engine.misbehaveNext({ kind: 'hugeLine' });
      const task = okOf(await asRequester.submit_task(t.submitArgs('bounds-line', prompt('one long line'))));
      const failed = await waitFor(
        'the failure report',
        async () => (await asRequester.get_task(task.id))[0],
        (v) => (v?.failures.length ?? 0) > 0,
        net
      );
      expect(failed?.failures[0]?.reason).toMatch(/^ProtocolError: an SSE line or event longer than \d+ characters$/);
    });
  });

  it('does not count a refused complete_task as completed: logs it, counts it apart, and fails the task naming the refusal', async () => {
    // The registry refuses this runner's results: it claims more output tokens than the task allows.
    const overclaiming = (registry: ReturnType<typeof registryClient>): ReturnType<typeof registryClient> =>
      Object.assign(Object.create(registry) as ReturnType<typeof registryClient>, {
        complete_task: (id: string, result: ResultArgs) => registry.complete_task(id, { ...result, output_tokens: 1_000_000n })
      });
    await withRunner(
      {},
      async ({ runner, events, stateFile, asRequester }) => {
        const task = okOf(await asRequester.submit_task(t.submitArgs('bounds-refused', prompt('count me once'))));
        const failed = await waitFor(
          'the failure report',
          async () => (await asRequester.get_task(task.id))[0],
          (v) => (v?.failures.length ?? 0) > 0,
          net,
          100_000 // the abort comes ~14 s after the submission: wait well past it, also on a loaded machine
        );
        expect(failed?.results).toEqual([]);
        expect(failed?.failures[0]?.reason).toMatch(/^complete_task refused: ImplausibleUsage .*"field":"output_tokens"/);
        const metrics = await waitFor(
          'the failed counter',
          () => runner.metrics.text(),
          (text) => /deai_runner_tasks_failed_total 1/.test(text),
          net
        );
        expect(metrics).toMatch(/deai_runner_tasks_completed_total 0/);
        expect(metrics).toMatch(/deai_runner_task_completions_refused_total\{error="ImplausibleUsage"\} 1/);
        expect(metrics).not.toMatch(/^deai_runner_tokens_total\{/m);
        expect(metrics).toMatch(/^deai_runner_task_duration_seconds_count 0$/m);
        const names = events.map((e) => e.event);
        expect(names).toContain('task-completion-refused');
        expect(names).not.toContain('task-completed');
        expect(events.find((e) => e.event === 'task-completion-refused')).toMatchObject({ task: task.id, error: 'ImplausibleUsage' });
        expect(JSON.parse(readFileSync(stateFile, 'utf8'))).toEqual({ tasks: [] });
      },
      overclaiming
    );
  });

  it('refuses to register against a published card that contradicts what it measured, naming the fields', async () => {
    // Published first, for the very digest this runner serves, with false facts: Q8_0, 131,072 tokens, image input, 70B.
    const liar = Ed25519KeyIdentity.generate();
    const digest = digestOf('liars-weights');
    const id = 'liar-org/Model-8B';
    const falseCard = modelCard({
      id,
      digest,
      base: undefined,
      parameters: { total: 70_553_706_496 },
      quantization: { method: 'Q8_0', bits: 8.5, label: 'Q8_0' },
      contextLength: 131_072,
      modalities: { input: ['text', 'image'], output: ['text'] }
    });
    okOf(await (await t.tasks(liar)).publish_model_card(JSON.stringify(falseCard)));
    // What the runner measured from the GGUF file and llama-server.
    const measured = modelCard({
      id,
      digest,
      base: undefined,
      version: 'gguf-1',
      parameters: { total: 8_030_261_248 },
      quantization: { method: 'Q4_K_M', bits: 4.89, label: 'Q4_K_M' },
      contextLength: 8192,
      modalities: { input: ['text'], output: ['text'] }
    });
    const identity = Ed25519KeyIdentity.generate();
    const events: Array<{ event: string; fields?: Record<string, unknown> }> = [];
    const runner = new RunnerNode({
      registry: registryClient(await agentFor(net.url, identity), t.registry),
      principal: identity.getPrincipal(),
      engineUrl: engine.url,
      engineModel: 'fake',
      manifestJson: JSON.stringify(runnerManifest(identity.getPrincipal().toText(), [deployment(measured, { slots: 2 })])),
      cards: [{ id, digest, json: JSON.stringify(measured) }],
      slots: 2,
      probe: async () => ready,
      stateFile: join(dir, `${identity.getPrincipal().toText()}.json`),
      log: (event, fields) => events.push({ event, ...(fields === undefined ? {} : { fields }) })
    });
    const refused = await runner.start().then(
      () => undefined,
      (error: unknown) => error
    );
    expect(refused).toBeInstanceOf(RunnerError);
    const error = refused as RunnerError;
    const fields = ['parameters.total', 'quantization.method', 'quantization.bits', 'contextLength', 'modalities.input'];
    expect(error.code).toBe('PublishedCardContradicts');
    expect(error.issues.map((issue) => issue.path)).toEqual(fields);
    expect(error.issues.find((issue) => issue.path === 'contextLength')).toMatchObject({ declared: 131_072, probed: 8192 });
    for (const field of fields) expect(error.message).toContain(field);
    expect(events.find((e) => e.event === 'card-contradicts')?.fields).toMatchObject({ id, digest, fields });
    // Not registered: the false card describes no deployment of this runner.
    expect(await (await t.tasks(identity)).get_runner(identity.getPrincipal())).toEqual([]);
  });
});
