import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Principal } from '@dfinity/principal';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { tokens } from '../../src/explorer/app/format.ts';
import { buildExplorer, isBuilt, sourceHash } from '../../src/explorer/build.ts';
import { serveExplorer, type RunningExplorer } from '../../src/explorer/serve.ts';
import { Localnet } from '../../src/localnet/localnet.ts';
import { launchBrowser, screenshot } from '../support/explorer.ts';
import { okOf } from '../support/registry.ts';
import { processTasks, resultArgs, taskNetwork, type TaskNetwork } from '../support/tasks.ts';

/**
 * The explorer page, built with Vite and served by `deai explorer`'s server, in headless Chromium against the
 * localnet: a published model, a live runner that ran a task, the task accepted and paid on the ledger.
 */
describe('registry explorer in a browser', () => {
  const bundleDir = mkdtempSync(join(tmpdir(), 'deai-explorer-'));
  let net: Localnet;
  let t: TaskNetwork;
  let explorer: RunningExplorer;
  let browser: Browser;
  let page: Page;
  let runnerId: string;
  let requesterId: string;
  let taskId: string;
  let runnerBalance: bigint;
  const errors: string[] = [];

  beforeAll(async () => {
    const built = buildExplorer(bundleDir);
    net = await Localnet.start({ port: 0, stateDir: null });
    t = await taskNetwork(net);
    const runner = await t.runner();
    const requester = await t.requester(10_000_000n, 5_000_000n);
    runnerId = runner.getPrincipal().toText();
    requesterId = requester.getPrincipal().toText();
    const asRequester = await t.tasks(requester);
    taskId = okOf(await asRequester.submit_task(t.submitArgs('explorer'))).id;
    const asRunner = await t.tasks(runner);
    okOf(await asRunner.claim_task([taskId]));
    okOf(await asRunner.complete_task(taskId, resultArgs('Hello from the runner!')));
    okOf(await asRequester.accept_task(taskId));
    await processTasks(t);
    runnerBalance = await t.balance(runner);
    await built;
    // The bundle records the sources it came from: `deai explorer` rebuilds a stale one.
    expect(isBuilt(bundleDir)).toBe(true);
    writeFileSync(join(bundleDir, '.source-hash'), 'stale');
    expect(isBuilt(bundleDir)).toBe(false);
    writeFileSync(join(bundleDir, '.source-hash'), sourceHash());
    explorer = await serveExplorer({
      dir: bundleDir,
      port: 0,
      config: { host: net.url, registry: t.registry.toText(), ledger: t.ledger.toText(), pollMs: 1000 }
    });
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (error) => errors.push(error.message));
  });
  afterAll(async () => {
    await browser?.close();
    await explorer?.close();
    await net?.stop();
    rmSync(bundleDir, { recursive: true, force: true });
  });

  // The page refreshes every second; on two busy cores a view may take a few polls to settle.
  const poll = <T>(read: () => Promise<T> | T) => expect.poll(read, { timeout: 20_000, interval: 100 });
  const open = async (hash: string, query = ''): Promise<void> => {
    await page.goto(`${explorer.url}${query}#${hash}`);
  };

  it('shows models with capacity, median price and the capacity chart', async () => {
    await open('/models');
    const row = page.locator('#models-table tbody tr', { has: page.locator(`[data-model="${String(t.card.id)}"]`) });
    await poll(() => row.count()).toBe(1);
    await poll(() => row.locator('td[data-label="Ready runners"]').textContent()).toBe('1');
    expect(await row.locator('td[data-label="Median price in/out per M"]').textContent()).toMatch(/^\d+ \/ \d+$/);
    await poll(() => page.locator('.chart-card svg polyline').count()).toBe(2);
    await screenshot(page, 'explorer-models');
  });

  it('shows runners with state and reputation, and ranks them for a request with the score breakdown', async () => {
    await open('/runners');
    const row = page.locator('#runners-table tbody tr', { has: page.locator(`[data-runner="${runnerId}"]`) });
    await poll(() => row.count()).toBe(1);
    expect(await row.locator('td[data-label="State"]').textContent()).toBe('ready');
    await poll(() => row.locator('td[data-label="Reputation"]').textContent()).toContain('1 done');
    await open('/runners', '');
    await page.fill('input[name="model"]', String(t.card.id));
    await page.click('form.filters button[type="submit"]');
    const ranked = page.locator('#ranking-table tbody tr').first();
    await poll(() => ranked.locator('[data-runner]').getAttribute('data-runner')).toBe(runnerId);
    expect(await ranked.locator('.bar').count()).toBe(6);
    await screenshot(page, 'explorer-runners');
  });

  it('shows the task with its state, reward and timeline, and links to its runner', async () => {
    await open('/tasks?state=expired');
    await poll(() => page.locator('#data [data-state="empty"]').count()).toBe(1);
    await open('/tasks');
    await page.locator(`#tasks-table [data-task="${taskId}"]`).click();
    await poll(() => page.locator('#task-id').textContent()).toBe(taskId);
    expect(await page.locator('#task-state').textContent()).toBe('accepted');
    expect(await page.locator('#task-reward').textContent()).toContain('0.01 ');
    expect(await page.locator('#task-timeline li').count()).toBeGreaterThanOrEqual(4);
    // The page reads anonymously: the registry leaves out the prompt and outputs, and the page says so.
    expect(await page.locator('#task-prompt').textContent()).toContain('private');
    expect(await page.locator(`[data-output="${runnerId}"]`).textContent()).toContain('private');
    await screenshot(page, 'explorer-task');
    await page.locator(`#task-timeline [data-runner="${runnerId}"]`).first().click();
    await poll(() => page.locator('#runner-principal').textContent()).toBe(runnerId);
    expect(page.url()).toContain(`#/runners/${runnerId}`);
    await poll(() => page.locator(`[data-task="${taskId}"]`).count()).toBe(1);
    await screenshot(page, 'explorer-runner');
  });

  it('shows an account balance and the recent ICRC-3 blocks', async () => {
    await open(`/ledger?account=${runnerId}`);
    expect(runnerBalance).toBeGreaterThan(0n);
    await poll(() => page.locator('#balance').textContent()).toBe(tokens(runnerBalance, 8, 'TST'));
    const rows = page.locator('#blocks-table tbody tr');
    await poll(() => rows.count()).toBeGreaterThanOrEqual(5);
    await poll(() => page.locator(`#blocks-table [data-account="${requesterId}"]`).count()).toBeGreaterThan(0);
    await screenshot(page, 'explorer-ledger');
  });

  it('is readable on a phone', async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true });
    await phone.goto(`${explorer.url}#/tasks/${taskId}`);
    await poll(() => phone.locator('#task-id').textContent()).toBe(taskId);
    const width = await phone.evaluate(() => document.documentElement.scrollWidth);
    expect(width).toBeLessThanOrEqual(390);
    await screenshot(phone, 'explorer-phone-task');
    await phone.close();
  });

  it('says clearly when the registry id names no canister, or a canister that is not a registry', async () => {
    const missing = Principal.fromUint8Array(Uint8Array.from([0, 0, 0, 0, 0, 0xf0, 0xff, 0x01, 0x01, 0x01])).toText();
    await open('/models', `?registry=${missing}`);
    const error = page.locator('[role="alert"]');
    await poll(() => error.getAttribute('data-code')).toBe('CanisterNotFound');
    expect(await error.textContent()).toContain(missing);
    expect(await page.locator('#status').getAttribute('data-state')).toBe('error');
    await screenshot(page, 'explorer-error');
    // The ledger's id given as the registry's: a canister that exists but has none of the registry's methods.
    await open('/models', `?registry=${t.ledger.toText()}`);
    await poll(() => error.getAttribute('data-code')).toBe('NotARegistry');
    expect(await error.textContent()).toContain('does not answer like a DeAI canister');
    // A host where nothing listens: the network is unreachable, which the page says as such.
    await open('/models', '?host=http://127.0.0.1:9');
    await poll(() => error.getAttribute('data-code')).toBe('Unreachable');
    expect(errors).toEqual([]);
  });
});
