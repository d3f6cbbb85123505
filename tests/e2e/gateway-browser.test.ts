import type { Principal } from '@dfinity/principal';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Localnet } from '../../src/localnet/localnet.ts';
import { launchBrowser } from '../support/explorer.ts';
import { webWasm } from '../support/web.ts';

/**
 * A canister's web page in headless Chromium through the localnet's HTTP gateway, as a dApp's users open it:
 * `http://<id>.localhost:<port>` (Chromium resolves every *.localhost to loopback) and `?canisterId=`.
 */
describe('canister web pages in a browser', () => {
  let net: Localnet;
  let web: Principal;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
    web = await net.installCanister({ wasm: webWasm() });
    browser = await launchBrowser();
    page = await browser.newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await net?.stop();
  });

  const host = (raw = false) => `http://${web.toText()}.${raw ? 'raw.' : ''}localhost:${net.port}`;

  it('loads the certified page at <id>.localhost, and its script fetches the streamed body', async () => {
    const response = await page.goto(`${host()}/`);
    expect(response?.status()).toBe(200);
    expect(await page.textContent('#greeting')).toBe('Hello from a certified canister');
    await page.waitForFunction(() => document.getElementById('streamed')?.textContent === 'chunk-0;chunk-1;chunk-2;');
  });

  it('loads the same page at 127.0.0.1 with ?canisterId=', async () => {
    const response = await page.goto(`${net.url}/?canisterId=${web.toText()}`);
    expect(response?.status()).toBe(200);
    expect(await page.textContent('#greeting')).toBe('Hello from a certified canister');
    await page.waitForFunction(() => document.getElementById('streamed')?.textContent === 'chunk-0;chunk-1;chunk-2;');
  });

  it('refuses a tampered and an uncertified response with 503; the raw domain skips verification', async () => {
    const tampered = await page.goto(`${host()}/tampered`);
    expect(tampered?.status()).toBe(503);
    expect(await page.textContent('body')).toContain('response_verification_error');
    const uncertified = await page.goto(`${host()}/uncertified`);
    expect(uncertified?.status()).toBe(503);
    const raw = await page.goto(`${host(true)}/uncertified`);
    expect(raw?.status()).toBe(200);
    expect(await page.textContent('#greeting')).toBe('Uncertified');
  });
});
