import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

import binaryen from 'binaryen';
import { describe, expect, it } from 'vitest';

import {
  DIRTY_BASE_EXPORT,
  DIRTY_CHUNKS_EXPORT,
  DIRTY_OVERFLOW_EXPORT,
  INSTRUCTION_COUNTER_EXPORT,
  INSTRUCTION_LIMIT_EXPORT,
  InstrumentError,
  OUT_OF_INSTRUCTIONS_IMPORT,
  TABLE_EXPORT,
  instrumentModule
} from '../../../src/localnet/wasm/instrument.js';

const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures');
const PROBE_WASM = join(FIXTURES, '.azle', 'probe', 'probe.wasm');

class OutOfInstructions extends Error {}

/** WebAssembly's constructors take only ArrayBuffer-backed views (TypeScript 5.9 tells them apart). */
function compile(bytes: Uint8Array): WebAssembly.Module {
  return new WebAssembly.Module(new Uint8Array(bytes));
}

/** Assembles WAT with binaryen's text parser. */
function wat(text: string): Uint8Array {
  const m = binaryen.parseText(text);
  try {
    m.setFeatures(binaryen.Features.All);
    if (m.validate() !== 1) throw new Error('test module does not validate');
    return m.emitBinary();
  } finally {
    m.dispose();
  }
}

interface Metered {
  exports: WebAssembly.Exports;
  counter: WebAssembly.Global;
  limit: WebAssembly.Global;
  /** runs `fn` from a zeroed counter and returns the instructions it was charged */
  measure: (fn: () => unknown) => bigint;
}

function instantiate(wasm: Uint8Array, env: WebAssembly.ModuleImports = { peek: () => undefined }): Metered {
  const { bytes } = instrumentModule(wasm);
  const imports = {
    env,
    [OUT_OF_INSTRUCTIONS_IMPORT.module]: {
      [OUT_OF_INSTRUCTIONS_IMPORT.name]: () => {
        throw new OutOfInstructions('out of instructions');
      }
    }
  };
  const { exports } = new WebAssembly.Instance(compile(bytes), imports);
  const counter = exports[INSTRUCTION_COUNTER_EXPORT];
  const limit = exports[INSTRUCTION_LIMIT_EXPORT];
  if (!(counter instanceof WebAssembly.Global) || !(limit instanceof WebAssembly.Global)) throw new Error('no metering globals');
  const measure = (fn: () => unknown): bigint => {
    counter.value = 0n;
    fn();
    const value: unknown = counter.value;
    if (typeof value !== 'bigint') throw new Error('counter is not an i64');
    return value;
  };
  return { exports, counter, limit, measure };
}

function exportedFunction(exports: WebAssembly.Exports, name: string): (...args: number[]) => unknown {
  const fn = exports[name];
  if (typeof fn !== 'function') throw new Error(`no exported function ${name}`);
  return (...args) => fn(...args);
}

/** Instructions are counted per expression; the comments give each segment's count. */
const sample = wat(`
  (module
    (import "env" "peek" (func $peek))
    (memory 1 1)
    (func $sum (export "sum") (param $n i32) (result i32) (local $i i32) (local $acc i32)
      (local.set $i (i32.const 1))                                ;; 2: function entry
      (block $done
        (loop $next                                               ;; 13 per pass of the body
          (br_if $done (i32.gt_s (local.get $i) (local.get $n)))
          (local.set $acc (i32.add (local.get $acc) (local.get $i)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $next)))
      (local.get $acc))                                           ;; 1: after $done
    (func $abs (export "abs") (param $x i32) (result i32)
      (if (result i32) (i32.lt_s (local.get $x) (i32.const 0))    ;; 4: entry, including the if
        (then (i32.sub (i32.const 0) (local.get $x)))             ;; 3
        (else (local.get $x))))                                   ;; 1
    (func $classify (export "classify") (param $x i32) (result i32) (local $r i32)
      (block $outer
        (block $inner
          (br_if $inner (i32.eqz (local.get $x)))                 ;; 6: entry, up to the end of $inner
          (local.set $r (i32.const 10))
          (br $outer))
        (local.set $r (i32.const 20)))                            ;; 2: after $inner
      (local.get $r))                                             ;; 1: after $outer
    (func $fill (export "fill") (param $n i32)
      (memory.fill (i32.const 0) (i32.const 7) (local.get $n)))   ;; 4, plus n bytes
    (func $spin (export "spin")
      (loop $forever (br $forever)))
    (func $recurse (export "recurse")
      (call $recurse))
    (func $pick (export "pick") (param $x i32) (result i32)
      (if (i32.eqz (local.get $x))                                ;; 3: entry, including the if
        (then (return (if (result i32) (local.get $x)             ;; 3: return, get, if
          (then (i32.const 1))                                    ;; 1
          (else (i32.const 2))))))                                ;; 1
      (i32.const 3))                                              ;; 1: after the if
    (func $absPlusOne (export "absPlusOne") (param $x i32) (result i32)
      (i32.add (call $abs (local.get $x)) (i32.const 1)))         ;; 4, plus what abs is charged
    (func $observe (export "observe")
      (drop (i32.const 1))                                        ;; 5: one segment, charged on entry
      (call $peek)
      (drop (i32.const 2))))
`);

describe('instrumentModule: per-segment instruction counting', () => {
  const peeked: unknown[] = [];
  const { exports, counter, measure } = instantiate(sample, { peek: () => peeked.push(counter.value) });
  const sum = exportedFunction(exports, 'sum');

  it('keeps the functions working', () => {
    expect(sum(10)).toBe(55);
    expect(exportedFunction(exports, 'abs')(-4)).toBe(4);
    expect(exportedFunction(exports, 'classify')(0)).toBe(20);
    expect(exportedFunction(exports, 'classify')(1)).toBe(10);
  });

  it('charges a loop per iteration: 2 before it, 13 per pass of its body (n + 1 passes), 1 after it', () => {
    // local.set+const | br_if gt_s get get, set add get get, set add get const, br | local.get
    expect(measure(() => sum(0))).toBe(16n);
    expect(measure(() => sum(3))).toBe(55n);
    for (const n of [10, 100, 1000, 100_000]) expect(measure(() => sum(n))).toBe(BigInt(13 * n + 16));
  });

  it('charges only the arm of an if/else that runs', () => {
    // lt_s get const if | sub const get (then) | get (else)
    const abs = exportedFunction(exports, 'abs');
    expect(measure(() => abs(-5))).toBe(7n);
    expect(measure(() => abs(5))).toBe(5n);
  });

  it('starts a new segment after a nested block ends, where its branches land', () => {
    // br_if eqz get, set const, br (charged together on entry) | set const (after inner) | local.get (after outer)
    const classify = exportedFunction(exports, 'classify');
    expect(measure(() => classify(0))).toBe(6n + 2n + 1n); // a taken br_if is charged for the rest of its segment
    expect(measure(() => classify(1))).toBe(6n + 1n);
  });

  it('charges what a function computes after its last charge point before it returns', () => {
    const pick = exportedFunction(exports, 'pick');
    expect(pick(0)).toBe(2);
    expect(measure(() => pick(0))).toBe(3n + 3n + 1n);
    expect(measure(() => pick(5))).toBe(3n + 1n);
  });

  it('adds what a callee is charged to its caller', () => {
    expect(measure(() => exportedFunction(exports, 'absPlusOne')(-5))).toBe(4n + 7n);
  });

  it('brings the counter up to date before calling out, as ic0.performance_counter needs', () => {
    peeked.length = 0;
    expect(measure(() => exportedFunction(exports, 'observe')())).toBe(5n);
    expect(peeked).toEqual([5n]);
  });

  it('charges memory.fill one instruction per byte on top of its operands', () => {
    const fill = exportedFunction(exports, 'fill');
    expect(measure(() => fill(0))).toBe(4n);
    expect(measure(() => fill(1000))).toBe(1004n);
  });
});

describe('instrumentModule: instruction limit', () => {
  it('calls out_of_instructions from a loop header once the limit is passed', () => {
    const { exports, counter, limit } = instantiate(sample);
    counter.value = 0n;
    limit.value = 1_000_000n;
    expect(() => exportedFunction(exports, 'spin')()).toThrow(OutOfInstructions);
    const charged: unknown = counter.value;
    expect(typeof charged === 'bigint' && charged > 1_000_000n && charged < 1_000_010n).toBe(true);
  });

  it('calls out_of_instructions at function entry, which stops unbounded recursion', () => {
    const { exports, counter, limit } = instantiate(sample);
    counter.value = 0n;
    limit.value = 1_000n;
    expect(() => exportedFunction(exports, 'recurse')()).toThrow(OutOfInstructions);
  });

  it('does not call it at the limit itself, only past it', () => {
    const { exports, counter, limit } = instantiate(sample);
    counter.value = 0n;
    limit.value = BigInt(13 * 3 + 16);
    expect(exportedFunction(exports, 'sum')(3)).toBe(6);
    counter.value = 0n;
    limit.value = BigInt(13 * 3 + 14);
    expect(() => exportedFunction(exports, 'sum')(3)).toThrow(OutOfInstructions);
  });

  it('starts with the counter at 0 and the limit at the largest i64', () => {
    const { counter, limit } = instantiate(sample);
    expect(counter.value).toBe(0n);
    expect(limit.value).toBe(2n ** 63n - 1n);
  });
});

/** Memory writes of every kind; 4 pages, the bitmap goes into the last one. */
const writer = wat(`
  (module
    (memory (export "memory") 4)
    (data $bytes "abcdefgh")
    (func (export "store32") (param $a i32) (param $v i32) (i32.store (local.get $a) (local.get $v)))
    (func (export "store8") (param $a i32) (param $v i32) (i32.store8 (local.get $a) (local.get $v)))
    (func (export "store64at4096") (param $a i32) (i64.store offset=4096 (local.get $a) (i64.const -1)))
    (func (export "storeNested") (param $a i32) (param $b i32)
      (i32.store (local.get $a) (i32.add (i32.const 1) (block (result i32) (i32.store8 (local.get $b) (i32.const 9)) (i32.const 5)))))
    (func (export "atomicAdd") (param $a i32) (drop (i32.atomic.rmw.add (local.get $a) (i32.const 3))))
    (func (export "fill") (param $d i32) (param $n i32) (memory.fill (local.get $d) (i32.const 7) (local.get $n)))
    (func (export "copy") (param $d i32) (param $s i32) (param $n i32) (memory.copy (local.get $d) (local.get $s) (local.get $n)))
    (func (export "init") (param $d i32) (memory.init $bytes (local.get $d) (i32.const 0) (i32.const 8)))
    (func (export "load32") (param $a i32) (result i32) (i32.load (local.get $a))))
`);

describe('instrumentModule: dirty-chunk marking', () => {
  const BITMAP = 3 * 65_536;

  function tracked(chunks: number): {
    call: (name: string, ...args: number[]) => unknown;
    bitmap: () => number[];
    overflow: () => unknown;
    memory: Uint8Array;
  } {
    const { bytes, dirtyTracking } = instrumentModule(writer);
    expect(dirtyTracking).toBe(true);
    const { exports } = new WebAssembly.Instance(compile(bytes), { __deai: { out_of_instructions: () => undefined } });
    const [base, coverage, overflow, memory] = [
      exports[DIRTY_BASE_EXPORT],
      exports[DIRTY_CHUNKS_EXPORT],
      exports[DIRTY_OVERFLOW_EXPORT],
      exports.memory
    ];
    if (!(base instanceof WebAssembly.Global) || !(coverage instanceof WebAssembly.Global) || !(overflow instanceof WebAssembly.Global)) {
      throw new Error('no dirty-bitmap globals');
    }
    if (!(memory instanceof WebAssembly.Memory)) throw new Error('no memory');
    expect([base.value, coverage.value, overflow.value]).toEqual([0, 0, 0]); // tracking starts off
    base.value = BITMAP;
    coverage.value = chunks;
    const view = new Uint8Array(memory.buffer);
    return {
      call: (name, ...args) => exportedFunction(exports, name)(...args),
      bitmap: () => [...view.subarray(BITMAP, BITMAP + chunks)].flatMap((mark, chunk) => (mark === 0 ? [] : [chunk])),
      overflow: () => overflow.value,
      memory: view
    };
  }

  it('marks the chunk of every store, keeping its effect', () => {
    const t = tracked(48);
    t.call('store32', 5000, 0x01020304);
    t.call('store8', 40_000, 255);
    expect(t.bitmap()).toEqual([1, 9]);
    expect(t.call('load32', 5000)).toBe(0x01020304);
    expect(t.memory[40_000]).toBe(255);
    expect(t.overflow()).toBe(0);
  });

  it('marks a straddling store by the chunk of its first byte (the host adds the next one) and honours static offsets', () => {
    const t = tracked(48);
    t.call('store32', 4094, -1);
    expect(t.bitmap()).toEqual([0]);
    expect([t.memory[4095], t.memory[4096], t.memory[4097]]).toEqual([255, 255, 255]);
    t.call('store64at4096', 8192 + 10);
    expect(t.bitmap()).toEqual([0, 3]);
  });

  it('evaluates a nested store in the value operand once, marking both', () => {
    const t = tracked(48);
    t.call('storeNested', 20_000, 30_000);
    expect(t.call('load32', 20_000)).toBe(6);
    expect(t.memory[30_000]).toBe(9);
    expect(t.bitmap()).toEqual([4, 7]);
  });

  it('marks atomic read-modify-writes', () => {
    const t = tracked(48);
    t.call('atomicAdd', 12_288);
    expect(t.bitmap()).toEqual([3]);
    expect(t.call('load32', 12_288)).toBe(3);
  });

  it('marks every chunk that memory.fill, memory.copy and memory.init write, and none for zero length', () => {
    const t = tracked(48);
    t.call('fill', 4000, 10_000); // bytes 4000..13999: chunks 0..3
    expect(t.bitmap()).toEqual([0, 1, 2, 3]);
    expect(t.memory[13_999]).toBe(7);
    t.call('copy', 81_920, 4000, 4097); // 20 * 4096: chunks 20..21
    t.call('init', 65_536 + 4092); // 8 bytes straddling chunks 16..17
    expect(t.bitmap()).toEqual([0, 1, 2, 3, 16, 17, 20, 21]);
    expect(new TextDecoder().decode(t.memory.subarray(65_536 + 4092, 65_536 + 4100))).toBe('abcdefgh');
    t.call('fill', 150_000, 0);
    t.call('copy', 150_000, 0, 0);
    expect(t.bitmap()).toEqual([0, 1, 2, 3, 16, 17, 20, 21]);
    expect(t.overflow()).toBe(0);
  });

  it('sets the overflow flag instead of marking past the coverage, and marks nothing while tracking is off', () => {
    const t = tracked(8);
    t.call('store32', 8 * 4096, 1);
    t.call('fill', 7 * 4096, 8192);
    expect(t.bitmap()).toEqual([]);
    expect(t.overflow()).toBe(1);
    const off = tracked(0);
    const before = Buffer.from(off.memory);
    off.call('store8', 100, 1);
    off.call('fill', 0, 50);
    expect(off.overflow()).toBe(1);
    expect(Buffer.compare(Buffer.from(off.memory.subarray(BITMAP)), before.subarray(BITMAP))).toBe(0);
  });

  it('charges the same instructions with and without marking (it is host bookkeeping)', () => {
    const measure = (dirtyTracking: boolean, name: string, ...args: number[]): unknown => {
      const { bytes } = instrumentModule(writer, { dirtyTracking });
      const { exports } = new WebAssembly.Instance(compile(bytes), { __deai: { out_of_instructions: () => undefined } });
      const counter = exports[INSTRUCTION_COUNTER_EXPORT];
      if (!(counter instanceof WebAssembly.Global)) throw new Error('no counter');
      exportedFunction(exports, name)(...args);
      return counter.value;
    };
    for (const [name, ...args] of [
      ['store32', 5000, 1],
      ['storeNested', 1, 2],
      ['fill', 0, 10_000],
      ['copy', 100, 0, 5000]
    ] as const) {
      expect(measure(true, name, ...args)).toBe(measure(false, name, ...args));
    }
  });

  it('leaves a module without memory unmarked and without the bitmap exports', () => {
    const { bytes, dirtyTracking } = instrumentModule(wat(`(module (func (export "f")))`));
    expect(dirtyTracking).toBe(false);
    const names = WebAssembly.Module.exports(compile(bytes)).map((e) => e.name);
    expect(names).not.toContain(DIRTY_BASE_EXPORT);
  });
});

describe('instrumentModule: exports and errors', () => {
  const withGlobalsAndTable = wat(`
    (module
      (global $constant i32 (i32.const 1))
      (global $stack_pointer (mut i32) (i32.const 1024))
      (global $wide (mut i64) (i64.const 5))
      (table 2 2 funcref)
      (elem (i32.const 0) $seven $eight)
      (func $seven (result i32) (i32.const 7))
      (func $eight (export "eight") (result i32) (i32.const 8)))
  `);

  it('exports every mutable global in index order and table 0, keeping the existing exports', () => {
    const { bytes, mutableGlobalExports } = instrumentModule(withGlobalsAndTable);
    expect(mutableGlobalExports).toEqual(['__deai_global_1', '__deai_global_2']);
    const imports = { __deai: { out_of_instructions: () => undefined } };
    const { exports } = new WebAssembly.Instance(compile(bytes), imports);
    expect(Object.keys(exports).sort()).toEqual(
      ['eight', '__deai_global_1', '__deai_global_2', TABLE_EXPORT, INSTRUCTION_COUNTER_EXPORT, INSTRUCTION_LIMIT_EXPORT].sort()
    );
    const stackPointer = exports.__deai_global_1;
    expect(stackPointer instanceof WebAssembly.Global && stackPointer.value).toBe(1024);
    const table = exports[TABLE_EXPORT];
    if (!(table instanceof WebAssembly.Table)) throw new Error('no table export');
    const first: unknown = table.get(0);
    expect(typeof first === 'function' && first()).toBe(7);
  });

  it('exports an empty table when the module has none', () => {
    const { bytes } = instrumentModule(sample);
    const imports = { env: { peek: () => undefined }, __deai: { out_of_instructions: () => undefined } };
    const instance = new WebAssembly.Instance(compile(bytes), imports);
    const table = instance.exports[TABLE_EXPORT];
    expect(table instanceof WebAssembly.Table && table.length).toBe(0);
  });

  it('rejects gzip, non-Wasm and invalid Wasm with coded errors', () => {
    const codeOf = (bytes: Uint8Array): string => {
      try {
        instrumentModule(bytes);
      } catch (error) {
        if (error instanceof InstrumentError) return error.code;
        throw error;
      }
      return 'none';
    };
    expect(codeOf(gzipSync(sample))).toBe('GZIPPED_WASM');
    expect(codeOf(new TextEncoder().encode('not wasm at all'))).toBe('NOT_WASM');
    const truncated = sample.slice(0, sample.length - 3);
    expect(codeOf(truncated)).toBe('INVALID_WASM');
    expect(() => instrumentModule(truncated)).toThrow(/invalid WebAssembly module: .+/);
  });

  it('refuses to instrument a module twice', () => {
    expect(() => instrumentModule(instrumentModule(sample).bytes)).toThrow(InstrumentError);
  });
});

function probeWasm(): Uint8Array | undefined {
  if (!existsSync(PROBE_WASM)) {
    try {
      execFileSync('npx', ['azle', 'build', 'probe'], {
        cwd: FIXTURES,
        env: { ...process.env, CANISTER_CANDID_PATH: 'probe/probe.did' },
        stdio: 'ignore',
        timeout: 120_000
      });
    } catch {
      return undefined;
    }
  }
  return existsSync(PROBE_WASM) ? new Uint8Array(readFileSync(PROBE_WASM)) : undefined;
}

describe('instrumentModule on the azle probe canister', () => {
  const wasm = probeWasm();

  it.skipIf(wasm === undefined)('produces a valid module with the metering imports and exports', () => {
    if (wasm === undefined) return;
    const started = performance.now();
    const { bytes, mutableGlobalExports, dirtyTracking } = instrumentModule(wasm);
    expect(dirtyTracking).toBe(true);
    const elapsedMs = performance.now() - started;
    console.log(
      `instrumented probe.wasm in ${elapsedMs.toFixed(0)} ms: ${wasm.length} -> ${bytes.length} bytes ` +
        `(+${(((bytes.length - wasm.length) / wasm.length) * 100).toFixed(1)}%)`
    );
    // How long it takes is bench:localnet's figure (cold boot), not a timed assertion that a loaded machine breaks.
    expect(mutableGlobalExports).toEqual(['__deai_global_0']);
    expect(WebAssembly.validate(new Uint8Array(bytes))).toBe(true);
    const reread = binaryen.readBinary(bytes);
    try {
      reread.setFeatures(binaryen.Features.All);
      expect(reread.validate()).toBe(1);
    } finally {
      reread.dispose();
    }

    const original = compile(wasm);
    const module = compile(bytes);
    expect(WebAssembly.Module.imports(module)).toEqual([
      ...WebAssembly.Module.imports(original),
      { module: OUT_OF_INSTRUCTIONS_IMPORT.module, name: OUT_OF_INSTRUCTIONS_IMPORT.name, kind: 'function' }
    ]);
    const exportNames = WebAssembly.Module.exports(module).map((e) => e.name);
    expect(exportNames).toEqual(expect.arrayContaining(WebAssembly.Module.exports(original).map((e) => e.name)));
    expect(exportNames).toEqual(
      expect.arrayContaining([
        TABLE_EXPORT,
        '__deai_global_0',
        INSTRUCTION_COUNTER_EXPORT,
        INSTRUCTION_LIMIT_EXPORT,
        DIRTY_BASE_EXPORT,
        DIRTY_CHUNKS_EXPORT,
        DIRTY_OVERFLOW_EXPORT
      ])
    );

    // Instantiation runs no code (azle has no start function), so placeholder imports suffice.
    const imports: Record<string, Record<string, () => never>> = {};
    for (const imported of WebAssembly.Module.imports(module)) {
      imports[imported.module] ??= {};
      const namespace = imports[imported.module];
      if (namespace !== undefined) {
        namespace[imported.name] = () => {
          throw new Error(`unexpected call to ${imported.module}.${imported.name}`);
        };
      }
    }
    const { exports } = new WebAssembly.Instance(module, imports);
    expect(exports[TABLE_EXPORT]).toBeInstanceOf(WebAssembly.Table);
    expect(exports.__deai_global_0).toBeInstanceOf(WebAssembly.Global);
    expect(exports[INSTRUCTION_COUNTER_EXPORT]).toBeInstanceOf(WebAssembly.Global);
    expect(exports[INSTRUCTION_LIMIT_EXPORT]).toBeInstanceOf(WebAssembly.Global);
  });
});
