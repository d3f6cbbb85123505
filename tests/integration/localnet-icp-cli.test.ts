import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import type { Principal } from '@dfinity/principal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Localnet } from '../../src/localnet/localnet.ts';
import { probeWasm } from '../support/probe.ts';

const exec = promisify(execFile);
const require = createRequire(import.meta.url);
const icpBinary = join(require.resolve('@icp-sdk/icp-cli-linux-x64/package.json'), '..', 'bin', 'icp');

describe('the icp CLI (ic-agent 0.49, v3 query / v4 call) talks to the localnet', () => {
  let net: Localnet;
  let probe: Principal;
  const env = { ...process.env, HOME: mkdtempSync(join(tmpdir(), 'icp-home-')), DO_NOT_TRACK: '1', ICP_TELEMETRY_DISABLED: '1', RUST_BACKTRACE: '0' };
  // The host runs in this process, so the CLI must run asynchronously (a sync exec would block the server).
  const icp = async (...args: string[]) => (await exec(icpBinary, [...args, '-n', net.url, '-k', net.rootKeyHex], { env, timeout: 60_000 })).stdout.trim();

  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
    probe = await net.installCanister({ wasm: probeWasm() });
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
});
