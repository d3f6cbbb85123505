import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Actor } from '@dfinity/agent';
import { IDL } from '@dfinity/candid';
import { Ed25519KeyIdentity } from '@dfinity/identity';
import { Principal } from '@dfinity/principal';
import { afterAll, describe, expect, it } from 'vitest';

import { Localnet } from '../../src/localnet/localnet.ts';
import { startLocalnetProcess, stopProcess } from '../support/localnet-process.ts';
import { agentFor, probeActor, probeWasm } from '../support/probe.ts';

const dirs: string[] = [];
function stateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'deai-durable-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('durable state directory', () => {
  it('keeps canisters, ids, controllers, stable memory and the root key across a restart; --clean starts fresh', async () => {
    const dir = stateDir();
    const owner = Ed25519KeyIdentity.generate();
    let net = await Localnet.start({ port: 0, stateDir: dir });
    const id = await net.installCanister({ wasm: probeWasm(), controllers: [owner.getPrincipal()] });
    const rootKey = net.rootKeyHex;
    let actor = probeActor(await agentFor(net.url, owner), id);
    for (let i = 0; i < 20; i++) await actor.put(`key-${i}`, `value-${i}`);
    await actor.increment();
    await net.stop();

    net = await Localnet.start({ port: 0, stateDir: dir });
    expect(net.rootKeyHex).toBe(rootKey);
    actor = probeActor(await agentFor(net.url, owner), id);
    expect(await actor.size()).toBe(20n);
    expect(await actor.get('key-7')).toEqual(['value-7']);
    expect(await actor.heap_counter()).toBe(1n); // the heap survives a restart too (unlike an upgrade)
    expect(net.engine.getCanister(id)?.isController(owner.getPrincipal().toUint8Array())).toBe(true);
    const second = await net.installCanister({ wasm: probeWasm() });
    expect(second.toText()).not.toBe(id.toText());
    await net.stop();

    net = await Localnet.start({ port: 0, stateDir: dir, clean: true });
    expect(net.engine.canisters.size).toBe(0);
    await net.stop();
  });

  it('loses no acknowledged update when the process is killed with SIGKILL mid-burst', async () => {
    const dir = stateDir();
    const identity = Ed25519KeyIdentity.generate();
    let { child, url } = await startLocalnetProcess(dir);
    const agent = await agentFor(url, identity);
    const ic = Actor.createActor<{
      provisional_create_canister_with_cycles: (a: unknown) => Promise<{ canister_id: Principal }>;
      install_code: (a: unknown) => Promise<void>;
    }>(
      () =>
        IDL.Service({
          provisional_create_canister_with_cycles: IDL.Func(
            [IDL.Record({ amount: IDL.Opt(IDL.Nat), settings: IDL.Opt(IDL.Record({})), specified_id: IDL.Opt(IDL.Principal) })],
            [IDL.Record({ canister_id: IDL.Principal })],
            []
          ),
          install_code: IDL.Func(
            [
              IDL.Record({
                mode: IDL.Variant({ install: IDL.Null }),
                canister_id: IDL.Principal,
                wasm_module: IDL.Vec(IDL.Nat8),
                arg: IDL.Vec(IDL.Nat8)
              })
            ],
            [],
            []
          )
        }),
      { agent, canisterId: 'aaaaa-aa', effectiveCanisterId: Principal.fromText('aaaaa-aa') }
    );
    const { canister_id: id } = await ic.provisional_create_canister_with_cycles({ amount: [], settings: [], specified_id: [] });
    const install = Actor.createActor<{ install_code: (a: unknown) => Promise<void> }>(
      () =>
        IDL.Service({
          install_code: IDL.Func(
            [
              IDL.Record({
                mode: IDL.Variant({ install: IDL.Null }),
                canister_id: IDL.Principal,
                wasm_module: IDL.Vec(IDL.Nat8),
                arg: IDL.Vec(IDL.Nat8)
              })
            ],
            [],
            []
          )
        }),
      { agent, canisterId: 'aaaaa-aa', effectiveCanisterId: id }
    );
    await install.install_code({
      mode: { install: null },
      canister_id: id,
      wasm_module: probeWasm(),
      arg: new Uint8Array(IDL.encode([], []))
    });

    const actor = probeActor(agent, id);
    const acknowledged: string[] = [];
    let killed = false;
    const senders = Array.from({ length: 8 }, async (_, sender) => {
      for (let i = 0; !killed; i++) {
        const key = `s${sender}-${i}`;
        try {
          await actor.put(key, 'v');
          acknowledged.push(key); // the reply came back, so the update is acknowledged
        } catch {
          return; // the server is gone
        }
      }
    });
    while (acknowledged.length < 40) await new Promise((r) => setTimeout(r, 20));
    const killing = stopProcess(child, 'SIGKILL');
    killed = true;
    await killing;
    await Promise.all(senders);

    ({ child, url } = await startLocalnetProcess(dir));
    try {
      const after = probeActor(await agentFor(url, identity), id);
      for (const key of acknowledged) expect(await after.get(key)).toEqual(['v']);
      expect(Number(await after.size())).toBeGreaterThanOrEqual(acknowledged.length);
    } finally {
      await stopProcess(child);
    }
  }, 120_000);
});
