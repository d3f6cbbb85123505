import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import type { Identity } from '@dfinity/agent';
import { Ed25519KeyIdentity } from '@dfinity/identity';
import type { Principal } from '@dfinity/principal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ed25519Pem } from '../../src/ic/identity.ts';
import { approveBond } from '../../src/runner/bond.ts';
import { Localnet } from '../../src/localnet/localnet.ts';
import { account, approveArgs } from '../support/ledger.ts';
import { deployment, runnerManifest } from '../support/manifests.ts';
import { errOf, okOf } from '../support/registry.ts';
import { bondConfigArgs, endReview, FEE, payoutsOf, processTasks, resultArgs, taskNetwork, type TaskNetwork } from '../support/tasks.ts';

/**
 * Sybil resistance (issue 16) on the built Wasm through the agent: a runner bond locked at registration through
 * ICRC-2, returned after deregistration and a cooldown, slashed to the treasury for a lost vote and for expired
 * leases; operators accept being named before they are paid; a redundant task is leased once per operator and its
 * vote weighs track record and bond, so new identities agreeing on garbage neither win nor get paid.
 */
const BOND = 10_000_000n;
/** Default slash: 10 % of the bond as locked. */
const SLASH = BOND / 10n;
const FUNDS = 20_000_000n;
const ALLOWANCE = 15_000_000n;
const DETERMINISTIC = { max_output_tokens: 64, temperature: [0] as [number], seed: [42n] as [bigint] };
const text = (identity: Identity): string => identity.getPrincipal().toText();
const exec = promisify(execFile);
const deai = join(import.meta.dirname, '..', '..', 'bin', 'deai.mjs');

describe('runner bonds, operator acceptance and distinct-operator votes', () => {
  let net: Localnet;
  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
  });
  afterAll(async () => {
    await net.stop();
  });

  async function bondBalance(t: TaskNetwork, runner: Principal): Promise<bigint> {
    const bond = (await (await t.tasks(t.admin)).get_bond(runner))[0];
    if (bond === undefined) throw new Error(`no bond for ${runner.toText()}`);
    const sub = bond.account.subaccount[0];
    return (await t.token(t.admin)).icrc1_balance_of(account(bond.account.owner, sub === undefined ? undefined : Uint8Array.from(sub)));
  }

  const manifest = (t: TaskNetwork, operator: string): string => JSON.stringify(runnerManifest(operator, [deployment(t.card)]));

  it('refuses registration without the bond (no allowance, no funds), and locks it in the runner’s bond subaccount', async () => {
    const t = await taskNetwork(net, { bondE8s: BOND });
    expect((await (await t.tasks(t.admin)).get_bond_config()).amount_e8s).toBe(BOND);

    // Funded, but no allowance: BondRequired, and neither a runner nor a bond is left behind.
    const poor = Ed25519KeyIdentity.generate();
    await t.fund(poor, FUNDS);
    const asPoor = await t.tasks(poor);
    const refused = errOf(await asPoor.register_runner(manifest(t, text(poor))));
    expect(refused).toMatchObject({
      BondRequired: { amount_e8s: BOND, reason: expect.stringMatching(/InsufficientAllowance/) as unknown }
    });
    expect(await asPoor.get_runner(poor.getPrincipal())).toEqual([]);
    expect(await asPoor.get_bond(poor.getPrincipal())).toEqual([]);
    // The ledger is asked before the manifest is read: a 30 KB manifest of an unfunded caller is not even decoded
    // (~400 instructions a byte, and its checks: 54M for 60 KB before; now the two ledger questions, under 15M).
    let spent = 0n;
    let measuring = true;
    net.onExecution((e) => {
      if (measuring && e.canisterId === t.registry.toText()) spent += e.instructions;
    });
    expect(errOf(await asPoor.register_runner(JSON.stringify({ a: 'y'.repeat(30_000) })))).toHaveProperty('BondRequired');
    measuring = false;
    expect(spent).toBeLessThan(15_000_000n);

    // An allowance without the funds behind it: refused too.
    const broke = Ed25519KeyIdentity.generate();
    await t.fund(broke, 2n * FEE);
    okOf(await (await t.token(broke)).icrc2_approve(approveArgs(account(t.registry), BOND + FEE)));
    expect(errOf(await (await t.tasks(broke)).register_runner(manifest(t, text(broke))))).toMatchObject({
      BondRequired: { amount_e8s: BOND, reason: expect.stringMatching(/InsufficientFunds/) as unknown }
    });

    // With the allowance the bond moves into the runner's own subaccount of the registry.
    okOf(await (await t.token(poor)).icrc2_approve(approveArgs(account(t.registry), BOND + FEE)));
    const view = okOf(await asPoor.register_runner(manifest(t, text(poor))));
    expect(view).toMatchObject({ bond_e8s: [BOND], bond_state: ['locked'], operator_accepted: [true] });
    expect(await bondBalance(t, poor.getPrincipal())).toBe(BOND);
    expect(await t.balance(poor)).toBe(FUNDS - FEE - BOND - FEE);
    expect((await asPoor.get_bond(poor.getPrincipal()))[0]).toMatchObject({ state: 'locked', amount_e8s: BOND, slashes: 0 });
    expect(errOf(await asPoor.register_runner(manifest(t, text(poor))))).toHaveProperty('AlreadyExists');
  }, 120_000);

  it('returns the bond after deregistration and the cooldown, through the payout outbox', async () => {
    // A 60 s cooldown must cover a lease and its review window.
    const t = await taskNetwork(net, { bondE8s: BOND, leaseSeconds: 5n, reviewWindowSeconds: 55n });
    const admin = await t.tasks(t.admin);
    okOf(await admin.set_bond_config(bondConfigArgs({ cooldown_seconds: [60n] })));
    const runner = await t.runner(2, { bond: BOND });
    const asRunner = await t.tasks(runner);
    const before = await t.balance(runner);
    okOf(await asRunner.deregister_runner(runner.getPrincipal()));
    const unbonding = (await asRunner.get_bond(runner.getPrincipal()))[0];
    expect(unbonding).toMatchObject({ state: 'unbonding', amount_e8s: BOND });
    expect(unbonding?.release_at_ns[0]).toBeGreaterThan(net.engine.now());

    // Not before the cooldown ends.
    await processTasks(t);
    expect(await t.balance(runner)).toBe(before);
    await net.advanceTime(61_000);
    await processTasks(t);
    expect(await t.balance(runner)).toBe(before + BOND - FEE);
    expect(await asRunner.get_bond(runner.getPrincipal())).toEqual([]);
    expect(await payoutsOf(t)).toEqual([]);
  }, 120_000);

  it('slashes the bond of a result that loses the vote, and of a runner whose leases expire beyond the threshold', async () => {
    const t = await taskNetwork(net, { bondE8s: BOND, leaseSeconds: 5n });
    const admin = await t.tasks(t.admin);
    const requester = await t.requester(FUNDS, ALLOWANCE);
    const asRequester = await t.tasks(requester);
    const [a, b, c] = [await t.runner(2, { bond: BOND }), await t.runner(2, { bond: BOND }), await t.runner(2, { bond: BOND })];
    const task = okOf(await asRequester.submit_task(t.submitArgs('vote', { limits: DETERMINISTIC, redundancy: [3] })));
    for (const r of [a, b, c]) okOf(await (await t.tasks(r)).claim_task([task.id]));
    okOf(await (await t.tasks(a)).complete_task(task.id, resultArgs('Paris')));
    okOf(await (await t.tasks(b)).complete_task(task.id, resultArgs('Paris')));
    okOf(await (await t.tasks(c)).complete_task(task.id, resultArgs('Lyon')));
    expect(okOf(await asRequester.accept_task(task.id)).paid_runners.map((p) => p.toText())).toEqual([text(a), text(b)]);
    const treasuryBefore = await t.balance(t.treasury);
    await processTasks(t);
    expect((await admin.get_bond(c.getPrincipal()))[0]).toMatchObject({ amount_e8s: BOND - SLASH, slashes: 1 });
    expect(await bondBalance(t, c.getPrincipal())).toBe(BOND - SLASH);
    for (const r of [a, b]) expect(await bondBalance(t, r.getPrincipal())).toBe(BOND);
    // The treasury gets the slash (less the ledger fee) besides the task's protocol fee.
    // The fee's floor (min_protocol_fee_e8s): 5 % of the task's metered cost is less.
    const protocolFee = 20_000n;
    expect(await t.balance(t.treasury)).toBe(treasuryBefore + SLASH - FEE + protocolFee - FEE);
    expect((await admin.get_runner(c.getPrincipal()))[0]).toMatchObject({ bond_e8s: [BOND - SLASH], bond_state: ['locked'] });

    // Expired leases: with a threshold of 2, the second expiry slashes.
    okOf(await admin.set_bond_config(bondConfigArgs({ expired_lease_threshold: [2] })));
    for (const key of ['late-1', 'late-2']) {
      const late = okOf(await asRequester.submit_task(t.submitArgs(key)));
      okOf(await (await t.tasks(a)).claim_task([late.id]));
      await net.advanceTime(6_000);
      await processTasks(t);
    }
    expect((await admin.get_bond(a.getPrincipal()))[0]).toMatchObject({ amount_e8s: BOND - SLASH, slashes: 1 });
    expect(await bondBalance(t, a.getPrincipal())).toBe(BOND - SLASH);
  }, 180_000);

  it('leases a redundant task once per operator; each operator must accept before it is paid', async () => {
    const t = await taskNetwork(net);
    const requester = await t.requester(FUNDS, ALLOWANCE);
    const asRequester = await t.tasks(requester);
    const operator = Ed25519KeyIdentity.generate();
    const asOperator = await t.tasks(operator);
    const [s1, s2] = [await t.runner(2, { operator: operator.getPrincipal() }), await t.runner(2, { operator: operator.getPrincipal() })];
    expect((await asOperator.get_runner(s1.getPrincipal()))[0]?.operator_accepted).toEqual([false]);

    // Only the named operator may accept.
    expect(errOf(await (await t.tasks(s2)).accept_operator(s1.getPrincipal()))).toHaveProperty('Unauthorized');
    expect(errOf(await asOperator.accept_operator(requester.getPrincipal()))).toMatchObject({ NotFound: { kind: { Runner: null } } });

    // Not accepted yet: s1's pay goes to s1 itself, not to the principal it named.
    const single = okOf(await asRequester.submit_task(t.submitArgs('unaccepted')));
    okOf(await (await t.tasks(s1)).claim_task([single.id]));
    okOf(await (await t.tasks(s1)).complete_task(single.id, resultArgs('Hi')));
    okOf(await asRequester.accept_task(single.id));
    await processTasks(t);
    // Its metered cost (12 + 34 tokens at 1,000 / 3,000 per million); the escrow covered the ledger fee.
    const runnerNet = 1n;
    expect(await t.balance(s1)).toBe(runnerNet);
    expect(await t.balance(operator)).toBe(0n);

    // Accepted: the operator is paid from now on, and its two runners are one operator for a redundant task.
    for (const s of [s1, s2]) expect(okOf(await asOperator.accept_operator(s.getPrincipal())).operator_accepted).toEqual([true]);
    const pair = okOf(await asRequester.submit_task(t.submitArgs('sybil-pair', { limits: DETERMINISTIC, redundancy: [2] })));
    okOf(await (await t.tasks(s1)).claim_task([pair.id]));
    expect(errOf(await (await t.tasks(s2)).claim_task([pair.id]))).toMatchObject({ TaskNotClaimable: { task: pair.id } });
    expect(errOf(await (await t.tasks(s2)).claim_task([]))).toMatchObject({ NotFound: { kind: { ClaimableTask: null } } });
    expect((await (await t.tasks(s2)).list_claimable()).map((c) => c.id)).not.toContain(pair.id);
    // A runner of another operator takes the second place.
    const other = await t.runner();
    okOf(await (await t.tasks(other)).claim_task([pair.id]));
    okOf(await (await t.tasks(s1)).complete_task(pair.id, resultArgs('Hi')));
    okOf(await (await t.tasks(other)).complete_task(pair.id, resultArgs('Hi')));
    okOf(await asRequester.accept_task(pair.id));
    await processTasks(t);
    expect(await t.balance(operator)).toBeGreaterThan(0n);
    expect(await t.balance(s1)).toBe(runnerNet);
  }, 180_000);

  it('a runner that leaves still counts for its operator, and a runner gone or suspended since its lease cannot report (issue 16)', async () => {
    const t = await taskNetwork(net);
    const asRequester = await t.tasks(await t.requester(FUNDS, ALLOWANCE));
    const asAdmin = await t.tasks(t.admin);
    const operator = Ed25519KeyIdentity.generate();
    const [s1, s2] = [await t.runner(2, { operator: operator.getPrincipal() }), await t.runner(2, { operator: operator.getPrincipal() })];
    for (const s of [s1, s2]) okOf(await (await t.tasks(operator)).accept_operator(s.getPrincipal()));
    const pair = okOf(await asRequester.submit_task(t.submitArgs('leaver', { limits: DETERMINISTIC, redundancy: [2] })));
    okOf(await (await t.tasks(s1)).claim_task([pair.id]));
    okOf(await (await t.tasks(s1)).complete_task(pair.id, resultArgs('garbage')));
    // Deregistered, s1 would count as its own operator: s2 could take the second place and agree with it.
    okOf(await (await t.tasks(s1)).deregister_runner(s1.getPrincipal()));
    expect(errOf(await (await t.tasks(s2)).claim_task([pair.id]))).toMatchObject({ TaskNotClaimable: { task: pair.id } });

    // A runner deregistered or suspended after it leased cannot add a result (and be paid, or vote, for it).
    const [gone, caught] = [await t.runner(), await t.runner()];
    const [forGone, forCaught] = [
      okOf(await asRequester.submit_task(t.submitArgs('gone'))),
      okOf(await asRequester.submit_task(t.submitArgs('caught')))
    ];
    okOf(await (await t.tasks(gone)).claim_task([forGone.id]));
    okOf(await (await t.tasks(caught)).claim_task([forCaught.id]));
    okOf(await (await t.tasks(gone)).deregister_runner(gone.getPrincipal()));
    okOf(await asAdmin.suspend_runner(caught.getPrincipal(), 'caught cheating'));
    expect(errOf(await (await t.tasks(gone)).complete_task(forGone.id, resultArgs('Hi')))).toEqual({
      NotFound: { kind: { Runner: null }, id: text(gone) }
    });
    expect(errOf(await (await t.tasks(caught)).complete_task(forCaught.id, resultArgs('Hi')))).toEqual({
      Suspended: { reason: 'caught cheating' }
    });
    // Giving the lease back stays possible: the place goes to another runner.
    okOf(await (await t.tasks(caught)).fail_task(forCaught.id, 'suspended'));
  }, 180_000);

  it('two new identities agreeing on garbage neither out-vote a runner with a record nor get paid', async () => {
    const t = await taskNetwork(net, { bondE8s: BOND });
    const requester = await t.requester(FUNDS, ALLOWANCE);
    const asRequester = await t.tasks(requester);
    const honest = await t.runner(2, { bond: BOND });
    const asHonest = await t.tasks(honest);
    // A track record: three accepted tasks.
    for (const key of ['record-1', 'record-2', 'record-3']) {
      const task = okOf(await asRequester.submit_task(t.submitArgs(key)));
      okOf(await asHonest.claim_task([task.id]));
      okOf(await asHonest.complete_task(task.id, resultArgs('Paris')));
      okOf(await asRequester.accept_task(task.id));
    }
    await processTasks(t);
    const honestBalance = await t.balance(honest);
    // Two Sybils naming different operators that never accept: each counts as its own operator and holds a bond.
    const [x, y] = [
      await t.runner(2, { bond: BOND, operator: Ed25519KeyIdentity.generate().getPrincipal() }),
      await t.runner(2, { bond: BOND, operator: Ed25519KeyIdentity.generate().getPrincipal() })
    ];
    const task = okOf(await asRequester.submit_task(t.submitArgs('sybils', { limits: DETERMINISTIC, redundancy: [3] })));
    for (const r of [honest, x, y]) okOf(await (await t.tasks(r)).claim_task([task.id]));
    okOf(await asHonest.complete_task(task.id, resultArgs('Paris')));
    okOf(await (await t.tasks(x)).complete_task(task.id, resultArgs('garbage')));
    okOf(await (await t.tasks(y)).complete_task(task.id, resultArgs('garbage')));
    expect(okOf(await asRequester.accept_task(task.id)).state).toBe('review');
    await endReview(t, task.id);
    const settled = (await asRequester.get_task(task.id))[0]!;
    // No majority of both bond and weight: the vote escalates (when the review ends) for more results (nobody paid or
    // slashed meanwhile).
    expect(settled.state).toBe('queued');
    expect(settled.outcome[0]).toMatch(/^escalated: no majority/);
    expect(settled.paid_runners).toEqual([]);
    await processTasks(t);
    for (const s of [x, y]) expect(await t.balance(s)).toBe(FUNDS_AFTER_BOND);
    expect(await t.balance(honest)).toBe(honestBalance);
    expect(await bondBalance(t, honest.getPrincipal())).toBe(BOND);
  }, 180_000);

  it('Sybils that build a record by dealing with themselves still cannot out-vote and slash a runner with an independent record', async () => {
    const t = await taskNetwork(net, { bondE8s: BOND });
    const requester = await t.requester(FUNDS, ALLOWANCE);
    const asRequester = await t.tasks(requester);
    const honest = await t.runner(2, { bond: BOND });
    const asHonest = await t.tasks(honest);
    for (const key of ['independent-1', 'independent-2', 'independent-3']) {
      const task = okOf(await asRequester.submit_task(t.submitArgs(key)));
      okOf(await asHonest.claim_task([task.id]));
      okOf(await asHonest.complete_task(task.id, resultArgs('Paris')));
      okOf(await asRequester.accept_task(task.id));
    }
    // Each Sybil's named operator (never accepting) submits four tasks to it and accepts them: self-dealt completions,
    // which a vote weighed by completions alone would count (4 + 1 each, 10 together, against the honest runner's 4).
    const sybils: Ed25519KeyIdentity[] = [];
    for (const name of ['x', 'y']) {
      const dealer = await t.requester(FUNDS, ALLOWANCE);
      const sybil = await t.runner(2, { bond: BOND, operator: dealer.getPrincipal() });
      const [asDealer, asSybil] = [await t.tasks(dealer), await t.tasks(sybil)];
      for (let i = 0; i < 4; i++) {
        const task = okOf(await asDealer.submit_task(t.submitArgs(`${name}-self-${i}`)));
        okOf(await asSybil.claim_task([task.id]));
        okOf(await asSybil.complete_task(task.id, resultArgs('anything')));
        okOf(await asDealer.accept_task(task.id));
      }
      sybils.push(sybil);
    }
    await processTasks(t);
    const task = okOf(await asRequester.submit_task(t.submitArgs('farmed-vote', { limits: DETERMINISTIC, redundancy: [3] })));
    for (const r of [honest, ...sybils]) okOf(await (await t.tasks(r)).claim_task([task.id]));
    okOf(await asHonest.complete_task(task.id, resultArgs('Paris')));
    for (const s of sybils) okOf(await (await t.tasks(s)).complete_task(task.id, resultArgs('garbage')));
    // No majority: the requester's accept changes nothing, and the timer escalates when the review ends.
    expect(okOf(await asRequester.accept_task(task.id)).state).toBe('review');
    await endReview(t, task.id);
    const settled = (await asRequester.get_task(task.id))[0]!;
    expect(settled.state).toBe('queued');
    expect(settled.paid_runners).toEqual([]);
    await processTasks(t);
    expect(await bondBalance(t, honest.getPrincipal())).toBe(BOND);
  }, 300_000);

  it('the runner node approves the bond before its first registration (src/runner/bond.ts)', async () => {
    const t = await taskNetwork(net, { bondE8s: BOND });
    const runner = Ed25519KeyIdentity.generate();
    const asRunner = await t.tasks(runner);
    const approve = async () => approveBond(asRunner, () => t.token(runner), t.registry, runner.getPrincipal());
    // Unfunded: the approval's fee cannot be paid, and the error says what to fund.
    await expect(approve()).rejects.toMatchObject({ code: 'BondNotApproved' });
    await t.fund(runner, BOND + 2n * FEE);
    expect(await approve()).toBe(BOND);
    expect(await approve()).toBe(BOND); // the allowance already covers it: no second approval (no second fee)
    expect(okOf(await asRunner.register_runner(manifest(t, text(runner))))).toMatchObject({ bond_e8s: [BOND] });
    expect(await t.balance(runner)).toBe(0n);
  }, 120_000);

  it('bond settings are admins’, bounded, and 0 turns bonds off', async () => {
    const t = await taskNetwork(net, { bondE8s: BOND });
    const stranger = await t.tasks(Ed25519KeyIdentity.generate());
    expect(errOf(await stranger.set_bond_config(bondConfigArgs({ amount_e8s: [0n] })))).toHaveProperty('Unauthorized');
    const admin = await t.tasks(t.admin);
    expect(errOf(await admin.set_bond_config(bondConfigArgs({ slash_bps: [10_001] })))).toMatchObject({
      InvalidArgument: { field: 'slash_bps' }
    });
    expect(errOf(await admin.set_bond_config(bondConfigArgs({ expired_lease_threshold: [0] })))).toMatchObject({
      InvalidArgument: { field: 'expired_lease_threshold' }
    });
    expect(errOf(await admin.set_bond_config(bondConfigArgs({ amount_e8s: [10n ** 13n] })))).toMatchObject({
      InvalidArgument: { field: 'amount_e8s' }
    });
    expect(errOf(await admin.set_bond_config(bondConfigArgs({ cooldown_seconds: [400n * 86_400n] })))).toMatchObject({
      InvalidArgument: { field: 'cooldown_seconds' }
    });
    // A cooldown shorter than a lease plus its review (120 + 600 s here) would let a runner leave before its slash.
    for (const seconds of [0n, 719n])
      expect(errOf(await admin.set_bond_config(bondConfigArgs({ cooldown_seconds: [seconds] })))).toEqual({
        InvalidArgument: { field: 'cooldown_seconds', reason: 'must be at least the lease plus the review window (720 s)' }
      });
    okOf(await admin.set_bond_config(bondConfigArgs({ amount_e8s: [0n] })));
    const free = Ed25519KeyIdentity.generate();
    expect(okOf(await (await t.tasks(free)).register_runner(manifest(t, text(free))))).toMatchObject({ bond_e8s: [], bond_state: [] });
  }, 120_000);

  it('deai runner bond and deai runner accept-operator, in human and JSON form', async () => {
    const t = await taskNetwork(net, { bondE8s: BOND });
    const operator = Ed25519KeyIdentity.generate();
    const runner = await t.runner(2, { bond: BOND, operator: operator.getPrincipal() });
    const dir = mkdtempSync(join(tmpdir(), 'deai-bond-'));
    try {
      writeFileSync(join(dir, 'operator.pem'), ed25519Pem(operator));
      const cli = (...args: string[]) =>
        exec(
          process.execPath,
          [deai, ...args, '--host', net.url, '--registry', t.registry.toText(), '--identity', join(dir, 'operator.pem')],
          {
            cwd: dir,
            timeout: 60_000
          }
        );
      const shown = JSON.parse((await cli('runner', 'bond', '--runner', text(runner), '--json')).stdout) as Record<string, unknown>;
      expect(shown).toMatchObject({
        runner: text(runner),
        settings: { amountE8s: String(BOND), slashBps: 1_000 },
        bond: { state: 'locked', amountE8s: String(BOND) }
      });
      expect((await cli('runner', 'bond')).stdout).toMatch(/no bond/);
      expect((await cli('runner', 'accept-operator', text(runner))).stdout).toContain(`Accepted runner ${text(runner)}`);
      const again = JSON.parse((await cli('runner', 'accept-operator', text(runner), '--json')).stdout) as Record<string, unknown>;
      expect(again).toMatchObject({ id: text(runner), operator: text(operator), operatorAccepted: true });
      // Accepting a runner that names someone else fails with the registry's code.
      const stranger = await t.runner(2, { bond: BOND });
      const refused = await cli('runner', 'accept-operator', text(stranger), '--json').catch((e: { stdout: string; code: number }) => e);
      expect(refused).toMatchObject({ code: 1 });
      expect(JSON.parse(refused.stdout)).toMatchObject({ error: { code: 'Unauthorized' } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

/** A Sybil's balance after funding (bond + 2 fees), approving (1 fee) and locking (bond + 1 fee): nothing. */
const FUNDS_AFTER_BOND = 0n;
