import { createServer, type Server } from 'node:http';

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Ed25519KeyIdentity } from '@dfinity/identity';

import { IcCredit } from '../../src/ic/credit.ts';
import { Localnet } from '../../src/localnet/localnet.ts';
import { startMeteredServer, type MeteredServer } from '../../src/runner/metered/server.ts';
import { launchBrowser } from '../support/explorer.ts';
import { startFakeEngine, type FakeEngine } from '../support/fake-engine.ts';
import { bundleSdkForBrowser } from '../support/sdk-bundle.ts';
import { deadEndpoint, freshModel, runnerAt } from '../support/sdk.ts';
import { FEE, taskNetwork, type TaskNetwork } from '../support/tasks.ts';

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
  let metered: MeteredServer | undefined;
  const pageErrors: string[] = [];
  // The page pays runners: its key signs in Node (exposed to the page) and its credit calls go, signed by that key,
  // to the registry canister (IcCredit); the page's own agent stays anonymous.
  const payer = Ed25519KeyIdentity.generate();
  let payerCredit: IcCredit;
  const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
  const big = (_k: string, v: unknown): unknown => (typeof v === 'bigint' ? { $n: v.toString() } : v);
  const unbig = (_k: string, v: unknown): unknown =>
    typeof v === 'object' && v !== null && typeof (v as { $n?: unknown }).$n === 'string' ? BigInt((v as { $n: string }).$n) : v;

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
    await t.fund(payer, 100_000_000n + 2n * FEE);
    payerCredit = new IcCredit(await t.tasks(payer), {
      registryId: t.registry,
      principal: payer.getPrincipal(),
      ledger: await t.token(payer)
    });
    await payerCredit.depositCredit(100_000_000n);
    await page.exposeFunction('__deaiSign', async (bytesHex: string) =>
      hex(new Uint8Array(await payer.sign(Buffer.from(bytesHex, 'hex'))))
    );
    await page.exposeFunction('__deaiCredit', async (method: string, argsJson: string) => {
      const args = JSON.parse(argsJson, unbig) as unknown[];
      const api = payerCredit as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
      return JSON.stringify({ v: await api[method]!(...args) }, big);
    });
    await page.goto(siteUrl);
    await page.waitForFunction(() => 'deai' in globalThis);
  });
  afterAll(async () => {
    await browser?.close();
    site?.closeAllConnections();
    await new Promise((resolve) => site?.close(resolve));
    await metered?.close();
    await engine?.close();
    await net?.stop();
  });

  it('reads the registry and streams a direct chat, failing over from a dead runner to a live one', async () => {
    const card = await freshModel(t, 'browser');
    const dead = await runnerAt(t, card, await deadEndpoint(), 100);
    const runner = Ed25519KeyIdentity.generate();
    metered = await startMeteredServer({
      runner: runner.getPrincipal().toText(),
      engineUrl: engine.url,
      engineModel: String(card.id),
      models: [{ id: String(card.id), prices: { inputPerMillion: 100n, outputPerMillion: 200n } }],
      credit: new IcCredit(await t.tasks(runner), { registryId: t.registry, principal: runner.getPrincipal() }),
      receiptsFile: join(mkdtempSync(join(tmpdir(), 'deai-browser-')), 'receipts.json'),
      settleCheckMs: 0
    });
    const live = await runnerAt(t, card, metered.url, 200, runner);

    const seen = await page.evaluate(
      async ({ host, registryId, model, principal, derHex }) => {
        const { DeaiClient } = (globalThis as unknown as { deai: Sdk }).deai;
        const w = globalThis as unknown as {
          __deaiSign(hex: string): Promise<string>;
          __deaiCredit(method: string, args: string): Promise<string>;
        };
        const toHex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
        const fromHex = (h: string): Uint8Array => Uint8Array.from(h.match(/../g) ?? [], (p) => parseInt(p, 16));
        const big = (_k: string, v: unknown): unknown => (typeof v === 'bigint' ? { $n: v.toString() } : v);
        const unbig = (_k: string, v: unknown): unknown =>
          typeof v === 'object' && v !== null && typeof (v as { $n?: unknown }).$n === 'string' ? BigInt((v as { $n: string }).$n) : v;
        const call = async (method: string, ...args: unknown[]): Promise<never> =>
          (JSON.parse(await w.__deaiCredit(method, JSON.stringify(args, big)), unbig) as { v: never }).v;
        const credit = {
          depositCredit: (a: bigint) => call('depositCredit', a),
          reserveCredit: (r: string, a: bigint) => call('reserveCredit', r, a),
          findCreditLine: (p: string, r: string) => call('findCreditLine', p, r),
          settleUsage: (items: unknown) => call('settleUsage', items),
          getCreditAccount: (o: string) => call('getCreditAccount', o)
        };
        const signer = {
          getPrincipal: () => ({ toText: () => principal }),
          getPublicKey: () => ({ toDer: () => fromHex(derHex) }),
          sign: async (bytes: Uint8Array) => fromHex(await w.__deaiSign(toHex(bytes)))
        };
        const client = await DeaiClient.connect({ host, registryId, paid: { credit, signer, settleEveryMs: 0 } });
        const models = (await client.listModels()).map((m) => m.id);
        const ranked = (await client.findRunners({ model })).map((c) => c.runner);
        const tokens: string[] = [];
        const answer = await client.chat({ model, via: 'direct', prompt: 'one two three', onToken: (text) => tokens.push(text) });
        const settled = await client.payer!.close();
        return {
          settled: settled.map((o) => o.ok),
          models,
          ranked,
          tokens,
          content: answer.content,
          runner: answer.runner,
          failed: answer.failedAttempts.map((a) => `${a.runner}: ${a.error}`)
        };
      },
      {
        host: net.url,
        registryId: t.registry.toText(),
        model: String(card.id),
        principal: payer.getPrincipal().toText(),
        derHex: hex(new Uint8Array(payer.getPublicKey().toDer()))
      }
    );

    // Paid: the page signed the request and a receipt, and settled it in one batch.
    expect(seen.settled).toEqual([true]);
    expect((await payerCredit.getCreditAccount(live))?.accruedE8s).toBeGreaterThan(0n);
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
    // Direct chat is paid: a client connected without `paid` is refused before any runner is called.
    expect(error).toBe('NotConfigured');
  });
});
