import type { ActorSubclass } from '@dfinity/agent';
import { Ed25519KeyIdentity } from '@dfinity/identity';
import { Principal } from '@dfinity/principal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { receiptSigningBytes, type Receipt } from '../../src/core/credit/index.ts';
import type { RegistryService, SignedReceiptArgs, UsageSettlement } from '../../src/interface/registry/index.ts';
import { IcCredit } from '../../src/ic/credit.ts';
import { Localnet } from '../../src/localnet/localnet.ts';
import { account } from '../support/ledger.ts';
import { errOf, okOf } from '../support/registry.ts';
import { FEE, payoutsOf, processTasks, setCanisterRunning, taskNetwork, type TaskNetwork } from '../support/tasks.ts';

const CREDIT_SUBACCOUNT = Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 3 : 0));
/** The default protocol fee, 5 % of what moves to the runner, rounded up. */
const feeOn = (moved: bigint): bigint => (moved * 500n + 9_999n) / 10_000n;

const usage = (line: bigint, seq: bigint, owed: bigint, requests = seq): UsageSettlement => ({
  line_id: line,
  seq,
  owed_e8s: owed,
  input_tokens: 100n * seq,
  output_tokens: 50n * seq,
  requests
});

async function signedReceipt(payer: Ed25519KeyIdentity, runner: Principal, u: UsageSettlement): Promise<SignedReceiptArgs> {
  const receipt: Receipt = {
    lineId: u.line_id,
    payer: payer.getPrincipal().toText(),
    runner: runner.toText(),
    seq: u.seq,
    owedE8s: u.owed_e8s,
    inputTokens: u.input_tokens,
    outputTokens: u.output_tokens,
    requests: u.requests
  };
  return {
    receipt: { ...u, payer: payer.getPrincipal(), runner },
    public_key: new Uint8Array(payer.getPublicKey().toDer()),
    signature: new Uint8Array(await payer.sign(receiptSigningBytes(receipt)))
  };
}

describe('credit: deposits, lines and batched settlement on the built registry (issue 17)', () => {
  let net: Localnet;
  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
  });
  afterAll(async () => {
    await net.stop();
  });

  /** A payer funded with `balance` that approved the registry for `allowance`, and its registry actor. */
  async function payer(t: TaskNetwork, balance = 50_000_000n, allowance = 40_000_000n) {
    const identity = await t.requester(balance, allowance);
    return { identity, actor: await t.tasks(identity) };
  }
  const creditBalance = async (t: TaskNetwork) => (await t.token(t.admin)).icrc1_balance_of(account(t.registry, CREDIT_SUBACCOUNT));
  const deposit = (actor: ActorSubclass<RegistryService>, amount: bigint, createdAt?: bigint) =>
    actor.deposit_credit({ amount_e8s: amount, created_at_time: createdAt === undefined ? [] : [createdAt] });
  const accountOf = async (t: TaskNetwork, who: Principal) => (await (await t.tasks(t.admin)).get_credit_account(who))[0];

  it('deposits, reserves, settles batches exactly once and pays out, with the balances on the ledger', async () => {
    const t = await taskNetwork(net);
    const runner = await t.runner();
    const { identity, actor } = await payer(t);
    const p = identity.getPrincipal();
    const r = runner.getPrincipal();
    const acc = okOf(await deposit(actor, 10_000_000n));
    expect(acc).toMatchObject({ free_e8s: 10_000_000n, reserved_e8s: 0n });
    expect([...acc.pending_deposits]).toEqual([]);
    // The approval and the transfer_from each cost the payer the ledger fee.
    expect(await t.balance(identity)).toBe(50_000_000n - 10_000_000n - 2n * FEE);
    expect(await creditBalance(t)).toBe(10_000_000n);
    const line = okOf(await actor.reserve_credit(r, 4_000_000n));
    expect(line).toMatchObject({ id: 1n, state: 'open', reserved_e8s: 4_000_000n, settled_e8s: 0n });
    expect(okOf(await actor.reserve_credit(r, 1_000_000n)).reserved_e8s).toBe(5_000_000n);
    expect((await actor.find_credit_line(p, r))[0]?.id).toBe(1n);
    // One batch; the same batch replayed; an older receipt after a newer one: the runner is paid once.
    const first = okOf(await actor.settle_usage([usage(1n, 3n, 1_000_000n)]));
    expect(first).toEqual([{ Ok: expect.objectContaining({ moved_e8s: 1_000_000n, fee_e8s: feeOn(1_000_000n) }) }]);
    const replay = okOf(await actor.settle_usage([usage(1n, 3n, 1_000_000n), usage(1n, 2n, 600_000n)]));
    expect(replay.map((o) => okOf(o).moved_e8s)).toEqual([0n, 0n]);
    okOf(await actor.settle_usage([usage(1n, 5n, 1_500_000n)]));
    expect(await accountOf(t, r)).toMatchObject({ accrued_e8s: 1_500_000n, lines_as_runner: 1 });
    const fees = feeOn(1_000_000n) + feeOn(500_000n);
    expect(await accountOf(t, p)).toMatchObject({ free_e8s: 5_000_000n, reserved_e8s: 5_000_000n - 1_500_000n - fees });
    expect((await actor.get_credit_line(1n))[0]).toMatchObject({ settled_e8s: 1_500_000n, fees_e8s: fees, settled_seq: 5n, requests: 5n });
    expect((await (await t.tasks(t.admin)).get_reputation(r))[0]?.completed).toBe(5);
    // Withdrawals: one ledger transfer each, through the payout outbox.
    const w = okOf(await (await t.tasks(runner)).withdraw_accrued());
    expect(w).toMatchObject({ amount_e8s: 1_500_000n, account: { accrued_e8s: 0n } });
    const back = okOf(await actor.withdraw_credit(2_000_000n));
    await processTasks(t);
    expect(await payoutsOf(t)).toEqual([]);
    expect(await t.balance(runner)).toBe(1_500_000n - FEE);
    expect(await t.balance(identity)).toBe(50_000_000n - 10_000_000n - 2n * FEE + back.amount_e8s - FEE);
    // The credit subaccount holds exactly what the accounts say: free + reserved + accrued (the treasury's fees too).
    const payerNow = (await accountOf(t, p))!;
    expect(await creditBalance(t)).toBe(payerNow.free_e8s + payerNow.reserved_e8s + fees);
    const pages = okOf(await actor.list_credit_lines({ payer: [p], runner: [] }, { after: [], limit: [10] }));
    expect(pages.items.map((l) => l.id)).toEqual([1n]);
    expect(okOf(await actor.list_credit_lines({ payer: [], runner: [r] }, { after: [], limit: [10] })).items).toHaveLength(1);
  });

  it('the src/ic client (PayerCreditApi, RunnerCreditApi) approves, deposits once per created_at_time, reserves and settles', async () => {
    const t = await taskNetwork(net);
    const runner = await t.runner();
    const identity = Ed25519KeyIdentity.generate();
    await t.fund(identity, 20_000_000n);
    const options = { registryId: t.registry, principal: identity.getPrincipal(), ledger: await t.token(identity) };
    const payerApi = new IcCredit(await t.tasks(identity), options);
    const at = net.engine.now();
    expect(await payerApi.depositCredit(5_000_000n, at)).toMatchObject({ freeE8s: 5_000_000n });
    // The same call repeated (a lost reply): the same transfer, credited once.
    expect(await payerApi.depositCredit(5_000_000n, at)).toMatchObject({ freeE8s: 5_000_000n });
    const line = await payerApi.reserveCredit(runner.getPrincipal().toText(), 1_000_000n);
    expect(await payerApi.findCreditLine(identity.getPrincipal().toText(), runner.getPrincipal().toText())).toMatchObject({ id: line.id });
    const [outcome, bad] = await payerApi.settleUsage([
      { lineId: line.id, seq: 1n, owedE8s: 10_000n, inputTokens: 1n, outputTokens: 1n, requests: 1n },
      { lineId: 77n, seq: 1n, owedE8s: 1n, inputTokens: 1n, outputTokens: 1n, requests: 1n }
    ]);
    expect(outcome).toMatchObject({ ok: true, movedE8s: 10_000n, line: { settledE8s: 10_000n, feesE8s: feeOn(10_000n) } });
    expect(bad).toMatchObject({ ok: false, lineId: 77n, error: expect.stringMatching(/^NotFound/) as unknown });
    const runnerApi = new IcCredit(await t.tasks(runner), { registryId: t.registry, principal: runner.getPrincipal() });
    const u = usage(line.id, 2n, 30_000n);
    const signed = await signedReceipt(identity, runner.getPrincipal(), u);
    const receipt = {
      lineId: u.line_id,
      payer: identity.getPrincipal().toText(),
      runner: runner.getPrincipal().toText(),
      seq: u.seq,
      owedE8s: u.owed_e8s,
      inputTokens: u.input_tokens,
      outputTokens: u.output_tokens,
      requests: u.requests
    };
    expect(
      await runnerApi.settleReceipt({
        receipt,
        publicKey: Uint8Array.from(signed.public_key),
        signature: Uint8Array.from(signed.signature)
      })
    ).toMatchObject({ settledE8s: 30_000n });
    await expect(
      runnerApi.settleReceipt({
        receipt: { ...receipt, owedE8s: 40_000n },
        publicKey: Uint8Array.from(signed.public_key),
        signature: Uint8Array.from(signed.signature)
      })
    ).rejects.toMatchObject({ code: 'InvalidReceipt' });
    // One transfer of 5,000,000 (and its fee); each call approved again (a fee each), nothing moved twice.
    expect(await t.balance(identity)).toBe(20_000_000n - 5_000_000n - 3n * FEE);
  });

  it('answers every bad input and refusal with its typed error', async () => {
    const t = await taskNetwork(net);
    const runner = await t.runner();
    const r = runner.getPrincipal();
    const { identity, actor } = await payer(t);
    const stranger = await payer(t);
    expect(errOf(await deposit(actor, 0n))).toMatchObject({ InvalidArgument: { field: 'amount_e8s' } });
    expect(errOf(await deposit(actor, 1n, 1n))).toMatchObject({ InvalidArgument: { field: 'created_at_time' } });
    expect(errOf(await deposit(actor, 100_000_000n))).toMatchObject({ LedgerError: { operation: 'icrc2_transfer_from' } });
    expect(errOf(await actor.reserve_credit(r, 1n))).toEqual({ InsufficientCredit: { available_e8s: 0n, needed_e8s: 1n } });
    okOf(await deposit(actor, 1_000_000n));
    expect(errOf(await actor.reserve_credit(Ed25519KeyIdentity.generate().getPrincipal(), 1n))).toMatchObject({
      NotFound: { kind: { Runner: null } }
    });
    expect(errOf(await actor.reserve_credit(identity.getPrincipal(), 1n))).toMatchObject({ InvalidArgument: { field: 'runner' } });
    okOf(await actor.reserve_credit(r, 500_000n));
    expect(okOf(await stranger.actor.settle_usage([usage(1n, 1n, 1n)]))[0]).toMatchObject({ Err: { Unauthorized: {} } });
    okOf(await actor.settle_usage([usage(1n, 2n, 100n)]));
    const batch = okOf(await actor.settle_usage([usage(1n, 3n, 99n), usage(9n, 1n, 1n), usage(1n, 0n, 1n)]));
    expect(batch).toEqual([
      { Err: { OwedBelowSettled: { line: 1n, owed_e8s: 99n, settled_e8s: 100n } } },
      { Err: { NotFound: { kind: { CreditLine: null }, id: '9' } } },
      { Err: { InvalidArgument: { field: 'seq', reason: expect.any(String) as unknown } } }
    ]);
    expect(errOf(await actor.settle_usage(Array.from({ length: 257 }, () => usage(1n, 1n, 1n))))).toMatchObject({
      LimitExceeded: {}
    });
    const good = await signedReceipt(identity, r, usage(1n, 4n, 200n));
    expect(errOf(await actor.settle_receipt(good))).toMatchObject({ Unauthorized: {} });
    const asRunner = await t.tasks(runner);
    const forged = { ...good, receipt: { ...good.receipt, owed_e8s: 300n } };
    expect(errOf(await asRunner.settle_receipt(forged))).toEqual({ InvalidReceipt: { reason: 'BadSignature' } });
    // A failed verification cools the line down: nothing is verified on it for a minute (review finding 4).
    expect(errOf(await asRunner.settle_receipt(good))).toMatchObject({ ReceiptCooldown: { line: 1n } });
    await net.advanceTime(60_000);
    const byStranger = await signedReceipt(stranger.identity, r, usage(1n, 4n, 200n));
    expect(errOf(await asRunner.settle_receipt({ ...byStranger, receipt: good.receipt }))).toEqual({
      InvalidReceipt: { reason: 'KeyNotPayer' }
    });
    expect(errOf(await asRunner.withdraw_accrued())).toMatchObject({ InsufficientCredit: {} });
    expect(errOf(await actor.withdraw_credit(10n))).toMatchObject({ InvalidArgument: { field: 'amount_e8s' } });
    expect(errOf(await actor.withdraw_credit(600_000n))).toMatchObject({ InsufficientCredit: {} });
    expect(errOf(await asRunner.close_credit_line(1n))).toMatchObject({ Unauthorized: {} });
    expect(errOf(await actor.finalize_credit_line(1n))).toMatchObject({ CreditLineNotOpen: { line: 1n, state: 'open' } });
    expect(errOf(await actor.list_credit_lines({ payer: [], runner: [] }, { after: [], limit: [] }))).toMatchObject({
      InvalidArgument: {}
    });
    expect(
      errOf(await actor.set_credit_config({ dispute_window_seconds: [1n], auto_payout_threshold_e8s: [], min_reserve_e8s: [] }))
    ).toMatchObject({
      Unauthorized: {}
    });
    // The anonymous principal is refused before any method runs (inspect_message), and typed inside each.
    const anonymous = await t.tasks(new (await import('@dfinity/agent')).AnonymousIdentity());
    await expect(anonymous.settle_usage([])).rejects.toThrow();
  });

  it("a payer that stops settling: the runner settles alone with the latest receipt, never beyond the reserve; a payer's low total cannot void it", async () => {
    const t = await taskNetwork(net);
    const runner = await t.runner();
    const r = runner.getPrincipal();
    const { identity, actor } = await payer(t);
    okOf(await deposit(actor, 5_000_000n));
    okOf(await actor.reserve_credit(r, 1_050_000n));
    const latest = await signedReceipt(identity, r, usage(1n, 40n, 3_000_000n));
    // The payer races the runner with a huge sequence number and a tiny total.
    okOf(await actor.settle_usage([usage(1n, 1_000_000n, 1n)]));
    const asRunner = await t.tasks(runner);
    const settled = okOf(await asRunner.settle_receipt(latest));
    // What the line held after the payer's 1 e8s (and its fee) went to the runner and the fee on it, no more.
    expect(settled.line.settled_e8s + settled.line.fees_e8s).toBe(1_050_000n);
    expect(settled.line.settled_e8s).toBe(999_999n);
    expect(settled.line.available_e8s).toBe(0n);
    expect(okOf(await asRunner.settle_receipt(latest)).moved_e8s).toBe(0n);
    expect(await accountOf(t, r)).toMatchObject({ accrued_e8s: 999_999n });
    expect(await accountOf(t, identity.getPrincipal())).toMatchObject({ free_e8s: 3_950_000n, reserved_e8s: 0n });
  });

  it('requests count in reputation only as far as what they moved paid (a million claimed on 1 e8s count for nothing)', async () => {
    // Attack (review finding 7): settle_usage's `requests` inflated `completed` with no money moving.
    const t = await taskNetwork(net);
    const runner = await t.runner();
    const r = runner.getPrincipal();
    const { actor } = await payer(t);
    okOf(await deposit(actor, 5_000_000n));
    okOf(await actor.reserve_credit(r, 1_000_000n));
    const claims = Array.from({ length: 8 }, (_, i) => usage(1n, BigInt(i + 1), 1n, 1_000_000n * BigInt(i + 1)));
    expect(okOf(await actor.settle_usage(claims)).every((o) => 'Ok' in o)).toBe(true);
    const completed = async () => (await (await t.tasks(t.admin)).get_reputation(r))[0]?.completed ?? 0;
    expect(await completed()).toBe(0);
    okOf(await actor.settle_usage([usage(1n, 9n, 1n + 20_000n, 9_000_002n)]));
    expect(await completed()).toBe(2);
  });

  it('closes with a dispute window: the runner settles within it, then the rest returns to the payer', async () => {
    const t = await taskNetwork(net);
    const admin = await t.tasks(t.admin);
    okOf(await admin.set_credit_config({ dispute_window_seconds: [600n], auto_payout_threshold_e8s: [], min_reserve_e8s: [] }));
    expect(
      errOf(await admin.set_credit_config({ dispute_window_seconds: [], auto_payout_threshold_e8s: [], min_reserve_e8s: [0n] }))
    ).toMatchObject({
      InvalidArgument: { field: 'min_reserve_e8s' }
    });
    expect(await admin.get_credit_config()).toMatchObject({ dispute_window_seconds: 600n, min_reserve_e8s: 100_000n });
    const runner = await t.runner();
    const r = runner.getPrincipal();
    const { identity, actor } = await payer(t);
    okOf(await deposit(actor, 2_000_000n));
    okOf(await actor.reserve_credit(r, 1_000_000n));
    const closing = okOf(await actor.close_credit_line(1n));
    expect(closing.state).toBe('closing');
    expect(errOf(await actor.reserve_credit(r, 1n))).toEqual({ CreditLineNotOpen: { line: 1n, state: 'closing' } });
    expect(errOf(await actor.finalize_credit_line(1n))).toMatchObject({ DisputeWindowOpen: { line: 1n } });
    await net.advanceTime(300_000);
    const asRunner = await t.tasks(runner);
    expect(okOf(await asRunner.settle_receipt(await signedReceipt(identity, r, usage(1n, 2n, 200_000n)))).moved_e8s).toBe(200_000n);
    await net.advanceTime(301_000);
    const late = await signedReceipt(identity, r, usage(1n, 3n, 400_000n));
    // The window has ended: refused, and the timer finalizes the line (process_tasks runs the same pass).
    expect(errOf(await asRunner.settle_receipt(late))).toMatchObject({ CreditLineNotOpen: { line: 1n } });
    await processTasks(t);
    expect((await actor.get_credit_line(1n))[0]?.state).toBe('closed');
    expect(await accountOf(t, identity.getPrincipal())).toMatchObject({
      free_e8s: 2_000_000n - 200_000n - feeOn(200_000n),
      reserved_e8s: 0n
    });
    expect(await actor.find_credit_line(identity.getPrincipal(), r)).toEqual([]);
    // A new line needs the minimum reserve (typed refusal); a top-up of an open one may be smaller.
    expect(errOf(await actor.reserve_credit(r, 10n))).toEqual({ ReserveBelowMinimum: { minimum_e8s: 100_000n, amount_e8s: 10n } });
    expect(okOf(await actor.reserve_credit(r, 100_000n)).id).toBe(2n);
    expect(okOf(await actor.reserve_credit(r, 10n)).reserved_e8s).toBe(100_010n);
  });

  it('exactly once through a stopped ledger: a deposit whose call failed, and a withdrawal, each move once', async () => {
    const t = await taskNetwork(net);
    const runner = await t.runner();
    const { identity, actor } = await payer(t);
    const createdAt = net.engine.now();
    await setCanisterRunning(net, t.ledger, false);
    expect(errOf(await deposit(actor, 3_000_000n, createdAt))).toMatchObject({ LedgerError: {} });
    expect([...(await accountOf(t, identity.getPrincipal()))!.pending_deposits]).toEqual([createdAt]);
    // The client retries the same deposit: refused while it is pending, never sent twice at once.
    expect(errOf(await deposit(actor, 3_000_000n, createdAt))).toMatchObject({ AlreadyExists: {} });
    await setCanisterRunning(net, t.ledger, true);
    await net.advanceTime(121_000);
    await processTasks(t);
    expect(await accountOf(t, identity.getPrincipal())).toMatchObject({ free_e8s: 3_000_000n });
    expect([...(await accountOf(t, identity.getPrincipal()))!.pending_deposits]).toEqual([]);
    expect(okOf(await deposit(actor, 3_000_000n, createdAt)).free_e8s).toBe(3_000_000n);
    expect(await t.balance(identity)).toBe(50_000_000n - 3_000_000n - 2n * FEE);
    // A withdrawal recorded while the ledger is stopped is paid once it runs again.
    okOf(await actor.reserve_credit(runner.getPrincipal(), 1_000_000n));
    okOf(await actor.settle_usage([usage(1n, 1n, 500_000n)]));
    await setCanisterRunning(net, t.ledger, false);
    okOf(await (await t.tasks(runner)).withdraw_accrued());
    await processTasks(t);
    expect(await payoutsOf(t, 'pending')).toHaveLength(1);
    await setCanisterRunning(net, t.ledger, true);
    for (let i = 0; i < 5 && (await payoutsOf(t)).length > 0; i++) {
      await net.advanceTime(120_000);
      await processTasks(t);
    }
    expect(await payoutsOf(t)).toEqual([]);
    expect(await t.balance(runner)).toBe(500_000n - FEE);
  });
});
