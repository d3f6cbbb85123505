/**
 * Runner benchmark: does going through the registry slow generation down, and how long until the first token?
 *
 *   npm run bench:runner [-- --tasks 8 --tokens 128]
 *
 * One run, one model (the tiny random llama on a real llama-server, 1 slot): generation tokens/s of tasks that go
 * through the whole path (submit → claim → runner → llama-server, streamed) against direct streamed calls to the same
 * server, as a ratio (target ≥ 0.95 for 128-token generations), and the median time from submit to first token.
 * Generation speed is output tokens over (total − time to first token), as both paths measure it on the client side
 * of llama-server's stream.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Localnet } from '../../src/localnet/localnet.ts';
import { RunnerConfigSchema } from '../../src/runner/config.ts';
import { execute } from '../../src/inference/chat-stream.ts';
import { startRunner } from '../../src/runner/start.ts';
import { llamaFixture } from '../support/llama.ts';
import { findRequest, okOf } from '../support/registry.ts';
import { taskNetwork } from '../support/tasks.ts';
import { flag, sized } from './scale.ts';

const TASKS = flag('tasks', sized(8, 2));
const TOKENS = flag('tokens', sized(128, 32));
const MODEL_ID = 'deai/tiny-random-llama';
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const prompt = (i: number): string => `Write a short story about lighthouse number ${i}.`;

const llama = await llamaFixture({ slots: 1 });
const net = await Localnet.start({ port: 0, stateDir: null });
const dir = mkdtempSync(join(tmpdir(), 'deai-bench-runner-'));
try {
  console.log(
    `Runner benchmark (node ${process.version}): ${TASKS} tasks of ${TOKENS} tokens, tiny random llama (llama.cpp ${llama.commit}), 1 slot\n`
  );
  // Direct calls first (warm-up included), then the same prompts as tasks.
  await execute({ baseUrl: llama.url, model: llama.alias, prompt: 'warm up', maxOutputTokens: 16, temperature: 0 });
  const direct: number[] = [];
  for (let i = 0; i < TASKS; i++) {
    const run = await execute({
      baseUrl: llama.url,
      model: llama.alias,
      prompt: prompt(i),
      maxOutputTokens: TOKENS,
      temperature: 0,
      seed: 7n
    });
    direct.push(Number(run.outputTokens) / ((run.totalMs - run.firstTokenMs) / 1000));
  }

  const t = await taskNetwork(net);
  const firstTokenAt = new Map<string, number>();
  const config = RunnerConfigSchema.parse({
    network: { host: net.url, registry: t.registry.toText() },
    identity: join(dir, 'runner.pem'),
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
    heartbeatSeconds: 10,
    pollMs: 50,
    metricsPort: 0,
    stateFile: join(dir, 'state.json')
  });
  const runner = await startRunner(config, {
    projectDir: dir,
    log: (event, fields) => {
      if (event === 'task-first-token' && typeof fields?.task === 'string') firstTokenAt.set(fields.task, performance.now());
    }
  });
  const requester = await t.requester(100_000_000n, 50_000_000n);
  const asRequester = await t.tasks(requester);
  const viaTasks: number[] = [];
  const submitToFirstToken: number[] = [];
  for (let i = 0; i < TASKS; i++) {
    const submitted = performance.now();
    const task = okOf(
      await asRequester.submit_task(
        t.submitArgs(`bench-${i}`, {
          request: findRequest({ model: [MODEL_ID] }),
          input: { inline: [prompt(i)], digest: [], reference: [] },
          limits: { max_output_tokens: TOKENS, temperature: [0], seed: [7n] }
        })
      )
    );
    let view = (await asRequester.get_task(task.id))[0];
    while (view?.state !== 'review') {
      await new Promise((resolve) => setTimeout(resolve, 10));
      view = (await asRequester.get_task(task.id))[0];
    }
    const result = view.results[0];
    if (result === undefined) throw new Error('no result');
    viaTasks.push(Number(result.output_tokens) / ((result.total_ms - result.first_token_ms) / 1000));
    const first = firstTokenAt.get(task.id);
    if (first !== undefined) submitToFirstToken.push(first - submitted);
  }
  await runner.stop();
  const ratio = median(viaTasks) / median(direct);
  const rows: Array<[string, string, string]> = [
    ['generation tokens/s, direct to llama-server (median)', median(direct).toFixed(0), ''],
    ['generation tokens/s, through submit → runner → llama-server (median)', median(viaTasks).toFixed(0), ''],
    ['ratio (through the path / direct)', ratio.toFixed(3), '>= 0.95'],
    ['submit → first token (median)', `${median(submitToFirstToken).toFixed(0)} ms`, '']
  ];
  for (const [m, v, target] of rows) console.log(`  ${m}: ${v}${target ? `  (target ${target})` : ''}`);
  console.log('\n| metric | value | target |\n|---|---|---|');
  for (const [m, v, target] of rows) console.log(`| ${m} | ${v} | ${target} |`);
} finally {
  await llama.stop();
  await net.stop();
  rmSync(dir, { recursive: true, force: true });
}
