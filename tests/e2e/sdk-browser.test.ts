import { createServer, type Server } from 'node:http';

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Localnet } from '../../src/localnet/localnet.ts';
import { launchBrowser } from '../support/explorer.ts';
import { startFakeEngine, type FakeEngine } from '../support/fake-engine.ts';
import { bundleSdkForBrowser } from '../support/sdk-bundle.ts';
import { deadEndpoint, freshModel, runnerAt } from '../support/sdk.ts';
import { taskNetwork, type TaskNetwork } from '../support/tasks.ts';

/**
 * The SDK as a dApp's web page uses it: bundled for the browser (esbuild), loaded as a module by headless
 * Chromium from a page on 127.0.0.1, talking to the localnet (agent, certificate and query-signature checks in the
 * browser) and, for direct chat, to runners' endpoints across origins (CORS), with streaming and failover.
 */
/** The dApp's page: loads the bundle as a module, as `import { DeaiClient } from '…'` would, and exposes it. */
const PAGE = `<!doctype html><title>dApp</title><script type="module">import * as sdk from '/sdk.js'; window.deai = sdk;</script>`;
type Sdk = typeof import('../../src/sdk/index.ts');

describe('the SDK in a browser', () => {
  let net: Localnet;
  let t: TaskNetwork;
  let engine: FakeEngine;
  let site: Server;
  let siteUrl: string;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    const [{ code }, started] = await Promise.all([bundleSdkForBrowser(), Localnet.start({ port: 0, stateDir: null })]);
    net = started;
    t = await taskNetwork(net);
    engine = await startFakeEngine();
    site = createServer((request, response) => {
      if (request.url === '/sdk.js') response.writeHead(200, { 'content-type': 'text/javascript' }).end(code);
      else response.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
    });
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
    const address = site.address();
    siteUrl = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
    browser = await launchBrowser();
    page = await browser.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(siteUrl);
    await page.waitForFunction(() => 'deai' in globalThis);
  });
  afterAll(async () => {
    await browser?.close();
    site?.closeAllConnections();
    await new Promise((resolve) => site?.close(resolve));
    await engine?.close();
    await net?.stop();
  });

  it('reads the registry and streams a direct chat, failing over from a dead runner to a live one', async () => {
    const card = await freshModel(t, 'browser');
    const dead = await runnerAt(t, card, await deadEndpoint(), 100);
    const live = await runnerAt(t, card, engine.url, 200);

    const seen = await page.evaluate(
      async ({ host, registryId, model }) => {
        const { DeaiClient } = (globalThis as unknown as { deai: Sdk }).deai;
        const client = await DeaiClient.connect({ host, registryId });
        const models = (await client.listModels()).map((m) => m.id);
        const ranked = (await client.findRunners({ model })).map((c) => c.runner);
        const tokens: string[] = [];
        const answer = await client.chat({ model, via: 'direct', prompt: 'one two three', onToken: (text) => tokens.push(text) });
        return {
          models,
          ranked,
          tokens,
          content: answer.content,
          runner: answer.runner,
          failed: answer.failedAttempts.map((a) => `${a.runner}: ${a.error}`)
        };
      },
      { host: net.url, registryId: t.registry.toText(), model: String(card.id) }
    );

    expect(seen.models).toContain(card.id);
    expect(seen.ranked).toEqual([dead, live]);
    expect(seen.content).toBe('three two one');
    expect(seen.tokens).toEqual(['three', ' two', ' one']);
    expect(seen.runner).toBe(live);
    expect(seen.failed).toHaveLength(1);
    expect(seen.failed[0]).toMatch(new RegExp(`^${dead}: .*unreachable`));
    expect(pageErrors).toEqual([]);
  });

  it('turns a bad request into a DeaiError in the page', async () => {
    const error = await page.evaluate(
      async ({ host, registryId }) => {
        const { DeaiClient, DeaiError } = (globalThis as unknown as { deai: Sdk }).deai;
        const client = await DeaiClient.connect({ host, registryId });
        try {
          await client.chat({ model: 'test/nobody-serves-this', via: 'direct', prompt: 'hello' });
          return 'resolved';
        } catch (e) {
          return e instanceof DeaiError ? e.code : `not a DeaiError: ${String(e)}`;
        }
      },
      { host: net.url, registryId: t.registry.toText() }
    );
    expect(error).toBe('NoRunners');
  });
});
