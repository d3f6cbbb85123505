import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';

import { Actor, CanisterStatus, type HttpAgent } from '@dfinity/agent';
import { IDL } from '@dfinity/candid';
import { Ed25519KeyIdentity } from '@dfinity/identity';
import { Principal } from '@dfinity/principal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Localnet } from '../../src/localnet/localnet.ts';
import { agentFor, probeActor, probeWasm } from '../support/probe.ts';

const settings = IDL.Record({
  controllers: IDL.Opt(IDL.Vec(IDL.Principal)),
  compute_allocation: IDL.Opt(IDL.Nat),
  memory_allocation: IDL.Opt(IDL.Nat),
  freezing_threshold: IDL.Opt(IDL.Nat)
});
const idRecord = IDL.Record({ canister_id: IDL.Principal });
const mode = IDL.Variant({
  install: IDL.Null,
  reinstall: IDL.Null,
  upgrade: IDL.Opt(IDL.Record({ skip_pre_upgrade: IDL.Opt(IDL.Bool) }))
});
const managementIdl: IDL.InterfaceFactory = () =>
  IDL.Service({
    provisional_create_canister_with_cycles: IDL.Func(
      [IDL.Record({ amount: IDL.Opt(IDL.Nat), settings: IDL.Opt(settings), specified_id: IDL.Opt(IDL.Principal) })],
      [idRecord],
      []
    ),
    install_code: IDL.Func(
      [IDL.Record({ mode, canister_id: IDL.Principal, wasm_module: IDL.Vec(IDL.Nat8), arg: IDL.Vec(IDL.Nat8) })],
      [],
      []
    ),
    upload_chunk: IDL.Func(
      [IDL.Record({ canister_id: IDL.Principal, chunk: IDL.Vec(IDL.Nat8) })],
      [IDL.Record({ hash: IDL.Vec(IDL.Nat8) })],
      []
    ),
    stored_chunks: IDL.Func([idRecord], [IDL.Vec(IDL.Record({ hash: IDL.Vec(IDL.Nat8) }))], []),
    clear_chunk_store: IDL.Func([idRecord], [], []),
    install_chunked_code: IDL.Func(
      [
        IDL.Record({
          mode,
          target_canister: IDL.Principal,
          store_canister: IDL.Opt(IDL.Principal),
          chunk_hashes_list: IDL.Vec(IDL.Record({ hash: IDL.Vec(IDL.Nat8) })),
          wasm_module_hash: IDL.Vec(IDL.Nat8),
          arg: IDL.Vec(IDL.Nat8)
        })
      ],
      [],
      []
    ),
    canister_status: IDL.Func(
      [idRecord],
      [
        IDL.Record({
          status: IDL.Variant({ running: IDL.Null, stopping: IDL.Null, stopped: IDL.Null }),
          module_hash: IDL.Opt(IDL.Vec(IDL.Nat8)),
          cycles: IDL.Nat,
          settings: IDL.Record({ controllers: IDL.Vec(IDL.Principal) })
        })
      ],
      []
    ),
    update_settings: IDL.Func([IDL.Record({ canister_id: IDL.Principal, settings })], [], []),
    stop_canister: IDL.Func([idRecord], [], []),
    start_canister: IDL.Func([idRecord], [], []),
    delete_canister: IDL.Func([idRecord], [], []),
    raw_rand: IDL.Func([], [IDL.Vec(IDL.Nat8)], [])
  });

type Settings = {
  controllers: [] | [Principal[]];
  compute_allocation: [] | [bigint];
  memory_allocation: [] | [bigint];
  freezing_threshold: [] | [bigint];
};
type Mode = { install: null } | { reinstall: null } | { upgrade: [] | [{ skip_pre_upgrade: [] | [boolean] }] };
interface Management {
  provisional_create_canister_with_cycles(a: {
    amount: [] | [bigint];
    settings: [] | [Settings];
    specified_id: [] | [Principal];
  }): Promise<{ canister_id: Principal }>;
  install_code(a: { mode: Mode; canister_id: Principal; wasm_module: Uint8Array; arg: Uint8Array }): Promise<void>;
  upload_chunk(a: { canister_id: Principal; chunk: Uint8Array }): Promise<{ hash: Uint8Array }>;
  stored_chunks(a: { canister_id: Principal }): Promise<Array<{ hash: Uint8Array }>>;
  clear_chunk_store(a: { canister_id: Principal }): Promise<void>;
  install_chunked_code(a: {
    mode: Mode;
    target_canister: Principal;
    store_canister: [] | [Principal];
    chunk_hashes_list: Array<{ hash: Uint8Array }>;
    wasm_module_hash: Uint8Array;
    arg: Uint8Array;
  }): Promise<void>;
  canister_status(a: {
    canister_id: Principal;
  }): Promise<{ status: Record<string, null>; module_hash: [] | [Uint8Array]; cycles: bigint; settings: { controllers: Principal[] } }>;
  update_settings(a: { canister_id: Principal; settings: Settings }): Promise<void>;
  stop_canister(a: { canister_id: Principal }): Promise<void>;
  start_canister(a: { canister_id: Principal }): Promise<void>;
  delete_canister(a: { canister_id: Principal }): Promise<void>;
  raw_rand(): Promise<Uint8Array>;
}

const noSettings: Settings = { controllers: [], compute_allocation: [], memory_allocation: [], freezing_threshold: [] };
const emptyArg = new Uint8Array(IDL.encode([], []));

function management(agent: HttpAgent, effectiveCanisterId: Principal) {
  return Actor.createActor<Management>(managementIdl, { agent, canisterId: Principal.fromText('aaaaa-aa'), effectiveCanisterId });
}

describe('management canister through @dfinity/agent', () => {
  let net: Localnet;
  let agent: HttpAgent;
  const owner = Ed25519KeyIdentity.generate();
  const stranger = Ed25519KeyIdentity.generate();

  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
    agent = await agentFor(net.url, owner);
  });
  afterAll(async () => {
    await net.stop();
  });

  async function create(): Promise<Principal> {
    const ic = management(agent, Principal.fromText('aaaaa-aa'));
    const { canister_id } = await ic.provisional_create_canister_with_cycles({ amount: [10n ** 13n], settings: [], specified_id: [] });
    return canister_id;
  }

  it('creates, installs, upgrades (keeping stable data) and reinstalls (wiping it)', async () => {
    const id = await create();
    const ic = management(agent, id);
    const wasm = probeWasm();
    await ic.install_code({ mode: { install: null }, canister_id: id, wasm_module: wasm, arg: emptyArg });
    const probe = probeActor(agent, id);
    await probe.put('kept', 'across upgrade');
    await probe.increment();
    await expect(ic.install_code({ mode: { install: null }, canister_id: id, wasm_module: wasm, arg: emptyArg })).rejects.toThrow(
      /not empty|IC0538|IC0514/
    );

    await ic.install_code({ mode: { upgrade: [] }, canister_id: id, wasm_module: wasm, arg: emptyArg });
    expect(await probe.get('kept')).toEqual(['across upgrade']);
    expect(await probe.counter('post_upgrade')).toBe(1n);
    expect(await probe.heap_counter()).toBe(0n); // heap state is reset by an upgrade, as on the IC

    await ic.install_code({ mode: { reinstall: null }, canister_id: id, wasm_module: wasm, arg: emptyArg });
    expect(await probe.get('kept')).toEqual([]);
    expect(await probe.counter('init')).toBe(1n);
  });

  it('accepts gzip modules and reports the module hash of the submitted bytes', async () => {
    const id = await create();
    const ic = management(agent, id);
    const gz = gzipSync(probeWasm());
    await ic.install_code({ mode: { install: null }, canister_id: id, wasm_module: gz, arg: emptyArg });
    const status = await ic.canister_status({ canister_id: id });
    expect(Buffer.from(status.module_hash[0] ?? []).toString('hex')).toBe(createHash('sha256').update(gz).digest('hex'));
    expect(status.status).toEqual({ running: null });
    const read = await CanisterStatus.request({ agent, canisterId: id, paths: ['module_hash', 'controllers', 'candid'] });
    expect(read.get('module_hash')).toBe(createHash('sha256').update(gz).digest('hex'));
    expect(String(read.get('candid'))).toMatch(/greet: \(text\) -> \(text\) query/);
  });

  it('installs large modules from the chunk store', async () => {
    const id = await create();
    const ic = management(agent, id);
    const wasm = probeWasm();
    const hashes: Array<{ hash: Uint8Array }> = [];
    for (let offset = 0; offset < wasm.length; offset += 1_000_000) {
      hashes.push(await ic.upload_chunk({ canister_id: id, chunk: wasm.subarray(offset, offset + 1_000_000) }));
    }
    expect((await ic.stored_chunks({ canister_id: id })).length).toBe(hashes.length);
    const wasmHash = new Uint8Array(createHash('sha256').update(wasm).digest());
    await expect(
      ic.install_chunked_code({
        mode: { install: null },
        target_canister: id,
        store_canister: [],
        chunk_hashes_list: hashes.slice(1),
        wasm_module_hash: wasmHash,
        arg: emptyArg
      })
    ).rejects.toThrow(/does not match/);
    await ic.install_chunked_code({
      mode: { install: null },
      target_canister: id,
      store_canister: [],
      chunk_hashes_list: hashes,
      wasm_module_hash: wasmHash,
      arg: emptyArg
    });
    expect(await probeActor(agent, id).greet('chunks')).toBe('Hello, chunks!');
    await ic.clear_chunk_store({ canister_id: id });
    expect(await ic.stored_chunks({ canister_id: id })).toEqual([]);
  });

  it('rejects invalid Wasm without touching the canister', async () => {
    const id = await create();
    const ic = management(agent, id);
    await expect(
      ic.install_code({ mode: { install: null }, canister_id: id, wasm_module: Uint8Array.from([0, 97, 115, 109, 9, 9]), arg: emptyArg })
    ).rejects.toThrow(/not valid/);
    const status = await ic.canister_status({ canister_id: id });
    expect(status.module_hash).toEqual([]);
  });

  it('rejects an install_code argument that names the canister but is no valid argument, and keeps serving', async () => {
    const id = await create();
    // The target is still found (canister_id decodes alone); the method then rejects the argument as a whole.
    const bogusIdl: IDL.InterfaceFactory = ({ IDL: I }) =>
      I.Service({
        install_code: I.Func(
          [I.Record({ mode: I.Variant({ bogus: I.Null }), canister_id: I.Principal, wasm_module: I.Vec(I.Nat8), arg: I.Vec(I.Nat8) })],
          [],
          []
        )
      });
    const bogus = Actor.createActor<{ install_code: (a: unknown) => Promise<void> }>(bogusIdl, {
      agent,
      canisterId: 'aaaaa-aa',
      effectiveCanisterId: id
    });
    await expect(bogus.install_code({ mode: { bogus: null }, canister_id: id, wasm_module: probeWasm(), arg: emptyArg })).rejects.toThrow(
      /Error decoding candid of ic00 method install_code[\s\S]*IC0408/
    );
    const ic = management(agent, id);
    expect((await ic.canister_status({ canister_id: id })).module_hash).toEqual([]);
    await ic.install_code({ mode: { install: null }, canister_id: id, wasm_module: probeWasm(), arg: emptyArg });
    expect((await ic.canister_status({ canister_id: id })).module_hash).toHaveLength(1);
  });

  it('lets only controllers manage a canister, and update_settings changes controllers', async () => {
    const id = await create();
    const strangerAgent = await agentFor(net.url, stranger);
    await expect(management(strangerAgent, id).canister_status({ canister_id: id })).rejects.toThrow(/Only controllers of canister/);
    const ic = management(agent, id);
    await ic.update_settings({
      canister_id: id,
      settings: { ...noSettings, controllers: [[owner.getPrincipal(), stranger.getPrincipal()]] }
    });
    const status = await management(strangerAgent, id).canister_status({ canister_id: id });
    expect(status.settings.controllers.map((p) => p.toText()).sort()).toEqual(
      [owner.getPrincipal().toText(), stranger.getPrincipal().toText()].sort()
    );
    await expect(ic.update_settings({ canister_id: id, settings: { ...noSettings, compute_allocation: [101n] } })).rejects.toThrow(
      /compute_allocation/
    );
  });

  it('stops, refuses calls while stopped, starts again, and deletes only stopped canisters', async () => {
    const id = await create();
    const ic = management(agent, id);
    await ic.install_code({ mode: { install: null }, canister_id: id, wasm_module: probeWasm(), arg: emptyArg });
    const probe = probeActor(agent, id);
    await expect(ic.delete_canister({ canister_id: id })).rejects.toThrow(/must be stopped|IC0510/);
    await ic.stop_canister({ canister_id: id });
    expect((await ic.canister_status({ canister_id: id })).status).toEqual({ stopped: null });
    await expect(probe.increment()).rejects.toThrow(/is stopped|IC0508/);
    await expect(probe.greet('x')).rejects.toThrow(/is stopped|IC0508/);
    await ic.start_canister({ canister_id: id });
    expect(await probe.greet('again')).toBe('Hello, again!');
    await ic.stop_canister({ canister_id: id });
    await ic.delete_canister({ canister_id: id });
    await expect(probe.greet('gone')).rejects.toThrow(/not found|IC0301/);
  });

  it('refuses raw_rand from ingress and an unknown ic00 method', async () => {
    const ic = management(agent, Principal.fromText('aaaaa-aa'));
    await expect(ic.raw_rand()).rejects.toThrow(/Only canisters can call/);
  });

  it('honours specified_id and refuses it when taken', async () => {
    const ic = management(agent, Principal.fromText('aaaaa-aa'));
    const wanted = Principal.fromText('lxzze-o7777-77777-aaaaa-cai');
    const { canister_id } = await ic.provisional_create_canister_with_cycles({ amount: [], settings: [], specified_id: [wanted] });
    expect(canister_id.toText()).toBe(wanted.toText());
    await expect(ic.provisional_create_canister_with_cycles({ amount: [], settings: [], specified_id: [wanted] })).rejects.toThrow(
      /already/
    );
  });
});
