import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { Actor, type ActorSubclass } from '@dfinity/agent';
import { IDL } from '@dfinity/candid';
import type { Principal } from '@dfinity/principal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Localnet } from '../../src/localnet/localnet.ts';
import { account } from '../support/ledger.ts';
import { agentFor } from '../support/probe.ts';
import { okOf } from '../support/registry.ts';
import { FEE, REWARD, resultArgs, taskNetwork } from '../support/tasks.ts';

interface RequesterActor {
  ask(
    registry: Principal,
    ledger: Principal,
    model: string,
    prompt: string,
    reward: bigint,
    deadlineNs: bigint,
    key: string
  ): Promise<{ Ok: string } | { Err: string }>;
  answer(registry: Principal, id: string): Promise<{ state: string; output: [] | [string] }>;
}

const requesterIdl: IDL.InterfaceFactory = ({ IDL: I }) =>
  I.Service({
    ask: I.Func([I.Principal, I.Principal, I.Text, I.Text, I.Nat, I.Nat64, I.Text], [I.Variant({ Ok: I.Text, Err: I.Text })], []),
    answer: I.Func([I.Principal, I.Text], [I.Record({ state: I.Text, output: I.Opt(I.Text) })], [])
  });

describe('a canister as the requester', () => {
  let net: Localnet;
  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
  });
  afterAll(async () => {
    await net.stop();
  });

  it('escrows from its own account, and reads the answer back on-chain', async () => {
    const t = await taskNetwork(net);
    const wasm = new Uint8Array(readFileSync(join(import.meta.dirname, '..', 'fixtures', '.azle', 'requester', 'requester.wasm')));
    const dapp = await net.installCanister({ wasm });
    const funder = await t.requester(5_000_000n);
    okOf(
      await (
        await t.token(funder)
      ).icrc1_transfer({ from_subaccount: [], to: account(dapp), amount: 3_000_000n, fee: [], memo: [], created_at_time: [] })
    );
    const actor: ActorSubclass<RequesterActor> = Actor.createActor<RequesterActor>(requesterIdl, {
      agent: await agentFor(net.url, funder),
      canisterId: dapp
    });

    const asked = await actor.ask(
      t.registry,
      t.ledger,
      String(t.card.id),
      'What is 2 + 2?',
      REWARD,
      net.engine.now() + 3_600_000_000_000n,
      'dapp-1'
    );
    if ('Err' in asked) throw new Error(asked.Err);
    const id = asked.Ok;
    expect(await t.balance(dapp)).toBe(3_000_000n - FEE - REWARD - FEE); // approve fee, reward, transfer_from fee
    expect(await actor.answer(t.registry, id)).toEqual({ state: 'queued', output: [] });

    const runner = await t.runner();
    const asRunner = await t.tasks(runner);
    okOf(await asRunner.claim_task([id]));
    okOf(await asRunner.complete_task(id, resultArgs('4')));
    expect(await actor.answer(t.registry, id)).toEqual({ state: 'review', output: ['4'] });
    const task = (await asRunner.get_task(id))[0];
    expect(task?.requester.toText()).toBe(dapp.toText());
  });
});
