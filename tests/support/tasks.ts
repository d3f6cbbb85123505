import { createHash } from 'node:crypto';

import type { ActorSubclass, HttpAgent, Identity } from '@dfinity/agent';
import { IDL } from '@dfinity/candid';
import { Ed25519KeyIdentity } from '@dfinity/identity';
import type { Principal } from '@dfinity/principal';

import {
  registryInitArgs,
  type BondConfigArgs,
  type PayoutPage,
  type PayoutView,
  type RegistryService,
  type ResultArgs,
  type SubmitTaskArgs,
  type TaskConfigArgs,
  type TaskView
} from '../../src/interface/registry/index.ts';
import { workerBlsVerify } from '../../src/ic/bls-verify.ts';
import { registryClient } from '../../src/ic/registry.ts';
import { MANAGEMENT_CANISTER_ID } from '../../src/localnet/ids.ts';
import type { Localnet } from '../../src/localnet/localnet.ts';
import { CanisterIdRecord } from '../../src/interface/management/index.ts';
import { account, approveArgs, ledgerActor, ledgerInit, ledgerWasm, type LedgerActor } from './ledger.ts';
import { deployment, modelCard, runnerManifest } from './manifests.ts';
import { agentFor } from './probe.ts';
import { findRequest, heartbeatArgs, okOf, registryWasm } from './registry.ts';

export type { ResultArgs, TaskView };

export type { SubmitTaskArgs };

/** The registry's actor type, as the task tests call it. */
export type TaskActor = RegistryService;

export const taskConfigArgs = (overrides: Partial<TaskConfigArgs> = {}): TaskConfigArgs => ({
  ledger: [],
  treasury: [],
  protocol_fee_bps: [],
  ledger_fee_e8s: [],
  lease_seconds: [],
  review_window_seconds: [],
  min_reward_e8s: [],
  emission_per_epoch_e8s: [],
  epoch_seconds: [],
  emission_requester_cap_bps: [],
  routing_window_seconds: [],
  min_protocol_fee_e8s: [],
  ...overrides
});

export const bondConfigArgs = (overrides: Partial<BondConfigArgs> = {}): BondConfigArgs => ({
  amount_e8s: [],
  cooldown_seconds: [],
  slash_bps: [],
  expired_lease_threshold: [],
  ...overrides
});

export const sha256Digest = (text: string): string => `sha256:${createHash('sha256').update(text).digest('hex')}`;

export function resultArgs(output: string, overrides: Partial<ResultArgs> = {}): ResultArgs {
  return {
    output_digest: sha256Digest(output),
    output: [output],
    reference: [],
    input_tokens: 12n,
    // 34, or what a shorter output may meter (its bytes + 32 special tokens: src/core/tasks/usage.ts).
    output_tokens: BigInt(Math.min(34, Buffer.byteLength(output) + 32)),
    first_token_ms: 50,
    total_ms: 400,
    ...overrides
  };
}

/** The localnet, the registry (tasks configured with the ledger) and the ledger (minting account = registry). */
export interface TaskNetwork {
  net: Localnet;
  registry: Principal;
  ledger: Principal;
  admin: Ed25519KeyIdentity;
  treasury: Ed25519KeyIdentity;
  card: Record<string, unknown>;
  /** A registry actor for `identity` (cached agents). */
  tasks(identity: Identity): Promise<ActorSubclass<TaskActor>>;
  token(identity: Identity): Promise<ActorSubclass<LedgerActor>>;
  /**
   * Registers and heartbeats a runner serving the card with `slots` slots, at `price` per million tokens (default
   * 1,000 input / 3,000 output: a test result's 12 + 34 tokens cost 1 e8s); the runner is its own operator unless
   * `operator` names another. With `bond`, the runner is first funded with it (plus fees) and approves the registry
   * for it, as registration requires while bonds are on.
   */
  runner(
    slots?: number,
    options?: { operator?: Principal; bond?: bigint; price?: { inputPerMillion: number; outputPerMillion: number } }
  ): Promise<Ed25519KeyIdentity>;
  /** Funds `identity` with `amount` from the test funder (no approval). */
  fund(identity: Identity, amount: bigint): Promise<void>;
  /** A requester funded with `balance` that approved the registry for `allowance`. */
  requester(balance: bigint, allowance?: bigint): Promise<Ed25519KeyIdentity>;
  balance(identity: Identity | Principal): Promise<bigint>;
  submitArgs(key: string, overrides?: Partial<SubmitTaskArgs>): SubmitTaskArgs;
}

export const REWARD = 1_000_000n;
export const FEE = 10_000n;

export async function taskNetwork(
  net: Localnet,
  options: {
    reviewWindowSeconds?: bigint;
    leaseSeconds?: bigint;
    emissionPerEpoch?: bigint;
    epochSeconds?: bigint;
    /** The runner bond registration locks: 0 (bonds off) unless a test exercises bonds. */
    bondE8s?: bigint;
    /** The paid-routing window; 0 (every eligible runner at once) unless a test is about routing. */
    routingWindowSeconds?: bigint;
    /** The registry's Wasm: this checkout's unless an upgrade test starts from an older one (older-registry.ts). */
    registryWasm?: Uint8Array;
  } = {}
): Promise<TaskNetwork> {
  const admin = Ed25519KeyIdentity.generate();
  const treasury = Ed25519KeyIdentity.generate();
  const funder = Ed25519KeyIdentity.generate();
  const registry = await net.installCanister({
    wasm: options.registryWasm ?? registryWasm(),
    arg: registryInitArgs({ admins: [admin.getPrincipal()] })
  });
  const ledger = await net.installCanister({
    wasm: ledgerWasm(),
    arg: ledgerInit(registry, { initial_balances: [[account(funder.getPrincipal()), 1_000_000_000_000n]] })
  });
  const agents = new Map<string, HttpAgent>();
  const agentOf = async (identity: Identity): Promise<HttpAgent> => {
    const key = identity.getPrincipal().toText();
    let agent = agents.get(key);
    if (agent === undefined) {
      agent = await agentFor(net.url, identity);
      agents.set(key, agent);
    }
    return agent;
  };
  // Certificates checked on worker threads, as the gateway, runner and CLI do (src/ic/bls-verify.ts).
  const tasks = async (identity: Identity) => registryClient(await agentOf(identity), registry, { blsVerify: workerBlsVerify });
  const token = async (identity: Identity) => ledgerActor(await agentOf(identity), ledger);
  const adminActor = await tasks(admin);
  okOf(
    await adminActor.set_task_config(
      taskConfigArgs({
        ledger: [ledger],
        treasury: [{ owner: treasury.getPrincipal(), subaccount: [] }],
        review_window_seconds: [options.reviewWindowSeconds ?? 600n],
        lease_seconds: [options.leaseSeconds ?? 120n],
        emission_per_epoch_e8s: [options.emissionPerEpoch ?? 0n],
        epoch_seconds: [options.epochSeconds ?? 3600n],
        routing_window_seconds: [options.routingWindowSeconds ?? 0n]
      })
    )
  );
  // Bonds are on by default once a ledger is configured; tests that do not exercise them turn them off.
  okOf(await adminActor.set_bond_config(bondConfigArgs({ amount_e8s: [options.bondE8s ?? 0n] })));
  const card = modelCard();
  okOf(await adminActor.publish_model_card(JSON.stringify(card)));
  const funderLedger = await token(funder);
  const fund = async (identity: Identity, amount: bigint): Promise<void> => {
    okIndexOf(
      await funderLedger.icrc1_transfer({
        from_subaccount: [],
        to: account(identity.getPrincipal()),
        amount,
        fee: [],
        memo: [],
        created_at_time: []
      })
    );
  };
  return {
    net,
    registry,
    ledger,
    admin,
    treasury,
    card,
    tasks,
    token,
    fund,
    async runner(slots = 2, { operator, bond, price } = {}) {
      const identity = Ed25519KeyIdentity.generate();
      const actor = await tasks(identity);
      if (bond !== undefined && bond > 0n) {
        await fund(identity, bond + 2n * FEE);
        okIndexOf(await (await token(identity)).icrc2_approve(approveArgs(account(registry), bond + FEE)));
      }
      const named = (operator ?? identity.getPrincipal()).toText();
      const served = deployment(card, price === undefined ? { slots } : { slots, price });
      okOf(await actor.register_runner(JSON.stringify(runnerManifest(named, [served]))));
      okOf(await actor.heartbeat(heartbeatArgs()));
      return identity;
    },
    async requester(balance, allowance) {
      const identity = Ed25519KeyIdentity.generate();
      if (balance > 0n)
        okIndexOf(
          await funderLedger.icrc1_transfer({
            from_subaccount: [],
            to: account(identity.getPrincipal()),
            amount: balance,
            fee: [],
            memo: [],
            created_at_time: []
          })
        );
      if (allowance !== undefined) okIndexOf(await (await token(identity)).icrc2_approve(approveArgs(account(registry), allowance)));
      return identity;
    },
    async balance(who) {
      const principal = 'getPrincipal' in who ? who.getPrincipal() : who;
      return (await token(admin)).icrc1_balance_of(account(principal));
    },
    submitArgs(key, overrides = {}) {
      return {
        idempotency_key: key,
        request: findRequest({ model: [String(card.id)] }),
        input: { inline: ['Say hello.'], digest: [], reference: [] },
        limits: { max_output_tokens: 64, temperature: [], seed: [] },
        reward_e8s: REWARD,
        deadline_ns: net.engine.now() + 3_600_000_000_000n,
        redundancy: [],
        refund_subaccount: [],
        ...overrides
      };
    }
  };
}

function okIndexOf(result: { Ok: bigint } | { Err: unknown }): bigint {
  if ('Err' in result)
    throw new Error(`ledger call failed: ${JSON.stringify(result.Err, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`);
  return result.Ok;
}

/** Stops or starts a canister through the management canister, as its controller (the localnet host caller). */
export async function setCanisterRunning(net: Localnet, canisterId: Principal, running: boolean): Promise<void> {
  const arg = new Uint8Array(IDL.encode([CanisterIdRecord], [{ canister_id: canisterId }]));
  await net.update(MANAGEMENT_CANISTER_ID, running ? 'start_canister' : 'stop_canister', arg);
}

/** What the registry's escrow subaccount holds on the ledger: 0 once every settled task is paid out. */
export async function escrowBalance(t: TaskNetwork): Promise<bigint> {
  const escrow = (await (await t.tasks(t.admin)).get_task_config()).escrow[0];
  if (escrow === undefined) throw new Error('the registry reports no escrow account');
  const subaccount = escrow.subaccount[0];
  return (await t.token(t.admin)).icrc1_balance_of(
    account(escrow.owner, subaccount === undefined ? undefined : Uint8Array.from(subaccount))
  );
}

/** Runs one maintenance pass as the admin (what the 5-second timer does). */
export async function processTasks(t: TaskNetwork): Promise<void> {
  okOf(await (await t.tasks(t.admin)).process_tasks());
}

/** Every payout the registry lists (all pages), optionally only `pending` or `stuck` ones, as the admin reads them. */
export async function payoutsOf(t: TaskNetwork, state?: 'pending' | 'stuck'): Promise<PayoutView[]> {
  const admin = await t.tasks(t.admin);
  const items: PayoutView[] = [];
  let after: [] | [string] = [];
  for (;;) {
    const page: PayoutPage = okOf(await admin.list_payouts({ state: state === undefined ? [] : [state] }, { after, limit: [100] }));
    items.push(...page.items);
    const next: string | undefined = page.next[0];
    if (next === undefined) return items;
    after = [next];
  }
}

/**
 * Moves canister time past the task's review end and runs maintenance: the timer, never the requester's accept or
 * reject, escalates a tie (src/core/tasks/escalation.ts). `runners` heartbeat again afterwards, so they stay live.
 */
export async function endReview(t: TaskNetwork, id: string, runners: Identity[] = []): Promise<void> {
  const task = (await (await t.tasks(t.admin)).get_task(id))[0];
  const endsAt = task?.review_ends_at_ns[0];
  if (endsAt === undefined) throw new Error(`task ${id} is not in review`);
  const now = t.net.engine.now();
  if (endsAt > now) await t.net.advanceTime(Number((endsAt - now) / 1_000_000n) + 1_000);
  await processTasks(t);
  for (const runner of runners) okOf(await (await t.tasks(runner)).heartbeat(heartbeatArgs()));
}

/** Adds to `spent` the instructions `canister` executes, per entry point (`canister_update submit_task`, …). */
export function meterInstructions(net: Localnet, canister: Principal, spent: Map<string, bigint>): void {
  net.onExecution((e) => {
    if (e.canisterId === canister.toText()) spent.set(e.entry, (spent.get(e.entry) ?? 0n) + e.instructions);
  });
}

/** What `spent` (meterInstructions) holds in all. */
export const totalOf = (spent: Map<string, bigint>): bigint => [...spent.values()].reduce((a, b) => a + b, 0n);
