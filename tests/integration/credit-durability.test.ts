import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { HttpAgent } from '@dfinity/agent';
import { Ed25519KeyIdentity } from '@dfinity/identity';
import type { Principal } from '@dfinity/principal';
import { afterAll, describe, expect, it } from 'vitest';

import { managementActor } from '../../src/ic/management.ts';
import { registryClient } from '../../src/ic/registry.ts';
import { registryInitArgs, type UsageSettlement } from '../../src/interface/registry/index.ts';
import { account, approveArgs, FEE, ledgerActor, ledgerInit, ledgerWasm } from '../support/ledger.ts';
import { startLocalnetProcess, stopProcess } from '../support/localnet-process.ts';
import { deployment, modelCard, runnerManifest } from '../support/manifests.ts';
import { agentFor } from '../support/probe.ts';
import { heartbeatArgs, okOf, registryWasm } from '../support/registry.ts';
import { bondConfigArgs, taskConfigArgs } from '../support/tasks.ts';

const CREDIT_SUBACCOUNT = Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 3 : 0));
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function install(agent: HttpAgent, wasm: Uint8Array, arg: Uint8Array): Promise<Principal> {
  const ic = managementActor(agent);
  const { canister_id } = await ic.provisional_create_canister_with_cycles({
    amount: [],
    settings: [],
    specified_id: [],
    sender_canister_version: []
  });
  await managementActor(agent, canister_id).install_code({
    mode: { install: null },
    canister_id,
    wasm_module: wasm,
    arg,
    sender_canister_version: []
  });
  return canister_id;
}

const usage = (seq: bigint): UsageSettlement => ({
  line_id: 1n,
  seq,
  owed_e8s: seq * 10_000n,
  input_tokens: seq,
  output_tokens: seq,
  requests: seq
});

describe('credit: exactly once through kill -9 of the network (issue 17)', () => {
  it('keeps every acknowledged settlement and pays the withdrawal once after SIGKILL mid-burst', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'deai-credit-'));
    dirs.push(dir);
    const admin = Ed25519KeyIdentity.generate();
    const payer = Ed25519KeyIdentity.generate();
    const runner = Ed25519KeyIdentity.generate();
    let { child, url } = await startLocalnetProcess(dir);
    try {
      const agent = await agentFor(url, admin);
      const registryId = await install(agent, registryWasm(), registryInitArgs({ admins: [admin.getPrincipal()] }));
      const ledgerId = await install(
        agent,
        ledgerWasm(),
        ledgerInit(registryId, { initial_balances: [[account(payer.getPrincipal()), 100_000_000n]] })
      );
      const asAdmin = registryClient(agent, registryId);
      okOf(await asAdmin.set_task_config(taskConfigArgs({ ledger: [ledgerId] })));
      okOf(await asAdmin.set_bond_config(bondConfigArgs({ amount_e8s: [0n] })));
      const card = modelCard();
      okOf(await asAdmin.publish_model_card(JSON.stringify(card)));
      const asRunner = registryClient(await agentFor(url, runner), registryId);
      okOf(await asRunner.register_runner(JSON.stringify(runnerManifest(runner.getPrincipal().toText(), [deployment(card)]))));
      okOf(await asRunner.heartbeat(heartbeatArgs()));
      const payerAgent = await agentFor(url, payer);
      okOf(await ledgerActor(payerAgent, ledgerId).icrc2_approve(approveArgs(account(registryId), 50_000_000n)));
      const asPayer = registryClient(payerAgent, registryId);
      okOf(await asPayer.deposit_credit({ amount_e8s: 40_000_000n, created_at_time: [] }));
      okOf(await asPayer.reserve_credit(runner.getPrincipal(), 30_000_000n));

      // A burst of batches; SIGKILL while they fly. Every acknowledged one must survive, and nothing moves twice.
      let acknowledged = 0n;
      let killed = false;
      let seq = 0n;
      const sending = (async () => {
        while (!killed) {
          const next = ++seq;
          try {
            okOf(await asPayer.settle_usage([usage(next)]));
            if (next > acknowledged) acknowledged = next;
          } catch {
            return;
          }
        }
      })();
      while (acknowledged < 20n) await new Promise((r) => setTimeout(r, 20));
      // The runner asks for its accrued balance: the payout is recorded, the kill may come before or after it is paid.
      const withdrawal = okOf(await asRunner.withdraw_accrued());
      const killing = stopProcess(child, 'SIGKILL');
      killed = true;
      await killing;
      await sending;

      ({ child, url } = await startLocalnetProcess(dir));
      const after = registryClient(await agentFor(url, admin), registryId);
      const line = (await after.get_credit_line(1n))[0]!;
      expect(line.settled_seq).toBeGreaterThanOrEqual(acknowledged);
      // Replaying every batch after the restart moves nothing.
      const again = registryClient(await agentFor(url, payer), registryId);
      const replay = okOf(await again.settle_usage(Array.from({ length: Number(line.settled_seq) }, (_, i) => usage(BigInt(i + 1)))));
      expect(replay.every((o) => 'Ok' in o && o.Ok.moved_e8s === 0n)).toBe(true);
      // The payout timer (real time in this process) pays the withdrawal exactly once.
      const ledger = ledgerActor(await agentFor(url, admin), ledgerId);
      for (let i = 0; i < 100 && (await ledger.icrc1_balance_of(account(runner.getPrincipal()))) === 0n; i++)
        await new Promise((r) => setTimeout(r, 200));
      await new Promise((r) => setTimeout(r, 6_000));
      expect(await ledger.icrc1_balance_of(account(runner.getPrincipal()))).toBe(withdrawal.amount_e8s - FEE);
      const runnerAccount = (await after.get_credit_account(runner.getPrincipal()))[0]!;
      const payerAccount = (await after.get_credit_account(payer.getPrincipal()))[0]!;
      const final = (await after.get_credit_line(1n))[0]!;
      expect(runnerAccount.accrued_e8s + withdrawal.amount_e8s).toBe(final.settled_e8s);
      // What the credit subaccount holds is what the accounts say (no treasury: no fees).
      expect(await ledger.icrc1_balance_of(account(registryId, CREDIT_SUBACCOUNT))).toBe(
        payerAccount.free_e8s + payerAccount.reserved_e8s + runnerAccount.accrued_e8s
      );
    } finally {
      await stopProcess(child);
    }
  }, 240_000);
});
