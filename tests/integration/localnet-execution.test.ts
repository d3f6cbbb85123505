import { createHash } from 'node:crypto';

import { AnonymousIdentity, Certificate, lookupResultToBuffer } from '@dfinity/agent';
import { Ed25519KeyIdentity } from '@dfinity/identity';
import { Secp256k1KeyIdentity } from '@dfinity/identity-secp256k1';
import type { Principal } from '@dfinity/principal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Canister } from '../../src/localnet/execution/canister.ts';
import { Localnet } from '../../src/localnet/localnet.ts';
import { agentFor, probeActor, probeWasm } from '../support/probe.ts';

/** Fingerprint of everything a canister keeps: heap, globals and stable memory. */
function fingerprint(canister: Canister): string {
  const hash = createHash('sha256');
  const loaded = canister.loaded;
  if (loaded === undefined) throw new Error('canister is empty');
  hash.update(new Uint8Array(loaded.memory.buffer));
  for (const global of loaded.globals) hash.update(String(global.value));
  for (const [index, page] of [...canister.stable.nonZeroPages()].sort((a, b) => a[0] - b[0])) {
    hash.update(String(index)).update(page);
  }
  hash.update(String(canister.stable.size));
  return hash.digest('hex');
}

describe('localnet executes azle canisters through @dfinity/agent', () => {
  let net: Localnet;
  let probe: Principal;
  let other: Principal;

  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null, instructionLimits: { update: 2_000_000_000n } });
    probe = await net.installCanister({ wasm: probeWasm() });
    other = await net.installCanister({ wasm: probeWasm() });
  });
  afterAll(async () => {
    await net.stop();
  });

  it('round-trips queries and updates, and msgCaller is the Ed25519 identity', async () => {
    const identity = Ed25519KeyIdentity.generate();
    const actor = probeActor(await agentFor(net.url, identity), probe);
    expect(await actor.greet('world')).toBe('Hello, world!');
    expect(await actor.put('k1', 'v1')).toEqual([]);
    expect(await actor.put('k1', 'v2')).toEqual(['v1']);
    expect(await actor.get('k1')).toEqual(['v2']);
    expect((await actor.whoami_update()).toText()).toBe(identity.getPrincipal().toText());
    expect((await actor.whoami()).toText()).toBe(identity.getPrincipal().toText());
  });

  it('sees a secp256k1 identity as the caller', async () => {
    const identity = Secp256k1KeyIdentity.generate();
    const actor = probeActor(await agentFor(net.url, identity), probe);
    expect((await actor.whoami_update()).toText()).toBe(identity.getPrincipal().toText());
  });

  it('serves anonymous queries and updates', async () => {
    const actor = probeActor(await agentFor(net.url, new AnonymousIdentity()), probe);
    expect((await actor.whoami()).toText()).toBe('2vxsx-fae');
    expect((await actor.whoami_update()).toText()).toBe('2vxsx-fae');
  });

  it('rolls a trapping update back exactly: heap, globals and stable memory', async () => {
    const actor = probeActor(await agentFor(net.url), probe);
    await actor.put('before', 'trap');
    const canister = net.engine.getCanister(probe);
    if (canister === undefined) throw new Error('probe missing');
    const sizeBefore = await actor.size();
    const heapBefore = await actor.heap_counter();
    const before = fingerprint(canister);
    await expect(actor.put_then_trap('doomed', 'value')).rejects.toThrow(/deliberate trap after writing doomed/);
    expect(fingerprint(canister)).toBe(before);
    expect(await actor.get('doomed')).toEqual([]);
    expect(await actor.size()).toBe(sizeBefore);
    expect(await actor.heap_counter()).toBe(heapBefore);
    expect(await actor.increment()).toBe(heapBefore + 1n);
  });

  it('turns an uncaught JS error into a reject with the IC trap code', async () => {
    const actor = probeActor(await agentFor(net.url), probe);
    await expect(actor.throw_error('boom')).rejects.toThrow(/IC0503|boom/);
  });

  it('discards every change a query makes', async () => {
    const actor = probeActor(await agentFor(net.url), probe);
    const canister = net.engine.getCanister(probe);
    if (canister === undefined) throw new Error('probe missing');
    const before = fingerprint(canister);
    const heap = await actor.heap_counter();
    expect(await actor.query_mutates()).toBe(heap + 100n);
    expect(await actor.heap_counter()).toBe(heap);
    expect(await actor.get('query-write')).toEqual([]);
    expect(fingerprint(canister)).toBe(before);
  });

  it('refuses an ingress message that canister_inspect_message does not accept', async () => {
    const actor = probeActor(await agentFor(net.url), probe);
    await expect(actor.refused_by_inspect()).rejects.toThrow(/rejected the message/);
  });

  it('returns the callee reply of an inter-canister call', async () => {
    const actor = probeActor(await agentFor(net.url), probe);
    expect(await actor.call_greet(other, 'neighbour')).toEqual({ Ok: 'Hello, neighbour!' });
    expect(await actor.call_greet(probe, 'myself')).toEqual({ Ok: 'Hello, myself!' });
  });

  it('returns a callee trap as a CANISTER_ERROR reject', async () => {
    const actor = probeActor(await agentFor(net.url), probe);
    const outcome = await actor.call_throw(other, 'callee exploded');
    expect(outcome).toMatchObject({ Err: { code: 5 } });
    expect('Err' in outcome && outcome.Err.message).toMatch(/callee exploded/);
  });

  it('rejects calls to missing methods and missing canisters with the right codes', async () => {
    const actor = probeActor(await agentFor(net.url), probe);
    const missingMethod = await actor.call_method(other, 'no_such_method');
    expect(missingMethod).toMatchObject({ Err: { code: 5 } });
    expect('Err' in missingMethod && missingMethod.Err.message).toMatch(/has no update method 'no_such_method'/);
    const nobody = await actor.call_method(
      net.engine.getCanister(probe) === undefined ? probe : (await import('../../src/localnet/ids.ts')).canisterIdFromIndex(0x2000n),
      'greet'
    );
    expect(nobody).toMatchObject({ Err: { code: 3 } });
  });

  it('serves raw_rand to canisters and seeds their randomness', async () => {
    const actor = probeActor(await agentFor(net.url), probe);
    const a = await actor.raw_rand();
    const b = await actor.raw_rand();
    expect(a.length).toBe(32);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
    const r1 = await probeActor(await agentFor(net.url), probe).random_bytes();
    const r2 = await probeActor(await agentFor(net.url), other).random_bytes();
    expect(Buffer.from(r1).equals(Buffer.from(r2))).toBe(false);
  });

  it('fires a timer once canister time passes its deadline', async () => {
    const actor = probeActor(await agentFor(net.url), probe);
    const before = await actor.counter('timer');
    await actor.schedule_timer(3600);
    await net.tick();
    expect(await actor.counter('timer')).toBe(before);
    const wallBefore = Date.now();
    await net.advanceTime(3_600_000);
    expect(await actor.counter('timer')).toBe(before + 1n);
    expect(Number(await actor.now()) / 1e6).toBeGreaterThanOrEqual(wallBefore + 3_600_000);
  });

  it('freezes canister time on request: only advanceTime moves it, and it never moves back when it follows the clock again', async () => {
    const actor = probeActor(await agentFor(net.url), probe);
    net.freezeTime();
    try {
      const frozen = await actor.now();
      await new Promise((resolve) => setTimeout(resolve, 30));
      await actor.counter('timer'); // another message: canister time would have moved with the wall clock
      expect(await actor.now()).toBe(frozen);
      await net.advanceTime(1_000);
      expect(await actor.now()).toBe(frozen + 1_000_000_000n);
    } finally {
      net.freezeTime(false);
    }
    const thawed = await actor.now();
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(await actor.now()).toBeGreaterThan(thawed);
  });

  it('meters instructions: performance_counter grows with the work done', async () => {
    const actor = probeActor(await agentFor(net.url), probe);
    const small = await actor.work(1_000);
    const large = await actor.work(100_000);
    expect(small).toBeGreaterThan(0n);
    expect(large).toBeGreaterThan(small * 10n);
    expect(await actor.work_query(100_000)).toBeGreaterThan(small * 10n);
  });

  it('rejects an update that runs past the instruction limit and keeps nothing it wrote', async () => {
    const actor = probeActor(await agentFor(net.url), probe);
    const canister = net.engine.getCanister(probe);
    if (canister === undefined) throw new Error('probe missing');
    const before = fingerprint(canister);
    await expect(actor.loop_forever('runaway')).rejects.toThrow(/IC0522|exceeded the limit of 2000000000 instructions/);
    expect(fingerprint(canister)).toBe(before);
    expect(await actor.get('runaway')).toEqual([]);
    expect(await actor.greet('still alive')).toBe('Hello, still alive!');
  });

  it('hands queries a data certificate that verifies against the root key', async () => {
    const agent = await agentFor(net.url);
    const actor = probeActor(agent, probe);
    const data = new Uint8Array(32).fill(7);
    await actor.set_certified(data);
    const [certificate] = await actor.certificate();
    if (certificate === undefined) throw new Error('no certificate in a query');
    const verified = await Certificate.create({ certificate, rootKey: net.rootKey, canisterId: probe });
    const certified = lookupResultToBuffer(verified.lookup_path(['canister', probe.toUint8Array(), 'certified_data']));
    expect(certified).toEqual(data);
  });
});
