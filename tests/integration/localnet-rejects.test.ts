import { Actor, type ActorSubclass } from '@dfinity/agent';
import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { canisterIdFromIndex } from '../../src/localnet/ids.ts';
import { Localnet } from '../../src/localnet/localnet.ts';
import { agentFor, probeActor, probeWasm, type ProbeActor } from '../support/probe.ts';
import { agentReject } from '../support/rejects.ts';

/** One row of README's reject table: what a calling canister reads, and what the agent reports for ingress. */
describe('reject codes and texts as the replica produces them (README table)', () => {
  let net: Localnet;
  let probe: Principal;
  let other: Principal;
  let actor: ProbeActor;
  let update: ActorSubclass<{ nope: () => Promise<unknown>; nope_query: () => Promise<unknown> }>;

  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
    probe = await net.installCanister({ wasm: probeWasm() });
    other = await net.installCanister({ wasm: probeWasm() });
    actor = probeActor(await agentFor(net.url), probe);
    update = Actor.createActor(({ IDL }) => IDL.Service({ nope: IDL.Func([], [], []), nope_query: IDL.Func([], [], ['query']) }), {
      agent: await agentFor(net.url),
      canisterId: other
    });
  });
  afterAll(async () => {
    await net.stop();
  });

  describe('seen by a calling canister (ic0.msg_reject_code / msg_reject_msg)', () => {
    it('callee traps: 5, "IC0503: Error from Canister …"', async () => {
      const outcome = await actor.call_throw(other, 'callee exploded');
      expect(outcome).toMatchObject({ Err: { code: 5 } });
      const message = 'Err' in outcome ? outcome.Err.message : '';
      expect(message.startsWith(`IC0503: Error from Canister ${other.toText()}: Canister called \`ic0.trap\` with message:`)).toBe(true);
      expect(message).toContain('callee exploded');
    });

    it('callee has no such method: 5, "IC0536: Error from Canister …: Canister has no update method …"', async () => {
      expect(await actor.call_method(other, 'no_such_method')).toEqual({
        Err: { code: 5, message: `IC0536: Error from Canister ${other.toText()}: Canister has no update method 'no_such_method'.` }
      });
    });

    it('callee rejects (msg_reject): 4, its own text', async () => {
      expect(await actor.call_method(other, 'reject_always')).toEqual({ Err: { code: 4, message: 'rejected on purpose' } });
    });

    it('unknown management-canister method: 5, "IC0536: Management canister has no method …"', async () => {
      expect(await actor.call_method(Principal.fromText('aaaaa-aa'), 'no_such_method')).toEqual({
        Err: { code: 5, message: "IC0536: Management canister has no method 'no_such_method'" }
      });
    });

    it('callee never replies: 5, "No response"', async () => {
      expect(await actor.call_method(other, 'never_reply')).toEqual({ Err: { code: 5, message: 'No response' } });
    });

    it('malformed management-canister argument: 4, "IC0408: Error decoding …"', async () => {
      const outcome = await actor.call_method(Principal.fromText('aaaaa-aa'), 'install_code');
      expect(outcome).toMatchObject({ Err: { code: 4 } });
      expect('Err' in outcome && outcome.Err.message.startsWith('IC0408: Error decoding ')).toBe(true);
    });

    it('callee stopped: 5, "Canister … is stopped"', async () => {
      const stopped = await net.installCanister({ wasm: probeWasm() });
      const record = IDL.Record({ canister_id: IDL.Principal });
      await net.update(Principal.fromText('aaaaa-aa'), 'stop_canister', new Uint8Array(IDL.encode([record], [{ canister_id: stopped }])));
      expect(await actor.call_method(stopped, 'greet')).toEqual({ Err: { code: 5, message: `Canister ${stopped.toText()} is stopped` } });
    });

    it('id in this subnet’s range, no canister: 3, "Canister … not found"', async () => {
      const missing = canisterIdFromIndex(0x2000000n);
      expect(await actor.call_method(missing, 'greet')).toEqual({ Err: { code: 3, message: `Canister ${missing.toText()} not found` } });
    });

    it('id no subnet hosts: 3, "No route to canister …"', async () => {
      const outside = canisterIdFromIndex(0x3000000n);
      expect(await actor.call_method(outside, 'greet')).toEqual({ Err: { code: 3, message: `No route to canister ${outside.toText()}` } });
    });
  });

  describe('seen by an agent (ingress and queries)', () => {
    it('unknown management-canister method: 5, IC0536', async () => {
      const management = Actor.createActor<{ no_such_method: () => Promise<unknown> }>(
        ({ IDL }) => IDL.Service({ no_such_method: IDL.Func([], [], []) }),
        { agent: await agentFor(net.url), canisterId: Principal.fromText('aaaaa-aa'), effectiveCanisterId: probe }
      );
      expect(await agentReject(management.no_such_method())).toEqual({
        code: 5,
        errorCode: 'IC0536',
        message: "Management canister has no method 'no_such_method'"
      });
    });

    it('update method the canister does not export: 5, IC0536', async () => {
      expect(await agentReject(update.nope())).toEqual({
        code: 5,
        errorCode: 'IC0536',
        message: `Error from Canister ${other.toText()}: Canister has no update method 'nope'.`
      });
    });

    it('query method the canister does not export: 5, IC0536', async () => {
      expect(await agentReject(update.nope_query())).toEqual({
        code: 5,
        errorCode: 'IC0536',
        message: `Error from Canister ${other.toText()}: Canister has no query method 'nope_query'.`
      });
    });

    it('canister never replies: 5, IC0506, "Canister … did not reply to the call"', async () => {
      expect(await agentReject(actor.never_reply())).toEqual({
        code: 5,
        errorCode: 'IC0506',
        message: `Canister ${probe.toText()} did not reply to the call`
      });
    });

    it('canister rejects (msg_reject): 4, IC0406, its own text', async () => {
      expect(await agentReject(actor.reject_always())).toEqual({ code: 4, errorCode: 'IC0406', message: 'rejected on purpose' });
    });

    it('canister traps: 5, IC0503, "Error from Canister …: Canister called `ic0.trap` …"', async () => {
      const outcome = await agentReject(actor.throw_error('ingress exploded'));
      expect(outcome).toMatchObject({ code: 5, errorCode: 'IC0503' });
      expect(outcome.message.startsWith(`Error from Canister ${probe.toText()}: Canister called \`ic0.trap\` with message:`)).toBe(true);
    });
  });
});

describe('the output-queue limit per canister (500 outstanding calls to one callee)', () => {
  let net: Localnet;
  let probe: Principal;
  let other: Principal;

  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
    probe = await net.installCanister({ wasm: probeWasm() });
    other = await net.installCanister({ wasm: probeWasm() });
  });
  afterAll(async () => {
    await net.stop();
  });

  it('refuses call 501 and later synchronously (CallPerformFailed), and frees the slots once answered', async () => {
    const actor = probeActor(await agentFor(net.url), probe);
    expect(await actor.flood(other, 520)).toEqual({ replied: 500, performFailed: 20, rejected: 0 });
    expect(await actor.flood(other, 500)).toEqual({ replied: 500, performFailed: 0, rejected: 0 });
  });
});
