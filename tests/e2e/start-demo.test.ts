import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';

import { DEMO_MODEL_ID } from '../../src/cli/demo.ts';
import { ensureTinyModel } from '../../src/runner/llama/tiny-model.ts';
import { ensureLlamaServer } from '../../src/runner/llama/toolchain.ts';

const exec = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');

const DemoOutput = z.object({
  url: z.string(),
  canisters: z.object({ registry: z.string(), ledger: z.string() }),
  demo: z.object({
    taskId: z.string(),
    output: z.string().min(1),
    outputTokens: z.string(),
    requester: z.string(),
    runner: z.string(),
    balances: z.object({ requesterE8s: z.string(), runnerE8s: z.string() })
  }),
  gateway: z.object({
    baseURL: z.string(),
    apiKey: z.string(),
    check: z.object({ runner: z.string(), content: z.string(), completionTokens: z.number() }),
    payer: z.string(),
    settlement: z.object({ lineId: z.string(), settledE8s: z.string(), settledSeq: z.string(), runnerAccruedE8s: z.string() })
  })
});

describe('npm start -- --exit-after-demo', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'deai-start-demo-'));
  afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

  it(
    'runs the whole system on a fresh state directory: deploy, runner on llama-server, a paid demo task',
    async () => {
      // Build (or reuse) llama-server first so the command below is not timed by a first-run build.
      await ensureLlamaServer();
      await ensureTinyModel();
      // The README's command itself: npm prints its "> deai-registry start" banner first, then the JSON document.
      const { stdout, stderr } = await exec(
        'npm',
        ['start', '--', '--exit-after-demo', '--port', '0', '--gateway-port', '0', '--state-dir', stateDir, '--clean', '--json'],
        {
          cwd: root,
          timeout: 240_000,
          maxBuffer: 16 * 1024 * 1024
        }
      );
      const printed = DemoOutput.parse(JSON.parse(stdout.slice(stdout.search(/^\{/m))));
      expect(printed.demo.taskId).toMatch(/^task-\d{12}$/);
      expect(Number(printed.demo.outputTokens)).toBeGreaterThan(0);
      // The runner was paid its metered tokens × its prices (100 / 300 per million: a few dozen tokens round up to 1 e8s).
      expect(BigInt(printed.demo.balances.runnerE8s)).toBe(1n);
      expect(BigInt(printed.demo.balances.requesterE8s)).toBeGreaterThan(0n);
      expect(stderr).toMatch(/llama-server ready/);
      expect(stderr).toMatch(new RegExp(`runner .* registered and live`));
      expect(stderr).toMatch(/Stopping: draining the runner/);
      expect(DEMO_MODEL_ID).toBe('deai/tiny-random-llama');
      // The gateway served one chat completion through the demo runner and left the client settings in .deai/gateway.json.
      expect(printed.gateway.baseURL).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
      expect(printed.gateway.apiKey).toMatch(/^sk-deai-/);
      expect(printed.gateway.check).toMatchObject({ runner: printed.demo.runner });
      expect(printed.gateway.check.completionTokens).toBeGreaterThan(0);
      // The gateway paid the runner as the demo identity, and its batch settled the request on-chain to the runner.
      expect(printed.gateway.payer).toBe(printed.demo.requester);
      expect(printed.gateway.settlement.settledSeq).toBe('1');
      expect(BigInt(printed.gateway.settlement.settledE8s)).toBeGreaterThan(0n);
      expect(BigInt(printed.gateway.settlement.runnerAccruedE8s)).toBe(BigInt(printed.gateway.settlement.settledE8s));
      expect(stderr).toMatch(/settled on-chain: line \d+ at receipt 1/);
      expect(JSON.parse(readFileSync(join(root, '.deai', 'gateway.json'), 'utf8'))).toEqual({
        baseURL: printed.gateway.baseURL,
        apiKey: printed.gateway.apiKey
      });
      expect(stderr).toMatch(/Gateway: http:\/\/127\.0\.0\.1:\d+\/v1/);
    },
    30 * 60_000
  );
});
