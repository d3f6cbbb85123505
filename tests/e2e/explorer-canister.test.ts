import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { Actor, HttpAgent } from '@dfinity/agent';
import type { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Localnet } from '../../src/localnet/localnet.ts';
import { launchBrowser, screenshot } from '../support/explorer.ts';
import { taskNetwork, type TaskNetwork } from '../support/tasks.ts';
import { getWithHost } from '../support/web.ts';

const exec = promisify(execFile);
const deai = join(import.meta.dirname, '..', '..', 'bin', 'deai.mjs');

interface Deployed {
  canisterId: string;
  url: string;
  assets: string[];
}

/**
 * `deai explorer --from-canister`: the explorer uploaded to an asset canister and opened in Chromium through the
 * localnet's HTTP gateway, every file certified, the page reading the registry from the canister's origin.
 */
describe('the explorer served from a canister', () => {
  let net: Localnet;
  let t: TaskNetwork;
  let dir: string;
  let deployed: Deployed;
  let browser: Browser;

  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
    t = await taskNetwork(net);
    dir = mkdtempSync(join(tmpdir(), 'deai-explorer-canister-'));
    const args = ['explorer', '--from-canister', '--host', net.url, '--registry', t.registry.toText(), '--json'];
    deployed = JSON.parse((await exec(process.execPath, [deai, ...args], { cwd: dir, timeout: 240_000 })).stdout) as Deployed;
    browser = await launchBrowser();
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    await net?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('uploads the page and config.json, and Chromium loads it at <id>.localhost with live data', async () => {
    expect(deployed.url).toBe(`http://${deployed.canisterId}.localhost:${net.port}/`);
    expect(deployed.assets).toContain('/index.html');
    expect(deployed.assets).toContain('/config.json');
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    const response = await page.goto(`${deployed.url}#/models`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['ic-certificate']).toMatch(/version=2$/);
    await expect.poll(() => page.locator('#status').getAttribute('data-state'), { timeout: 30_000 }).toBe('live');
    await expect.poll(() => page.locator(`[data-model="${String(t.card.id)}"]`).count(), { timeout: 30_000 }).toBeGreaterThan(0);
    await screenshot(page, 'explorer-from-canister');
    expect(errors).toEqual([]);
  });

  it('answers a missing file with a certified 404 (not a failed verification)', async () => {
    const missing = await getWithHost(net.port, `${deployed.canisterId}.localhost:${net.port}`, '/no/such/file.js');
    expect(missing.status).toBe(404);
    expect(missing.text).toBe('Not found');
  });

  it('refuses uploads from a principal that does not control the canister', async () => {
    const idl: IDL.InterfaceFactory = ({ IDL: I }) => {
      const error = I.Variant({
        NotController: I.Null,
        TooMany: I.Null,
        TooLarge: I.Null,
        InvalidPath: I.Null,
        InvalidContentType: I.Null
      });
      return I.Service({ put_asset: I.Func([I.Text, I.Text, I.Vec(I.Nat8)], [I.Variant({ Ok: I.Null, Err: error })], []) });
    };
    const agent = await HttpAgent.create({ host: net.url, shouldFetchRootKey: true });
    const actor = Actor.createActor<{ put_asset(p: string, t: string, b: Uint8Array): Promise<unknown> }>(idl, {
      agent,
      canisterId: Principal.fromText(deployed.canisterId)
    });
    expect(await actor.put_asset('/index.html', 'text/html', new TextEncoder().encode('defaced'))).toEqual({
      Err: { NotController: null }
    });
    const page = await getWithHost(net.port, `${deployed.canisterId}.localhost:${net.port}`, '/');
    expect(page.text).toContain('DeAI Registry explorer');
  });
});
