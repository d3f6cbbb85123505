import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';

import { ensureTinyModel } from '../../src/runner/llama/tiny-model.ts';
import { ensureLlamaServer } from '../../src/runner/llama/toolchain.ts';

const root = join(import.meta.dirname, '..', '..');
/** In the order the aggregate `npm run bench` chains them. */
const BENCHES = ['localnet', 'registry', 'ledger', 'tasks', 'adversarial', 'runner', 'gateway'] as const;
type Bench = (typeof BENCHES)[number];
/** A smoke run takes seconds; this only stops a hung one from holding the suite. */
const RUN_TIMEOUT_MS = 150_000;
/** Binaryen can print single lines of megabytes (`var NQ…`): failure messages carry only the end of an output. */
const SHOWN_CHARS = 2_000;

const PackageJson = z.object({ scripts: z.record(z.string(), z.string()) });
const scripts = PackageJson.parse(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))).scripts;

/** The figures each benchmark prints: a smoke run must still compute every one of them. */
const FIGURES: Record<Bench, RegExp[]> = {
  adversarial: [
    /claim_task\(None\), \d+ queued tasks of another model: \d+\.\dM instructions/,
    /list_claimable, \d+ queued tasks of another model: \d+\.\dM instructions/,
    /maintenance pass, \d+ open tasks, none due: \d+\.\dM instructions/,
    /behind 1,000 that already failed \(backed off\): paid in pass \d+/,
    /good payout behind 1,000 failing ones \(unpayable: stuck without a call\): paid in next run/,
    /submit_task with a 1 MB field, refused by inspect_message: \d+\.\dM instructions/,
    /unfunded submit_task, 256 KiB input: \d+\.\dM instructions/,
    /publish_model_card with \d+ KB of unknown keys, refused by inspect_message: \d+\.\dM instructions/,
    /publish_model_card with 126 unknown fields: \d+\.\dM instructions/,
    /accept_task crossing an epoch's end with \d+ credited pairs \(the close settles in timer steps\) \| \d+\.\dM instructions/
  ],
  localnet: [
    /boot \+ deploy 2 azle canisters \(cold: instrumenting the module\): \d+\.\d ms/,
    /boot \+ deploy 2 azle canisters \(instrumentation cached\): \d+\.\d ms/,
    /query latency p50 \/ p99 \(agent, verified\): \d+\.\d ms \/ \d+\.\d ms/,
    /update latency p50 \/ p99 \(agent, verified\): \d+\.\d ms \/ \d+\.\d ms/,
    /instructions: put \(1 StableBTreeMap insert\): [\d,]+/,
    /host throughput, \d+ senders, pre-signed v3 calls: \d+ updates\/s \((\d+)\/\1 ok in \d+\.\d s\)/
  ],
  registry: [
    /registration instructions p50: [\d,]+/,
    /heartbeat instructions p50: [\d,]+/,
    /find_runners latency p50 \/ p99 \(agent, verified\): \d+\.\d \/ \d+\.\d ms/,
    /find_runners instructions p50 \/ max: [\d,]+ \/ [\d,]+/,
    /heartbeat throughput \(\d+ senders, pre-signed\): \d+ updates\/s/,
    /heartbeat cost: [\d,]+ cycles each; \d+\.\d\d T cycles\/day/
  ],
  ledger: [
    /instructions: icrc1_transfer p50 \/ max: [\d,]+ \/ [\d,]+/,
    /transfer \+ its share of certification, under load: [\d,]+ instr = [\d,]+ cycles/,
    /icrc1_transfer latency p50 \/ p99 \(agent, verified\): \d+\.\d ms \/ \d+\.\d ms/,
    /icrc3_get_blocks throughput \(agent, verified, 100-block pages of \d+ blocks\): \d+ blocks\/s/,
    /host throughput, \d+ senders, pre-signed v3 icrc1_transfer calls: \d+ transfers\/s \((\d+)\/\1 answered 200, \1 blocks appended/
  ],
  tasks: [
    /submit \(escrow via icrc2_transfer_from\): \d+ calls\/s \((\d+)\/\1 in/,
    /claim: \d+ calls\/s \((\d+)\/\1 in/,
    /complete \(instant executor\): \d+ calls\/s \((\d+)\/\1 in/,
    /accept: \d+ calls\/s \((\d+)\/\1 in/,
    /payouts \(runner \+ treasury per task, by process_tasks\): \d+ transfers\/s/,
    /end-to-end tasks\/s \(submit → paid\), \d+ runners, instant executor: \d+\.\d tasks\/s \((\d+) of \1 tasks accepted and paid/,
    /added latency per task through the agent \(median of \d+\): \d+\.\d ms/,
    /instructions per task \(submit → paid, timers included; \d+ tasks, in-process localnet\): \d+\.\dM: registry \d+\.\dM, ledger \d+\.\dM; \d+\.\d messages and \d+\.\d ledger blocks per task/,
    /registry instructions per settled request \(settle_usage, \d+ items over \d+ lines, \d+ requests per item\): \d+\.\dM; \d+\.\dM per item/,
    /settle_receipt by the runner alone \(Ed25519 signature verified in the canister\): \d+\.\dM instructions/
  ],
  runner: [
    /generation tokens\/s, direct to llama-server \(median\): \d+/,
    /generation tokens\/s, through submit → runner → llama-server \(median\): \d+/,
    /ratio \(through the path \/ direct\): \d+\.\d{3}/,
    /submit → first token \(median\): \d+ ms/
  ],
  gateway: [
    /direct to llama-server: time to first token \/ total p50, generation speed \(\d+-token streams\): \d+\.\d ms \/ \d+\.\d ms, \d+ tokens\/s/,
    /metered runner endpoint \(payer client → runner → llama-server\): time to first token \/ total p50/,
    /gateway \(openai → gateway → runner → llama-server\): time to first token \/ total p50/,
    /p50 time-to-first-token overhead, metered endpoint vs direct: -?\d+\.\d ms/,
    /p50 time-to-first-token overhead, gateway vs direct: -?\d+\.\d ms/,
    /generation tokens\/s ratio, metered endpoint \/ direct: \d+\.\d{3}/,
    /generation tokens\/s ratio, gateway \/ direct: \d+\.\d{3}/,
    /requests\/s, \d+ clients, direct to llama-server \(\d+-token streams\): \d+\.\d/,
    /requests\/s, \d+ clients, metered endpoint: \d+\.\d \(ratio \d+\.\d{3}\)/,
    /requests\/s, \d+ clients, gateway: \d+\.\d \(ratio \d+\.\d{3}\)/,
    /p50 time-to-first-token overhead \/ tokens\/s ratio, two pass-through hops \(the floor\): -?\d+\.\d ms \/ \d+\.\d{3}/,
    /requests\/s, \d+ clients, two pass-through hops \(the floor of a two-hop path\): \d+\.\d \(ratio \d+\.\d{3}\)/,
    /CPU per request by process, \d+ clients, two pass-through hops: .*hop 1 \d+\.\d\d ms, hop 2 \d+\.\d\d ms/,
    /registry instructions per settled request, amortized \(settle_usage: \d+ batches, \d+ items, \d+ requests;[^)]*\): \d+\.\d\dM; \d+\.\d\dM per batch/,
    /ledger transfers per 1,000 paid requests \([^)]*\): \d+\.\d \(\d+ blocks\)/
  ]
};

interface Run {
  code: number | null;
  stdout: string;
  /** stdout and stderr interleaved, for failure messages. */
  output: string;
  seconds: number;
}

/** Runs `npm run <script>` with the benchmarks in smoke mode; a run past RUN_TIMEOUT_MS is killed with its children. */
function npmRun(script: string): Promise<Run> {
  const started = performance.now();
  // Its own process group, so a timeout ends npm, tsx and whatever the benchmark started (localnet, llama-server).
  const child = spawn('npm', ['run', script], {
    cwd: root,
    env: { ...process.env, DEAI_BENCH_SMOKE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true
  });
  let stdout = '';
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    output += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const timer = setTimeout(() => {
    output += `\n[bench-smoke] killed after ${RUN_TIMEOUT_MS} ms`;
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch (error) {
      // ESRCH: the group ended between the timer firing and the kill; anything else is worth seeing.
      if (!(error instanceof Error && 'code' in error && error.code === 'ESRCH')) throw error;
    }
  }, RUN_TIMEOUT_MS);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, output, seconds: (performance.now() - started) / 1000 });
    });
  });
}

/**
 * The end of an output without Binaryen's giant `var NQ` lines (and the blank caret line Node prints under one when an
 * error goes through its handler), every line cut to 500 characters, short enough for an assertion message.
 */
function tail(text: string): string {
  const kept = text
    .split('\n')
    .filter((line) => !line.startsWith('var NQ') && !(line.length > 500 && line.trim().length <= 1))
    .map((line) => (line.length > 500 ? `${line.slice(0, 500)}…` : line))
    .join('\n');
  return kept.length > SHOWN_CHARS ? `…${kept.slice(-SHOWN_CHARS)}` : kept;
}

describe('the README benchmark commands, in smoke mode (DEAI_BENCH_SMOKE=1)', () => {
  beforeAll(async () => {
    // bench:runner needs a real llama-server: build (or reuse) it here, so no smoke run is timed by a first build.
    await ensureLlamaServer();
    await ensureTinyModel();
  }, 900_000);

  it('npm run bench is exactly the chain of the bench:* scripts, so running each part covers it', () => {
    const parts = Object.keys(scripts)
      .filter((name) => name.startsWith('bench:'))
      .sort();
    expect(parts).toEqual(BENCHES.map((name) => `bench:${name}`).sort());
    expect(scripts.bench).toBe(BENCHES.map((name) => scripts[`bench:${name}`]).join(' && '));
  });

  // One at a time: each benchmark loads the machine's cores on its own.
  it.each(BENCHES)(
    'npm run bench:%s prints its figures',
    async (name) => {
      const run = await npmRun(`bench:${name}`);
      console.log(`bench:${name} (smoke) took ${run.seconds.toFixed(1)} s`);
      expect(run.code, `npm run bench:${name} exited with ${String(run.code)}; its output ends:\n${tail(run.output)}`).toBe(0);
      for (const figure of [...FIGURES[name], /^\| metric \| value \| target \|$/m]) {
        expect(
          figure.test(run.stdout),
          `npm run bench:${name} printed no line matching ${String(figure)}; its output ends:\n${tail(run.stdout)}`
        ).toBe(true);
      }
    },
    RUN_TIMEOUT_MS + 10_000
  );
});
