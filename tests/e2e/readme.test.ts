import { execFile, spawn, type ChildProcessByStdio } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';

import { RunnerConfigSchema } from '../../src/runner/config.ts';
import { readmeCommands, readmeSnippets } from '../support/readme.ts';

const root = join(import.meta.dirname, '..', '..');
const deai = join(root, 'bin', 'deai.mjs');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const THIS_FILE = 'tests/e2e/readme.test.ts';
const BENCH_SMOKE = 'tests/e2e/bench-smoke.test.ts';
/** bench-smoke runs `npm run bench:<name>` for each of these. */
const BENCHES = "const BENCHES = ['localnet', 'registry', 'ledger', 'tasks', 'adversarial', 'runner', 'gateway'] as const;";

/**
 * Where each command README.md shows is run. A marker is text the named test file must contain (the argv it
 * passes), so that renaming a command without its test, or a README command no test runs, fails here.
 */
const EXERCISED: Record<string, Array<[file: string, marker: string]>> = {
  'npm install': [['.ci/run', 'npm ci']],
  'npm start': [['tests/e2e/start-demo.test.ts', "['start', '--', '--exit-after-demo'"]],
  'npm test': [['.ci/run', 'npm test']],
  'npm run build': [['package.json', '"test": "tsx scripts/build-canisters.ts --if-needed && npm run typecheck']],
  'npm run typecheck': [['package.json', 'npm run typecheck && npm run format:check']],
  'npm run generate:did': [['tests/unit/candid-contract.test.ts', 'is what ${file.source} generates (npm run generate:did)']],
  'npm run format': [
    ['package.json', '"format": "prettier --write ."'],
    ['package.json', 'npm run format:check && npm run check:deps']
  ],
  'npm run check:deps': [
    ['package.json', 'npm run check:deps && vitest run'],
    ['tests/unit/deps.test.ts', 'circular']
  ],
  'npm run bench': [['tests/e2e/bench-smoke.test.ts', 'expect(scripts.bench).toBe(']],
  'npm run bench:localnet': [[BENCH_SMOKE, BENCHES]],
  'npm run bench:registry': [[BENCH_SMOKE, BENCHES]],
  'npm run bench:ledger': [[BENCH_SMOKE, BENCHES]],
  'npm run bench:tasks': [[BENCH_SMOKE, BENCHES]],
  'npm run bench:adversarial': [[BENCH_SMOKE, BENCHES]],
  'npm run bench:runner': [[BENCH_SMOKE, BENCHES]],
  'npm run bench:gateway': [[BENCH_SMOKE, BENCHES]],
  'tsx scripts/llama-toolchain.ts': [['.ci/run', 'npx tsx scripts/llama-toolchain.ts']],
  'tsx scripts/build-canisters.ts': [['package.json', 'tsx scripts/build-canisters.ts']],
  deai: [[THIS_FILE, "ok('--version')"]],
  'deai explorer': [
    [THIS_FILE, "'explorer', '--port'"],
    ['tests/e2e/explorer-canister.test.ts', "'explorer', '--from-canister'"]
  ],
  'npm run build:explorer': [['tests/e2e/explorer.test.ts', 'buildExplorer']],
  'deai start': [['tests/e2e/start-demo.test.ts', "'--exit-after-demo'"]],
  'deai localnet start': [[THIS_FILE, "'localnet', 'start'"]],
  'deai localnet status': [
    [THIS_FILE, "'localnet', 'status'"],
    ['tests/integration/cli-localnet.test.ts', "'localnet', 'status'"]
  ],
  'deai localnet stop': [
    [THIS_FILE, "'localnet', 'stop'"],
    ['tests/integration/cli-localnet.test.ts', "'localnet', 'stop'"]
  ],
  'deai identity new': [[THIS_FILE, "'identity', 'new'"]],
  'deai identity show': [[THIS_FILE, "'identity', 'show'"]],
  'deai identity import': [
    [THIS_FILE, "'identity', 'import'"],
    ['tests/integration/cli-identity.test.ts', "run('import'"]
  ],
  'deai deploy': [
    [THIS_FILE, "'deploy'"],
    ['tests/integration/cli-deploy.test.ts', "run('deploy'"]
  ],
  'deai models list': [[THIS_FILE, "'models', 'list'"]],
  'deai models show': [[THIS_FILE, "'models', 'show'"]],
  'deai models publish': [[THIS_FILE, "'models', 'publish'"]],
  'deai models namespace': [['tests/integration/cli-commands.test.ts', "'models', 'namespace'"]],
  'deai runners find': [[THIS_FILE, "'runners', 'find'"]],
  'deai runner start': [['tests/e2e/runner-cli.test.ts', "'runner', 'start'"]],
  'deai runner bond': [['tests/integration/tasks-bonds.test.ts', "'runner', 'bond'"]],
  'deai runner accept-operator': [['tests/integration/tasks-bonds.test.ts', "'runner', 'accept-operator'"]],
  'deai runner status': [
    [THIS_FILE, "'runner', 'status'"],
    ['tests/e2e/runner-cli.test.ts', "'runner', 'status'"]
  ],
  'deai task submit': [[THIS_FILE, "'task', 'submit'"]],
  'deai task status': [[THIS_FILE, "'task', 'status'"]],
  'deai task quote': [['tests/integration/cli-commands.test.ts', "'task', 'quote'"]],
  'deai task accept': [['tests/integration/cli-commands.test.ts', "'task', 'accept'"]],
  'deai task reject': [
    [THIS_FILE, "'task', 'reject'"],
    ['tests/integration/cli-commands.test.ts', "'task', 'reject'"]
  ],
  'deai gateway': [
    ['tests/e2e/gateway-llama.test.ts', "'--deposit-e8s', String(DEPOSIT_E8S)"],
    ['tests/unit/cli/gateway-flags.test.ts', "'--max-reserve-per-runner-e8s', '5000000', '--close-idle-after', '0'"]
  ],
  'deai gateway keys': [
    ['tests/e2e/gateway-llama.test.ts', "['gateway', 'keys', 'create'"],
    ['tests/e2e/gateway-llama.test.ts', "['gateway', 'keys', 'list']"],
    ['tests/e2e/gateway-llama.test.ts', "['gateway', 'keys', 'revoke'"]
  ],
  'deai ledger balance': [[THIS_FILE, "'ledger', 'balance'"]],
  'deai ledger transfer': [[THIS_FILE, "'ledger', 'transfer'"]],
  'icp canister call': [['tests/integration/localnet-icp-cli.test.ts', "icp('canister', 'call'"]],
  'icp deploy': [['tests/integration/localnet-icp-cli.test.ts', "['deploy']"]],
  icp: [['tests/integration/localnet-icp-cli.test.ts', "'-k'"]]
};

/** Commands README shows that are not this project's to run: third-party engines, and dfx (not installable here). */
const NOT_OURS: Record<string, string> = {
  vllm: 'the vLLM server an operator runs (vLLM needs a GPU); the runner is tested against a replay of its API',
  'llama-server': 'llama.cpp’s server: built and run by tests/support/llama.ts, with the flags README gives',
  'dfx deploy': 'no dfx binary can be downloaded here; the Candid arguments README passes are checked against the .did below',
  'dfx canister call': 'as dfx deploy'
};

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Starts a long-running `deai` command (`--json`) and resolves with the URL it prints once it serves. */
async function serving(
  cwd: string,
  args: string[]
): Promise<{ child: ChildProcessByStdio<null, Readable, Readable>; exited: Promise<number | null>; url: string }> {
  const child = spawn(process.execPath, [deai, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const match = /"url": "([^"]+)"/.exec(text);
      if (match?.[1] !== undefined) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`deai ${args.join(' ')} exited ${String(code)}: ${text.slice(-2_000)}`)));
  });
  return { child, exited, url };
}

describe('README.md: every command and snippet it shows is run by a test', () => {
  const project = mkdtempSync(join(tmpdir(), 'deai-readme-'));
  afterAll(() => rmSync(project, { recursive: true, force: true }));

  it('maps each README command to a test that runs it', () => {
    const commands = readmeCommands(readme);
    expect(commands.length).toBeGreaterThan(40);
    const unmapped = commands
      .filter((c) => EXERCISED[c.key] === undefined && NOT_OURS[c.key] === undefined)
      .map((c) => `line ${c.line}: ${c.text} (${c.key})`);
    expect(unmapped).toEqual([]);
    for (const [key, places] of Object.entries(EXERCISED)) {
      for (const [file, marker] of places) {
        expect(readFileSync(join(root, file), 'utf8'), `${key}: ${file} should contain ${marker}`).toContain(marker);
      }
    }
    const shown = new Set(commands.map((c) => c.key));
    const stale = Object.keys(EXERCISED).filter((key) => !shown.has(key));
    expect(stale, 'commands mapped here that README no longer shows').toEqual([]);
  });

  it('the dfx commands pass Candid arguments whose fields the canisters’ .did files declare', () => {
    const dfx = readmeCommands(readme).filter((c) => c.key.startsWith('dfx '));
    expect(dfx.length).toBe(3);
    const did =
      readFileSync(join(root, 'src/interface/registry/registry.did'), 'utf8') +
      readFileSync(join(root, 'src/interface/ledger/ledger.did'), 'utf8');
    for (const command of dfx) {
      const fields = [...command.text.matchAll(/\b([A-Za-z_]+) = /g)].map((m) => m[1] ?? '');
      expect(fields.length).toBeGreaterThan(2);
      for (const field of fields) expect(did, `${field} in README line ${command.line}`).toMatch(new RegExp(`\\b${field}\\s*:`));
    }
  });

  it('the runner.yaml README shows is a valid runner configuration', () => {
    const yaml = readmeSnippets(readme, 'yaml').find((s) => s.code.includes('identity:'));
    expect(yaml).toBeDefined();
    expect(RunnerConfigSchema.safeParse(parseYaml(yaml?.code ?? '')).error).toBeUndefined();
  });

  it('walks through the CLI reference on a fresh project: network, identity, deploy, models, ledger, task, runner, stop', async () => {
    cpSync(join(root, 'dfx.json'), join(project, 'dfx.json'));
    for (const name of ['registry', 'ledger']) cpSync(join(root, '.azle', name), join(project, '.azle', name), { recursive: true });
    const stateDir = join(project, '.deai', 'localnet');
    const cli = (...args: string[]): Promise<Run> =>
      new Promise((resolve) => {
        execFile(process.execPath, [deai, ...args], { cwd: project, timeout: 120_000 }, (error, stdout, stderr) => {
          resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
        });
      });
    const ok = async (...args: string[]): Promise<string> => {
      const run = await cli(...args);
      if (run.code !== 0)
        throw new Error(`deai ${args.join(' ')} exited ${run.code}: ${run.stderr.slice(-2_000)}${run.stdout.slice(-2_000)}`);
      return run.stdout;
    };

    const { child, exited, url } = await serving(project, [
      'localnet',
      'start',
      '--port',
      '0',
      '--state-dir',
      stateDir,
      '--clean',
      '--json'
    ]);
    try {
      const host = ['--host', url];
      const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
      expect((await ok('--version')).trim()).toBe(version);
      const [status, created] = await Promise.all([
        ok('localnet', 'status', '--state-dir', stateDir, '--json'),
        ok('identity', 'new', '--json')
      ]);
      expect(JSON.parse(status)).toMatchObject({ running: true, url });
      const me = (JSON.parse(created) as { principal: string }).principal;
      const [shown, imported] = await Promise.all([
        ok('identity', 'show'),
        ok('identity', 'import', '.deai/identity.pem', '--path', 'copy.pem', '--json')
      ]);
      expect(shown).toContain(me);
      expect(JSON.parse(imported)).toMatchObject({ principal: me });

      const early = await cli('explorer', '--port', '0', ...host);
      expect(early.code).toBe(1);
      expect(early.stderr).toContain('run `deai deploy` here first, or pass --registry <id>');

      const ids = JSON.parse(await ok('deploy', ...host, '--no-build', '--json')) as Record<string, string>;
      expect(Object.keys(ids).sort()).toEqual(['ledger', 'registry']);
      // `deai explorer` serves the page with a config.json naming the network and the ids deploy recorded.
      const {
        child: explorer,
        exited: explorerExited,
        url: explorerUrl
      } = await serving(project, ['explorer', '--port', '0', ...host, '--json']);
      expect(await (await fetch(new URL('/config.json', explorerUrl))).json()).toMatchObject({
        host: url,
        registry: ids.registry,
        ledger: ids.ledger
      });
      expect((await fetch(explorerUrl)).headers.get('content-type')).toContain('text/html');
      explorer.kill('SIGTERM');
      expect(await explorerExited).toBe(0);

      const published = JSON.parse(
        await ok('models', 'publish', join(root, 'examples/manifests/llama-3.1-8b-q4km.model.yaml'), ...host, '--json')
      ) as { id: string };
      const operator = JSON.parse(await ok('identity', 'new', '--path', '.deai/runner.pem', '--json')) as { principal: string };

      const [list, show, find, balance] = await Promise.all([
        ok('models', 'list', '--family', 'llama', ...host),
        ok('models', 'show', published.id, ...host, '--json'),
        ok('runners', 'find', '--model', published.id, '--limit', '3', ...host, '--json'),
        ok('ledger', 'balance', ...host, '--json')
      ]);
      expect(list).toContain(published.id);
      expect(JSON.parse(show)).toMatchObject({ id: published.id });
      expect(JSON.parse(find)).toEqual([]);
      expect(JSON.parse(balance)).toMatchObject({ balanceE8s: '100000000000000' });

      await ok('ledger', 'transfer', '--to', operator.principal, '--amount', '100000', ...host);
      expect(JSON.parse(await ok('ledger', 'balance', '--of', operator.principal, ...host, '--json'))).toMatchObject({
        balanceE8s: '100000'
      });

      const task = JSON.parse(
        await ok(
          'task',
          'submit',
          '--model',
          published.id,
          '--prompt',
          'Hello',
          '--reward',
          '1000000',
          '--max-tokens',
          '16',
          ...host,
          '--json'
        )
      ) as { id: string };
      expect(JSON.parse(await ok('task', 'status', task.id, ...host, '--json'))).toMatchObject({ id: task.id, state: 'queued' });
      const rejectEarly = await cli('task', 'reject', task.id, '--reason', 'too early', ...host);
      expect(rejectEarly.code).toBe(1);
      expect(rejectEarly.stderr).toContain('NotInReview');

      const runnerYaml = readmeSnippets(readme, 'yaml').find((s) => s.code.includes('identity:'))?.code ?? '';
      writeFileSync(join(project, 'runner.yaml'), runnerYaml);
      const runnerStatus = await cli('runner', 'status', '--config', 'runner.yaml', ...host);
      expect(runnerStatus.code).toBe(3);
      expect(runnerStatus.stdout).toContain(`Runner ${operator.principal}`);
      expect(runnerStatus.stdout).toContain('not registered');

      expect(JSON.parse(await ok('localnet', 'stop', '--state-dir', stateDir, '--json'))).toMatchObject({ stopped: true });
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  }, 300_000);

  it('runs the TypeScript snippets: the agent, the Localnet API, and the SDK (with chat)', async () => {
    const snippets = readmeSnippets(readme, 'ts');
    expect(snippets.map((s) => s.code.split('\n')[0])).toEqual([
      "import { HttpAgent } from '@dfinity/agent';",
      "import { Localnet } from './src/localnet/localnet.ts';",
      "import { DeaiClient, isDeaiError } from './src/sdk/index.js';"
    ]);
    const { runSnippets } = await import('../support/readme-snippets.ts');
    await runSnippets(snippets, root);
  }, 180_000);
});
