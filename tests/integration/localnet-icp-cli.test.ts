import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { Principal } from '@dfinity/principal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Localnet } from '../../src/localnet/localnet.ts';
import { agentFor, probeActor, probeWasm } from '../support/probe.ts';

const exec = promisify(execFile);
const require = createRequire(import.meta.url);
const icpBinary = join(require.resolve('@icp-sdk/icp-cli-linux-x64/package.json'), '..', 'bin', 'icp');

describe('the icp CLI (ic-agent 0.49, v3 query / v4 call) talks to the localnet', () => {
  let net: Localnet;
  let probe: Principal;
  const env = {
    ...process.env,
    HOME: mkdtempSync(join(tmpdir(), 'icp-home-')),
    DO_NOT_TRACK: '1',
    ICP_TELEMETRY_DISABLED: '1',
    RUST_BACKTRACE: '0'
  };
  // The host runs in this process, so the CLI must run asynchronously (a sync exec would block the server).
  const icp = async (...args: string[]) =>
    (await exec(icpBinary, [...args, '-n', net.url, '-k', net.rootKeyHex], { env, timeout: 60_000 })).stdout.trim();

  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
    // icp's default identity is anonymous; make it a controller so `icp canister status` may read the canister.
    probe = await net.installCanister({ wasm: probeWasm(), controllers: [Principal.anonymous()] });
  });
  afterAll(async () => {
    await net.stop();
  });

  it('calls a query and an update with Candid arguments', async () => {
    expect(await icp('canister', 'call', probe.toText(), 'greet', '("icp")')).toBe('("Hello, icp!")');
    expect(await icp('canister', 'call', probe.toText(), 'put', '("from", "icp")')).toBe('(null)');
    expect(await icp('canister', 'call', probe.toText(), 'get', '("from")', '--query')).toBe('(opt "icp")');
  });

  it('surfaces a canister trap as an error', async () => {
    await expect(icp('canister', 'call', probe.toText(), 'throw_error', '("from icp")')).rejects.toThrow(/from icp/);
  });

  it('reads canister status through the management canister', async () => {
    const status = await icp('canister', 'status', probe.toText());
    expect(status).toMatch(/Running/i);
  });

  it('pings the network status endpoint', async () => {
    const { stdout } = await exec(icpBinary, ['network', 'ping', net.url], { env, timeout: 30_000 });
    expect(stdout).toMatch(/"replica_health_status": "healthy"/);
  });

  it('deploys a project with `icp deploy` (cycles-ledger creation, chunked install) and redeploys it as an upgrade', async () => {
    const project = mkdtempSync(join(tmpdir(), 'icp-project-'));
    copyFileSync(join(import.meta.dirname, '..', 'fixtures', '.azle', 'probe', 'probe.wasm'), join(project, 'probe.wasm'));
    writeFileSync(
      join(project, 'icp.yaml'),
      [
        'networks:',
        '  - name: local',
        '    mode: connected',
        `    url: ${net.url}`,
        `    root-key: ${net.rootKeyHex}`,
        'canisters:',
        '  - name: backend',
        '    build:',
        '      steps:',
        '        - type: pre-built',
        '          path: probe.wasm',
        ''
      ].join('\n')
    );
    const deploy = async () => (await exec(icpBinary, ['deploy'], { cwd: project, env, timeout: 120_000 })).stdout;
    const first = await deploy();
    const id = /backend: .*[?&]id=([a-z0-9-]+)/.exec(first)?.[1];
    if (id === undefined) throw new Error(`no canister id in: ${first}`);
    const actor = probeActor(await agentFor(net.url), Principal.fromText(id));
    expect(await actor.greet('icp deploy')).toBe('Hello, icp deploy!');
    await actor.put('survives', 'the upgrade');
    await deploy();
    expect(await actor.get('survives')).toEqual(['the upgrade']);
    expect(await actor.counter('post_upgrade')).toBe(1n);
    const { stdout } = await exec(icpBinary, ['canister', 'call', 'backend', 'greet', '("by name")'], {
      cwd: project,
      env,
      timeout: 60_000
    });
    expect(stdout.trim()).toBe('("Hello, by name!")');
  });
});
