import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';
import binaryen from 'binaryen';
import { afterAll, describe, expect, it } from 'vitest';

import { Canister, type LoadedCode } from '../../../src/localnet/execution/canister.js';
import type { CompiledCode } from '../../../src/localnet/execution/compiled-code.js';
import { ExecutionContext, type EntryKind } from '../../../src/localnet/execution/context.js';
import { Localnet } from '../../../src/localnet/localnet.js';
import { DIRTY_BITMAP_CHUNKS, DirtyBitmap } from '../../../src/localnet/wasm/heap-dirty.js';
import { HEAP_CHUNK_BYTES, HeapShadow } from '../../../src/localnet/wasm/heap-shadow.js';
import { instrumentModule } from '../../../src/localnet/wasm/instrument.js';
import { probeWasm } from '../../support/probe.js';

const PAGE = 65_536;

function compiled(wasm: Uint8Array, dirtyTracking = true): CompiledCode {
  const { bytes, mutableGlobalExports } = instrumentModule(wasm, { dirtyTracking });
  const module = new WebAssembly.Module(new Uint8Array(bytes));
  const exports = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
  return { moduleHash: new Uint8Array(32), module, mutableGlobalExports, exports, metadata: new Map(), binaryBytes: wasm.length };
}

function wat(text: string): Uint8Array {
  const m = binaryen.parseText(text);
  try {
    m.setFeatures(binaryen.Features.All);
    return m.emitBinary();
  } finally {
    m.dispose();
  }
}

/** Runs `entry` as one message of `kind`; the outcome and the reply, in a form two canisters can be compared by. */
interface RunOptions {
  keep: boolean;
  limit?: bigint;
  /** the method name the canister sees; by default the one in `entry` */
  method?: string;
}

function run(canister: Canister, kind: EntryKind, entry: string, arg: Uint8Array, options: RunOptions): string {
  const context = new ExecutionContext(kind, {
    caller: new Uint8Array([4]),
    arg,
    methodName: options.method ?? entry.split(' ').pop() ?? '',
    timeNs: 1_700_000_000_000_000_000n,
    canRespond: kind !== 'init' && kind !== 'post_upgrade',
    cyclesAvailable: 0n,
    cyclesRefunded: 0n,
    rejectCode: 0,
    rejectMessage: ''
  });
  const outcome = canister.execute(
    context,
    options.limit ?? 40_000_000_000n,
    (loaded) => {
      const fn = loaded.instance.exports[entry];
      if (typeof fn !== 'function') throw new Error(`no export ${entry}`);
      fn();
    },
    { keep: options.keep }
  );
  if (!outcome.ok) return `trap ${outcome.errorCode}: ${outcome.detail}`;
  const response = context.response;
  if (response === undefined) return `ok, accepted=${String(context.accepted)}`;
  return response.kind === 'reply' ? `reply ${Buffer.from(response.bytes).toString('hex')}` : `reject ${response.reject.message}`;
}

const writer = wat(`
  (module
    (memory (export "memory") 2)
    (func (export "store32") (param $a i32) (param $v i32) (i32.store (local.get $a) (local.get $v)))
    (func (export "fill") (param $d i32) (param $v i32) (param $n i32) (memory.fill (local.get $d) (local.get $v) (local.get $n)))
    (func (export "growAndStore") (param $v i32) (i32.store (i32.mul (memory.grow (i32.const 1)) (i32.const 65536)) (local.get $v))))
`);

describe('DirtyBitmap and HeapShadow: commit and roll back only what a message wrote', () => {
  function setUp(): { loaded: LoadedCode; call: (name: string, ...args: number[]) => void; bytes: () => Uint8Array } {
    const canister = new Canister(Principal.fromText('aaaaa-aa'), [], 0n, () => 0n);
    const loaded = canister.instantiate(compiled(writer));
    return {
      loaded,
      call: (name, ...args) => {
        const fn = loaded.instance.exports[name];
        if (typeof fn !== 'function') throw new Error(`no export ${name}`);
        fn(...args);
      },
      bytes: () => new Uint8Array(loaded.memory.buffer)
    };
  }

  it('places a 4 GiB bitmap in pages grown before any canister code, and starts with a clean copy of them', () => {
    const { loaded, bytes } = setUp();
    expect(loaded.dirty.placement).toEqual({ base: 2 * PAGE, chunks: DIRTY_BITMAP_CHUNKS });
    expect(bytes().length).toBe(2 * PAGE + DIRTY_BITMAP_CHUNKS);
    expect(loaded.shadow.byteLength).toBe(bytes().length);
    expect(loaded.dirty.take()).toEqual([]);
  });

  it('reports the chunk a store wrote and the next (a store may straddle), commits them and clears the marks', () => {
    const { loaded, call, bytes } = setUp();
    call('store32', 4094, -1);
    call('store32', 9 * HEAP_CHUNK_BYTES, 7);
    expect(loaded.dirty.take()).toEqual([0, 1, 9, 10]);
    expect(loaded.shadow.commitChunks(loaded.memory, [0, 1, 9, 10])).toBe(3);
    expect(Buffer.compare(Buffer.from(bytes()), Buffer.from(loaded.shadow.bytes()))).toBe(0);
    expect(loaded.dirty.take()).toEqual([]);
  });

  it('rolls back exactly the chunks written, a straddling store included', () => {
    const { loaded, call, bytes } = setUp();
    const before = Buffer.from(bytes());
    call('store32', 2 * HEAP_CHUNK_BYTES - 2, 0x01010101);
    call('fill', 5000, 3, 20_000);
    const written = loaded.dirty.take();
    expect(written).toEqual([1, 2, 3, 4, 5, 6, 7]); // 7: the chunk after a marked one is always included
    loaded.shadow.restoreChunks(loaded.memory, written ?? []);
    expect(Buffer.compare(Buffer.from(bytes()), before)).toBe(0);
  });

  it('marks what the host writes into memory on the canister’s behalf', () => {
    const { loaded } = setUp();
    loaded.dirty.mark(3 * HEAP_CHUNK_BYTES + 100, 2 * HEAP_CHUNK_BYTES);
    expect(loaded.dirty.take()).toEqual([3, 4, 5, 6]);
    loaded.dirty.mark(0, 0);
    expect(loaded.dirty.take()).toEqual([]);
  });

  it('grows the committed copy with memory; new pages the message did not write need no copy', () => {
    const { loaded, call, bytes } = setUp();
    call('growAndStore', 42);
    const written = loaded.dirty.take() ?? [];
    loaded.shadow.commitChunks(loaded.memory, written);
    expect(loaded.shadow.byteLength).toBe(bytes().length);
    expect(Buffer.compare(Buffer.from(bytes()), Buffer.from(loaded.shadow.bytes()))).toBe(0);
  });

  it('falls back to a full compare after a write past the coverage (zeroing the bitmap) or into the bitmap (tracking off)', () => {
    const { loaded, call, bytes } = setUp();
    expect(loaded.dirty.resume({ base: 2 * PAGE, chunks: 16 })).toBe(true); // covers only the first 64 KiB
    call('store32', 20 * HEAP_CHUNK_BYTES, 1);
    call('store32', 100, 1);
    expect(loaded.dirty.take()).toBeUndefined();
    expect(
      bytes()
        .subarray(2 * PAGE, 2 * PAGE + 16)
        .every((b) => b === 0)
    ).toBe(true);
    expect(loaded.dirty.take()).toEqual([]); // the overflow flag was reset
    expect(loaded.dirty.resume({ base: 2 * PAGE, chunks: DIRTY_BITMAP_CHUNKS })).toBe(true);
    call('store32', 2 * PAGE + 10, 0x01020304);
    expect(loaded.dirty.take()).toBeUndefined();
    // The canister uses those pages after all: tracking goes off for good and leaves what it wrote alone.
    expect(loaded.dirty.placement).toBeUndefined();
    expect([...bytes().subarray(2 * PAGE + 10, 2 * PAGE + 14)]).toEqual([4, 3, 2, 1]);
    call('store32', 100, 2);
    expect(loaded.dirty.take()).toBeUndefined();
    expect(bytes()[2 * PAGE + 10]).toBe(4);
  });

  it('leaves tracking off when memory cannot grow by the bitmap, or the module was instrumented without it', () => {
    const capped = wat('(module (memory (export "memory") 2 4) (func (export "f")))');
    const canister = new Canister(Principal.fromText('aaaaa-aa'), [], 0n, () => 0n);
    const loaded = canister.instantiate(compiled(capped));
    expect(loaded.dirty.placement).toBeUndefined();
    expect(loaded.memory.buffer.byteLength).toBe(2 * PAGE);
    expect(loaded.dirty.take()).toBeUndefined();
    expect(canister.instantiate(compiled(writer, false)).dirty.placement).toBeUndefined();
    expect(DirtyBitmap.attach({}, loaded.memory).place()).toBe(false);
  });
});

/** After every message: memory equals the committed copy except for the bitmap, which is zero in both. */
function expectConsistent(loaded: LoadedCode): void {
  const placement = loaded.dirty.placement;
  if (placement === undefined) throw new Error('tracking is off');
  const memory = Buffer.from(loaded.memory.buffer);
  const shadow = Buffer.from(loaded.shadow.bytes());
  const bitmapEnd = placement.base + placement.chunks;
  expect(Buffer.compare(memory.subarray(0, placement.base), shadow.subarray(0, placement.base))).toBe(0);
  expect(Buffer.compare(memory.subarray(bitmapEnd, shadow.length), shadow.subarray(bitmapEnd))).toBe(0);
  expect(memory.subarray(shadow.length).every((b) => b === 0)).toBe(true);
  expect(shadow.subarray(placement.base, bitmapEnd).every((b) => b === 0)).toBe(true);
  expect(memory.subarray(placement.base, bitmapEnd).every((b) => b === 0)).toBe(true);
}

describe('the azle probe canister with dirty tracking on and off', () => {
  const wasm = probeWasm();
  const candid = (types: IDL.Type[], values: unknown[]): Uint8Array => new Uint8Array(IDL.encode(types, values));

  it('replies identically with identical memory, keeps memory and committed copy equal, and never falls back', () => {
    const on = new Canister(Principal.fromText('aaaaa-aa'), [], 10n ** 15n, () => 0n);
    const off = new Canister(Principal.fromText('aaaaa-aa'), [], 10n ** 15n, () => 0n);
    const codeOn = compiled(wasm);
    const codeOff = compiled(wasm, false);
    let fallbacks = 0;
    const install = (canister: Canister, code: CompiledCode): void => {
      const loaded = canister.instantiate(code);
      if (code === codeOff) {
        // The same layout as with the bitmap, so that addresses, and so instruction counts, are the same.
        loaded.memory.grow(DIRTY_BITMAP_CHUNKS / PAGE);
        loaded.shadow = new HeapShadow(new Uint8Array(loaded.memory.buffer));
      }
      const take = loaded.dirty.take.bind(loaded.dirty);
      loaded.dirty.take = () => {
        const written = take();
        if (written === undefined && code === codeOn) fallbacks++;
        return written;
      };
      canister.loaded = loaded;
    };
    const both = (kind: EntryKind, entry: string, arg: Uint8Array, options: RunOptions): string => {
      const reply = run(on, kind, entry, arg, options);
      expect(run(off, kind, entry, arg, options)).toBe(reply);
      if (on.loaded === undefined || off.loaded === undefined) throw new Error('not installed');
      expectConsistent(on.loaded);
      expect(Buffer.compare(Buffer.from(on.loaded.memory.buffer), Buffer.from(off.loaded.memory.buffer))).toBe(0);
      return reply;
    };
    const empty = candid([], []);
    for (const [canister, code] of [
      [on, codeOn],
      [off, codeOff]
    ] as const)
      install(canister, code);
    both('init', 'canister_init', empty, { keep: true });
    for (let i = 0; i < 12; i++)
      both('update', 'canister_update put', candid([IDL.Text, IDL.Text], [`key-${i}`, `${i}`.repeat(1000 * i)]), { keep: true });
    both('update', 'canister_update work', candid([IDL.Nat32], [20_000]), { keep: true });
    for (let i = 0; i < 3; i++) both('update', 'canister_update increment', empty, { keep: true });
    expect(both('query', 'canister_query greet', candid([IDL.Text], ['dirty']), { keep: false })).toMatch(/^reply /);
    both('query', 'canister_query query_mutates', empty, { keep: false });
    expect(
      both('update', 'canister_update put_then_trap', candid([IDL.Text, IDL.Text], ['doomed', 'x'.repeat(5000)]), { keep: true })
    ).toMatch(/deliberate trap/);
    expect(
      both('update', 'canister_update put', candid([IDL.Text, IDL.Text], ['huge', 'y'.repeat(60_000)]), { keep: true, limit: 500_000_000n })
    ).toMatch(/^trap IC0522/);
    const putArg = candid([IDL.Text, IDL.Text], ['inspected', 'v']);
    expect(both('inspect_message', 'canister_inspect_message', putArg, { keep: false, method: 'put' })).toBe('ok, accepted=true');
    expect(both('inspect_message', 'canister_inspect_message', empty, { keep: false, method: 'refused_by_inspect' })).toBe(
      'ok, accepted=false'
    );
    expect(both('query', 'canister_query heap_counter', empty, { keep: false })).toBe(
      run(off, 'query', 'canister_query heap_counter', empty, { keep: false })
    );
    // An upgrade: a fresh instance (the bitmap is placed again), the stable data kept.
    for (const [canister, code] of [
      [on, codeOn],
      [off, codeOff]
    ] as const)
      install(canister, code);
    both('post_upgrade', 'canister_post_upgrade', empty, { keep: true });
    for (let i = 0; i < 5; i++)
      both('update', 'canister_update put', candid([IDL.Text, IDL.Text], [`after-${i}`, 'z'.repeat(2000)]), { keep: true });
    expect(both('query', 'canister_query size', empty, { keep: false })).toBe(
      `reply ${Buffer.from(candid([IDL.Nat64], [17n])).toString('hex')}`
    );
    expect(both('query', 'canister_query get', candid([IDL.Text], ['key-3']), { keep: false })).toContain(
      Buffer.from('333').toString('hex')
    );
    expect(fallbacks).toBe(0); // the allocator never wrote into the bitmap pages
    const loaded = on.loaded;
    if (loaded?.dirty.placement === undefined) throw new Error('tracking is off');
    // The allocator grew memory past the bitmap and uses it.
    expect(loaded.memory.buffer.byteLength).toBeGreaterThan(loaded.dirty.placement.base + DIRTY_BITMAP_CHUNKS + 64 * PAGE);
  }, 120_000);
});

describe('dirty tracking across a restart', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('resumes the persisted bitmap instead of growing memory again, and keeps committing through it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'deai-dirty-'));
    dirs.push(dir);
    const increment = async (net: Localnet, id: Principal): Promise<unknown> =>
      IDL.decode([IDL.Nat], await net.update(id, 'increment', new Uint8Array(IDL.encode([], []))))[0];
    let net = await Localnet.start({ port: 0, stateDir: dir });
    const id = await net.installCanister({ wasm: probeWasm() });
    expect(await increment(net, id)).toBe(1n);
    const before = net.engine.getCanister(id)?.loaded;
    const placement = before?.dirty.placement;
    const pages = before?.memory.buffer.byteLength;
    expect(placement).toBeDefined();
    await net.stop();

    for (const expected of [2n, 3n]) {
      net = await Localnet.start({ port: 0, stateDir: dir });
      const loaded = net.engine.getCanister(id)?.loaded;
      expect(loaded?.dirty.placement).toEqual(placement);
      expect(loaded?.memory.buffer.byteLength).toBe(pages);
      expect(await increment(net, id)).toBe(expected);
      if (loaded !== undefined) expectConsistent(loaded);
      await net.stop();
    }
  }, 120_000);
});
