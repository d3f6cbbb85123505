import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { Ed25519KeyIdentity } from '@dfinity/identity';
import { Principal } from '@dfinity/principal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ed25519Pem } from '../../src/ic/identity.ts';
import { Localnet } from '../../src/localnet/localnet.ts';
import { agentFor, probeActor } from '../support/probe.ts';

const exec = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');
const deai = join(root, 'bin', 'deai.mjs');

/** A throwaway project: the probe fixture's dfx.json and sources, with its already-built Wasm. */
function fixtureProject(): string {
  const dir = mkdtempSync(join(tmpdir(), 'deai-project-'));
  // Only the probe canister: a project with one canister keeps the expected output short.
  const config = JSON.parse(readFileSync(join(root, 'tests', 'fixtures', 'dfx.json'), 'utf8')) as { canisters: Record<string, unknown> };
  writeFileSync(join(dir, 'dfx.json'), JSON.stringify({ ...config, canisters: { probe: config.canisters.probe } }, null, 2));
  cpSync(join(root, 'tests', 'fixtures', 'probe'), join(dir, 'probe'), { recursive: true });
  cpSync(join(root, 'tests', 'fixtures', '.azle'), join(dir, '.azle'), { recursive: true });
  return dir;
}

describe('deai deploy', () => {
  let net: Localnet;
  let project: string;

  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
    project = fixtureProject();
  });
  afterAll(async () => {
    await net.stop();
    rmSync(project, { recursive: true, force: true });
  });

  const run = (...args: string[]) => exec(process.execPath, [deai, ...args], { cwd: project, timeout: 120_000 });

  it('installs every canister, prints {"name": "id"} with --json, records ids for dfx and icp, and upgrades only on change', async () => {
    const first = await run('deploy', '--host', net.url, '--no-build', '--json');
    const ids = JSON.parse(first.stdout) as Record<string, string>;
    const id = ids.probe;
    if (id === undefined) throw new Error(`no probe id in ${first.stdout}`);
    expect(Principal.fromText(id).toText()).toBe(id);
    expect(JSON.parse(readFileSync(join(project, '.dfx', 'local', 'canister_ids.json'), 'utf8'))).toEqual({ probe: { local: id } });
    expect(JSON.parse(readFileSync(join(project, '.icp', 'data', 'mappings', 'local.ids.json'), 'utf8'))).toEqual({ probe: id });
    expect(existsSync(join(project, '.deai', 'identity.pem'))).toBe(true);
    expect(await probeActor(await agentFor(net.url), Principal.fromText(id)).greet('deployed')).toBe('Hello, deployed!');

    const again = await run('deploy', '--host', net.url, '--no-build');
    expect(again.stdout).toMatch(new RegExp(`probe\\s+${id}\\s+\\(unchanged\\)`));
  });

  it('deploys with a dfx-style PEM identity given by --identity', async () => {
    const identity = Ed25519KeyIdentity.generate();
    const pem = join(project, 'other.pem');
    writeFileSync(pem, ed25519Pem(identity));
    rmSync(join(project, '.dfx'), { recursive: true, force: true });
    const { stdout } = await run('deploy', '--host', net.url, '--no-build', '--identity', pem, '--json');
    const id = (JSON.parse(stdout) as Record<string, string>).probe ?? '';
    expect(net.engine.getCanister(id)?.isController(identity.getPrincipal().toUint8Array())).toBe(true);
  });

  it('fails with a clear message and a non-zero exit for a bad identity file or an unreachable host', async () => {
    writeFileSync(join(project, 'bad.pem'), 'not a key');
    await expect(run('deploy', '--host', net.url, '--no-build', '--identity', join(project, 'bad.pem'))).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/is not a PEM private key/)
    });
    await expect(run('deploy', '--host', 'http://127.0.0.1:9', '--no-build', '--json')).rejects.toMatchObject({
      code: 1,
      stdout: expect.stringMatching(/"code": "NetworkUnreachable"/)
    });
  });

  it('rejects a malformed dfx.json', async () => {
    writeFileSync(join(project, 'dfx.json'), '{ "canisters": ');
    await expect(run('deploy', '--host', net.url, '--no-build')).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/not valid JSON/)
    });
  });
});
