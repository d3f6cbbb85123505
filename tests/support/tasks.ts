import { createHash } from 'node:crypto';

import { Actor, type ActorSubclass, type HttpAgent, type Identity } from '@dfinity/agent';
import { IDL } from '@dfinity/candid';
import { Ed25519KeyIdentity } from '@dfinity/identity';
import type { Principal } from '@dfinity/principal';

import { registryIdlFactory, registryInitArgs } from '../../canisters/registry/candid.ts';
import type { SubmitTaskArgs } from '../../canisters/registry/task-args.ts';
import type { ResultArgs, TaskView } from '../../src/ic/registry.ts';
import { MANAGEMENT_CANISTER_ID } from '../../src/localnet/ids.ts';
import type { Localnet } from '../../src/localnet/localnet.ts';
import { CanisterIdRecord } from '../../src/localnet/management/idl.ts';
import { account, approveArgs, ledgerActor, ledgerInit, ledgerWasm, type LedgerActor } from './ledger.ts';
import { deployment, modelCard, runnerManifest } from './manifests.ts';
import { agentFor } from './probe.ts';
import { findRequest, heartbeatArgs, okOf, registryWasm, type R, type RegistryActor } from './registry.ts';

type Opt<T> = [] | [T];
type AccountValue = { owner: Principal; subaccount: Opt<Uint8Array | number[]> };
export type { ResultArgs, TaskView };

export type { SubmitTaskArgs };

export interface TaskActor extends RegistryActor {
  submit_task(args: SubmitTaskArgs): Promise<R<TaskView>>;
  claim_task(id: Opt<string>): Promise<R<TaskView>>;
  complete_task(id: string, result: ResultArgs): Promise<R<TaskView['results'][number]>>;
  fail_task(id: string, reason: string): Promise<R<TaskView>>;
  accept_task(id: string): Promise<R<TaskView>>;
  reject_task(id: string, reason: string): Promise<R<TaskView>>;
  get_task(id: string): Promise<Opt<TaskView>>;
  list_claimable(): Promise<Array<{ id: string; model: string; reward_e8s: bigint; open_places: number }>>;
  quote_reward(
    reward: bigint,
    redundancy: number
  ): Promise<{
    reward_e8s: bigint;
    protocol_fee_e8s: bigint;
    per_runner_net_e8s: bigint;
    treasury_net_e8s: bigint;
    refund_net_e8s: bigint;
    ledger_fee_e8s: bigint;
    acceptable: boolean;
  }>;
  set_task_config(
    args: Record<string, Opt<unknown>>
  ): Promise<R<{ escrow: Opt<AccountValue>; ledger_fee_e8s: bigint; protocol_fee_bps: number }>>;
  get_task_config(): Promise<{
    ledger: Opt<Principal>;
    escrow: Opt<AccountValue>;
    protocol_fee_bps: number;
    ledger_fee_e8s: bigint;
    review_window_ns: bigint;
    lease_ns: bigint;
  }>;
  list_payouts(): Promise<Array<{ id: string; kind: string; amount_e8s: bigint; attempts: number; last_error: Opt<string> }>>;
  get_reputation(
    runner: Principal
  ): Promise<Opt<{ completed: number; failed: number; rejected: number; expired_leases: number; latency_ms_ema: number }>>;
  process_tasks(): Promise<R<null>>;
}

export const taskConfigArgs = (overrides: Record<string, Opt<unknown>> = {}): Record<string, Opt<unknown>> => ({
  ledger: [],
  treasury: [],
  protocol_fee_bps: [],
  ledger_fee_e8s: [],
  lease_seconds: [],
  review_window_seconds: [],
  min_reward_e8s: [],
  emission_per_epoch_e8s: [],
  epoch_seconds: [],
  ...overrides
});

export const sha256Digest = (text: string): string => `sha256:${createHash('sha256').update(text).digest('hex')}`;

export function resultArgs(output: string, overrides: Partial<ResultArgs> = {}): ResultArgs {
  return {
    output_digest: sha256Digest(output),
    output: [output],
    reference: [],
    input_tokens: 12n,
    output_tokens: 34n,
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
  /** Registers and heartbeats a runner serving the card with `slots` slots; the runner is its own operator. */
  runner(slots?: number): Promise<Ed25519KeyIdentity>;
  /** A requester funded with `balance` that approved the registry for `allowance`. */
  requester(balance: bigint, allowance?: bigint): Promise<Ed25519KeyIdentity>;
  balance(identity: Identity | Principal): Promise<bigint>;
  submitArgs(key: string, overrides?: Partial<SubmitTaskArgs>): SubmitTaskArgs;
}

export const REWARD = 1_000_000n;
export const FEE = 10_000n;

export async function taskNetwork(
  net: Localnet,
  options: { reviewWindowSeconds?: bigint; leaseSeconds?: bigint; emissionPerEpoch?: bigint; epochSeconds?: bigint } = {}
): Promise<TaskNetwork> {
  const admin = Ed25519KeyIdentity.generate();
  const treasury = Ed25519KeyIdentity.generate();
  const funder = Ed25519KeyIdentity.generate();
  const registry = await net.installCanister({ wasm: registryWasm(), arg: registryInitArgs({ admins: [admin.getPrincipal()] }) });
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
  const tasks = async (identity: Identity) =>
    Actor.createActor<TaskActor>(registryIdlFactory, { agent: await agentOf(identity), canisterId: registry });
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
        epoch_seconds: [options.epochSeconds ?? 3600n]
      })
    )
  );
  const card = modelCard();
  okOf(await adminActor.publish_model_card(JSON.stringify(card)));
  const funderLedger = await token(funder);
  return {
    net,
    registry,
    ledger,
    admin,
    treasury,
    card,
    tasks,
    token,
    async runner(slots = 2) {
      const identity = Ed25519KeyIdentity.generate();
      const actor = await tasks(identity);
      okOf(await actor.register_runner(JSON.stringify(runnerManifest(identity.getPrincipal().toText(), [deployment(card, { slots })]))));
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
