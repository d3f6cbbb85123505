import { Actor } from '@dfinity/agent';
import type { Principal } from '@dfinity/principal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ExecutionEvent } from '../../src/localnet/execution/messages.ts';
import { Localnet } from '../../src/localnet/localnet.ts';
import { agentFor, probeActor, probeWasm, type ProbeActor } from '../support/probe.ts';
import { agentReject } from '../support/rejects.ts';

describe('composite queries on the localnet (query call graph)', () => {
  let net: Localnet;
  let probe: Principal;
  let other: Principal;
  let actor: ProbeActor;

  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
    probe = await net.installCanister({ wasm: probeWasm() });
    other = await net.installCanister({ wasm: probeWasm() });
    actor = probeActor(await agentFor(net.url), probe);
  });
  afterAll(async () => {
    await net.stop();
  });

  it('calls query methods of the same and of another canister', async () => {
    expect(await actor.cq_call(other, 'greet', 'neighbour')).toEqual({ Ok: 'Hello, neighbour!' });
    expect(await actor.cq_call(probe, 'greet', 'myself')).toEqual({ Ok: 'Hello, myself!' });
  });

  it('calls composite queries, nested, through the same canister again', async () => {
    expect(await actor.cq_nested(other, 3)).toBe('3>2>1>bottom');
    expect(await actor.cq_nested(probe, 2)).toBe('2>1>bottom');
  });

  it('keeps a composite query’s changes across its own callbacks, shows callees committed state, and discards all', async () => {
    const own = await actor.heap_counter();
    const others = await probeActor(await agentFor(net.url), other).heap_counter();
    // Its own counter stays incremented across both awaits; each callee (itself included) starts from committed state.
    expect(await actor.cq_inc(probe)).toEqual([own + 1n, own + 100n, own + 100n]);
    expect(await actor.cq_inc(other)).toEqual([own + 1n, others + 100n, others + 100n]);
    expect(await actor.heap_counter()).toBe(own);
    expect(await actor.get('composite-write')).toEqual([]);
    expect(await actor.get('query-write')).toEqual([]);
    expect(await probeActor(await agentFor(net.url), other).heap_counter()).toBe(others);
  });

  it('rejects a call to an update method as the replica does (no query method)', async () => {
    expect(await actor.cq_call(other, 'put', 'k')).toEqual({
      Err: { code: 5, message: `Error from Canister ${other.toText()}: Canister has no query method 'put'.` }
    });
  });

  it('refuses a composite query called in replicated mode, from a canister and from ingress', async () => {
    expect(await actor.call_method(other, 'cq_nested')).toEqual({
      Err: { code: 5, message: 'IC0527: Composite query cannot be called in replicated mode' }
    });
    const asUpdate = Actor.createActor<{ cq_nested: (p: Principal, d: number) => Promise<string> }>(
      ({ IDL }) => IDL.Service({ cq_nested: IDL.Func([IDL.Principal, IDL.Nat32], [IDL.Text], []) }),
      { agent: await agentFor(net.url), canisterId: probe }
    );
    expect(await agentReject(asUpdate.cq_nested(other, 0))).toEqual({
      code: 5,
      errorCode: 'IC0527',
      message: 'Composite query cannot be called in replicated mode'
    });
  });

  it('fails the whole query past the replica’s call depth of 6', async () => {
    expect(await actor.cq_nested(other, 6)).toBe('6>5>4>3>2>1>bottom');
    expect(await agentReject(actor.cq_nested(other, 7))).toEqual({
      code: 5,
      errorCode: 'IC0525',
      message: 'Composite query calls exceeded the maximum call depth.'
    });
  });

  it('runs the cleanup callback when a callback traps, and returns the trap', async () => {
    const events: ExecutionEvent[] = [];
    net.engine.onExecution((event) => events.push(event));
    const outcome = await agentReject(actor.cq_trap_after_call(other));
    expect(outcome).toMatchObject({ code: 5, errorCode: 'IC0503' });
    expect(outcome.message).toContain('trap in the callback of a composite query');
    const mine = events.filter((e) => e.canisterId === probe.toText()).map((e) => `${e.entry}:${e.ok}`);
    expect(mine.slice(-2)).toEqual(['reply_callback:false', 'cleanup:true']);
  });
});

describe('the instruction limit covers the whole query call graph', () => {
  let net: Localnet;
  let probe: Principal;
  let other: Principal;
  let rounds: number;
  let perCall: bigint;

  beforeAll(async () => {
    // Calibrate one callee execution on a default network, then give a second one a limit that holds one such
    // call (and the composite query around it) but not three.
    const calibration = await Localnet.start({ port: 0, stateDir: null });
    const probeHere = await calibration.installCanister({ wasm: probeWasm() });
    const sample = await probeActor(await agentFor(calibration.url), probeHere).work_query(100_000);
    await calibration.stop();
    rounds = Math.ceil((100_000 * 600_000_000) / Number(sample));
    perCall = (sample * BigInt(rounds)) / 100_000n;
    net = await Localnet.start({ port: 0, stateDir: null, instructionLimits: { query: 2n * perCall + 300_000_000n } });
    probe = await net.installCanister({ wasm: probeWasm() });
    other = await net.installCanister({ wasm: probeWasm() });
  });
  afterAll(async () => {
    await net.stop();
  });

  it('answers while the graph stays under the limit and fails it with IC0526 once the sum exceeds it', async () => {
    const actor = probeActor(await agentFor(net.url), probe);
    const single = await actor.work_query(rounds);
    expect(single).toBeLessThan(net.engine.limits.query);
    expect(await actor.cq_work(other, rounds, 1)).toHaveLength(1);
    expect(await agentReject(actor.cq_work(other, rounds, 3))).toEqual({
      code: 5,
      errorCode: 'IC0526',
      message: 'Composite query calls exceeded the instruction limit.'
    });
  });
});
