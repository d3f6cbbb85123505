/**
 * The paid path through faults (issue 17, "exactly once through … a stopped ledger, and a restarted runner or
 * gateway"): a payer client and a metered runner (stand-in engine) on the built registry and ledger, with the ledger
 * stopped while deposits, settlement, a withdrawal and an automatic payout are asked of it; and `deai gateway --unpaid`.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Identity } from '@dfinity/agent';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { IcCredit } from '../../src/ic/credit.ts';
import { Localnet } from '../../src/localnet/localnet.ts';
import { startMeteredServer, type MeteredServer } from '../../src/runner/metered/server.ts';
import { filePayerStore } from '../../src/sdk/paid/file-store.ts';
import { PayerClient, RECEIPT_WAIT_COVERS } from '../../src/sdk/paid/payer.ts';
import { startFakeEngine, type FakeEngine } from '../support/fake-engine.ts';
import { deaiJson, spawnGateway } from '../support/gateway.ts';
import { account } from '../support/ledger.ts';
import { errOf, okOf } from '../support/registry.ts';
import { freshModel, runnerAt } from '../support/sdk.ts';
import { FEE, payoutsOf, processTasks, setCanisterRunning, taskNetwork, type TaskNetwork } from '../support/tasks.ts';

const CREDIT_SUBACCOUNT = Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 3 : 0));
/** 1,000 e8s per token: each request of the stand-in engine costs tens of thousands of e8s, more than a ledger fee. */
const PRICES = { inputPerMillion: 1_000_000_000n, outputPerMillion: 1_000_000_000n };
const CHAT = {
  path: '/v1/chat/completions' as const,
  body: { model: 'm', messages: [{ role: 'user', content: 'one two three four' }], max_tokens: 16 }
};

describe('paid path: exactly once through a stopped ledger and a restarted runner (issue 17)', () => {
  let net: Localnet;
  let t: TaskNetwork;
  let engine: FakeEngine;
  const servers: MeteredServer[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'deai-paid-faults-'));

  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
    t = await taskNetwork(net);
    engine = await startFakeEngine();
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await engine?.close();
    await net?.stop();
  });

  const creditOf = async (identity: Identity): Promise<IcCredit> =>
    new IcCredit(await t.tasks(identity), { registryId: t.registry, principal: identity.getPrincipal(), ledger: await t.token(identity) });

  async function meteredRunner(identity: Identity, receiptsFile: string): Promise<MeteredServer> {
    const server = await startMeteredServer({
      runner: identity.getPrincipal().toText(),
      engineUrl: engine.url,
      engineModel: 'm',
      models: [{ id: 'm', prices: PRICES }],
      credit: await creditOf(identity),
      receiptsFile,
      settleCheckMs: 0,
      settleAfterMs: 0
    });
    servers.push(server);
    return server;
  }

  it('deposits, settlement, a withdrawal and an automatic payout asked while the ledger is stopped each move once after it restarts', async () => {
    const admin = await t.tasks(t.admin);
    const token = await t.token(t.admin);
    const runner = await t.runner();
    const runnerId = runner.getPrincipal().toText();
    // Funded, and the registry approved for everything it will deposit (an approval needs the ledger running).
    const payer = await t.requester(100_000_000n, 90_000_000n);
    const payerId = payer.getPrincipal().toText();
    const treasury = t.treasury.getPrincipal();
    const holders = async (): Promise<bigint> =>
      (await t.balance(payer)) +
      (await t.balance(runner)) +
      (await t.balance(treasury)) +
      (await token.icrc1_balance_of(account(t.registry, CREDIT_SUBACCOUNT)));
    const blocks = async (): Promise<bigint> => (await token.icrc3_get_blocks([{ start: 0n, length: 0n }])).log_length;
    const supplyBefore = await token.icrc1_total_supply();
    const holdersBefore = await holders();
    const blocksBefore = await blocks();

    const payerCredit = await creditOf(payer);
    await payerCredit.depositCredit(40_000_000n);
    const receiptsFile = join(dir, 'runner-receipts.json');
    let server = await meteredRunner(runner, receiptsFile);
    const target = () => ({ runner: runnerId, endpoint: server.url, prices: PRICES });
    const client = await PayerClient.open({
      identity: payer,
      credit: payerCredit,
      store: filePayerStore(join(dir, 'payer.json')),
      settleEveryMs: 0
    });
    for (let i = 0; i < 3; i++) expect((await client.send(target(), CHAT)).ok).toBe(true);
    const line = client.lineOf(runnerId)!;

    // The ledger stops. Paying runners needs only the registry: requests, receipts and batches go on.
    await setCanisterRunning(net, t.ledger, false);
    const createdAt = net.engine.now();
    const asPayer = await t.tasks(payer);
    expect(errOf(await asPayer.deposit_credit({ amount_e8s: 5_000_000n, created_at_time: [createdAt] }))).toMatchObject({
      LedgerError: { operation: 'icrc2_transfer_from' }
    });
    // Typed and visible: the deposit is pending, never credited while the ledger cannot say it moved.
    const pending = (await admin.get_credit_account(payer.getPrincipal()))[0]!;
    expect([...pending.pending_deposits]).toEqual([createdAt]);
    expect(pending.free_e8s + pending.reserved_e8s).toBe(40_000_000n);
    for (let i = 0; i < 3; i++) expect((await client.send(target(), CHAT)).ok).toBe(true);
    const [first] = await client.flush();
    expect(first).toMatchObject({ ok: true, lineId: line.lineId });
    const owedAfterBatch = client.lineOf(runnerId)!.owedE8s;
    // The runner withdraws while the ledger is stopped: a pending payout, its accrued balance already 0.
    const asRunner = await t.tasks(runner);
    const withdrawal = okOf(await asRunner.withdraw_accrued());
    expect(withdrawal.amount_e8s).toBe(owedAfterBatch);
    expect(errOf(await asRunner.withdraw_accrued())).toMatchObject({ InsufficientCredit: {} });
    // Automatic payouts from now on (set only now: the credit timer, which runs on the clock, would otherwise race the
    // withdrawal above for the accrued balance when the machine is slow).
    okOf(await admin.set_credit_config({ dispute_window_seconds: [], auto_payout_threshold_e8s: [1n], min_reserve_e8s: [] }));
    await processTasks(t);
    expect((await payoutsOf(t, 'pending')).length).toBeGreaterThanOrEqual(1);

    // The runner restarts (its receipts on disk) and serves on; the payer stops settling, so it settles alone.
    await server.close();
    server = await meteredRunner(runner, receiptsFile);
    for (let i = 0; i < 2; i++) expect((await client.send(target(), CHAT)).ok).toBe(true);
    // A request carries the receipt of earlier ones once the payer's books hold it: at the latest when
    // RECEIPT_WAIT_COVERS charges wait for it (src/sdk/paid/payer.ts), so these carry one past the batch.
    for (let i = 0; i < RECEIPT_WAIT_COVERS; i++) expect((await client.send(target(), CHAT)).ok).toBe(true);
    await server.settler.tick();
    const alone = (await payerCredit.findCreditLine(payerId, runnerId))!;
    expect(alone.settledE8s).toBeGreaterThan(owedAfterBatch);
    // The payer's batch after it moves only what the runner's did not: the whole owed once, nothing twice.
    await client.flush();
    const settled = (await payerCredit.findCreditLine(payerId, runnerId))!;
    expect(settled.settledE8s).toBe(client.lineOf(runnerId)!.owedE8s);
    const owed = settled.settledE8s;
    // The accrued balance above the threshold is queued for the automatic payout, which cannot run yet.
    await processTasks(t);
    expect((await admin.get_credit_account(runner.getPrincipal()))[0]!.accrued_e8s).toBe(0n);
    // The runner's payouts wait in the outbox, typed and listed: the withdrawal, then the automatic one(s) (the
    // credit timer may have run between the runner's settlement and the payer's batch), together what it earned.
    const runnerPayouts = (await payoutsOf(t)).filter((p) => p.id.startsWith(`credit/${runnerId}/`));
    expect(runnerPayouts.every((p) => p.state === 'pending')).toBe(true);
    expect(runnerPayouts[0]!.amount_e8s).toBe(owedAfterBatch);
    expect(runnerPayouts.reduce((sum, p) => sum + p.amount_e8s, 0n)).toBe(owed);

    // The ledger runs again: the lost deposit is credited once, every payout is paid once.
    await setCanisterRunning(net, t.ledger, true);
    for (
      let i = 0;
      i < 6 &&
      ((await payoutsOf(t)).length > 0 || [...(await admin.get_credit_account(payer.getPrincipal()))[0]!.pending_deposits].length > 0);
      i++
    ) {
      await net.advanceTime(121_000);
      await processTasks(t);
    }
    expect(await payoutsOf(t)).toEqual([]);
    const after = (await admin.get_credit_account(payer.getPrincipal()))[0]!;
    expect([...after.pending_deposits]).toEqual([]);
    expect([...after.unknown_deposits]).toEqual([]);
    // The retried call with the same created_at_time is the same deposit: credited once.
    expect((await payerCredit.depositCredit(5_000_000n, createdAt)).freeE8s).toBe(after.free_e8s);
    const fees = settled.feesE8s ?? 0n;
    expect(after.free_e8s + after.reserved_e8s).toBe(45_000_000n - owed - fees);
    expect(await t.balance(runner)).toBe(owed - BigInt(runnerPayouts.length) * FEE);
    // Nothing lost, nothing made: what left the four holders is exactly the fees the ledger burned, one per block.
    const burned = supplyBefore - (await token.icrc1_total_supply());
    expect(burned).toBe(FEE * ((await blocks()) - blocksBefore));
    expect(holdersBefore - (await holders())).toBe(burned);
    // And the credit subaccount holds the payer's credit and at most the treasury's fees not yet paid out.
    const left = (await token.icrc1_balance_of(account(t.registry, CREDIT_SUBACCOUNT))) - (after.free_e8s + after.reserved_e8s);
    expect(left).toBeGreaterThanOrEqual(0n);
    expect(left).toBeLessThanOrEqual(fees);
  });

  it('deai gateway --unpaid serves an OpenAI request from a runner’s engine without signing or paying', async () => {
    const card = await freshModel(t, 'unpaid-gateway');
    await runnerAt(t, card, engine.url, 100);
    const cwd = mkdtempSync(join(tmpdir(), 'deai-unpaid-'));
    const key = await deaiJson<{ key: string }>(cwd, ['gateway', 'keys', 'create', '--name', 'dev']);
    const gateway = await spawnGateway(cwd, ['--unpaid', '--port', '0', '--host', net.url, '--registry', t.registry.toText()]);
    try {
      const before = engine.requests;
      const response = await fetch(`${gateway.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: String(card.id), messages: [{ role: 'user', content: 'hello there' }], max_tokens: 8 })
      });
      expect(response.status).toBe(200);
      const body = (await response.json()) as { choices: Array<{ message: { content: string } }>; usage: { total_tokens: number } };
      expect(body.choices[0]!.message.content.length).toBeGreaterThan(0);
      expect(body.usage.total_tokens).toBeGreaterThan(0);
      expect(engine.requests).toBe(before + 1);
      expect(JSON.stringify(engine.lastBody)).not.toMatch(/deai/);
      // The gateway says it does not pay (and no payer books were written).
      const models = (await (await fetch(`${gateway.baseURL}/models`, { headers: { authorization: `Bearer ${key.key}` } })).json()) as {
        data: Array<{ id: string }>;
      };
      expect(models.data.map((m) => m.id)).toContain(String(card.id));
    } finally {
      expect(await gateway.stop()).toBe(0);
    }
    const { existsSync } = await import('node:fs');
    expect(existsSync(join(cwd, '.deai', 'gateway-payer.json'))).toBe(false);
  });
});
