import { Principal } from '@dfinity/principal';

import { CanisterTrap, ErrorCode } from '../errors.js';
import { DirtyBitmap } from '../wasm/heap-dirty.js';
import { HeapShadow } from '../wasm/heap-shadow.js';
import { INSTRUCTION_COUNTER_EXPORT, INSTRUCTION_LIMIT_EXPORT, OUT_OF_INSTRUCTIONS_IMPORT, TABLE_EXPORT } from '../wasm/instrument.js';
import { StableMemory } from '../wasm/stable-memory.js';
import { createSystemApi, type SystemApiHost } from '../wasm/system-api.js';
import { OUTPUT_QUEUE_CAPACITY, OutstandingCalls } from './call-queues.js';
import type { CompiledCode } from './compiled-code.js';
import type { ExecutionContext } from './context.js';
import type { QueryOverlay } from './query-overlay.js';
import { defaultSettings, type CanisterSettings } from './settings.js';

export type CanisterStatus = 'running' | 'stopping' | 'stopped';

/** Where the Wasm instance of an installed canister lives. */
export interface LoadedCode {
  code: CompiledCode;
  instance: WebAssembly.Instance;
  memory: WebAssembly.Memory;
  table: WebAssembly.Table;
  globals: WebAssembly.Global[];
  counter: WebAssembly.Global;
  limit: WebAssembly.Global;
  shadow: HeapShadow;
  /** which chunks each message wrote, when the module tracks them */
  dirty: DirtyBitmap;
}

export type ExecutionOutcome = { ok: true; instructions: bigint } | { ok: false; instructions: bigint; errorCode: string; detail: string };

export interface LogRecord {
  idx: bigint;
  timestampNs: bigint;
  content: Uint8Array;
}

const MAX_LOG_RECORDS = 1000;

/** One canister: its settings, cycles, code, memories and the bookkeeping the engine needs. */
export class Canister implements SystemApiHost {
  readonly canisterId: Uint8Array;
  status: CanisterStatus = 'running';
  settings: CanisterSettings;
  cycles: bigint;
  versionNumber = 0n;
  certifiedData: Uint8Array = new Uint8Array();
  globalTimer = 0n;
  lastTimeNs = 0n;
  loaded: LoadedCode | undefined;
  stable = new StableMemory();
  readonly chunkStore = new Map<string, Uint8Array>();
  readonly logs: LogRecord[] = [];
  nextLogIdx = 0n;
  /** Calls this canister made whose responses it has not executed yet, per callee (the output-queue limit). */
  readonly outstandingCalls = new OutstandingCalls();
  /** Call contexts of this canister that have not finished (stop waits for zero). */
  openCallContexts = 0;
  /** SHA-256 (hex) of the submitted module bytes, kept as a blob so a restart can re-instantiate it. */
  moduleBlobHash: string | undefined;
  /** Increments whenever code is (re)installed: responses for calls made by older code are dropped. */
  codeEpoch = 0;
  private current: ExecutionContext | undefined;
  private contextInstructionsBase = 0n;

  constructor(
    readonly id: Principal,
    controllers: Principal[],
    cycles: bigint,
    private readonly costCallFn: (name: bigint, payload: bigint) => bigint
  ) {
    this.canisterId = id.toUint8Array();
    this.text = id.toText();
    this.settings = { ...defaultSettings(), controllers };
    this.cycles = cycles;
  }

  /** The textual id, computed once (Principal.toText is costly and every lookup uses it). */
  readonly text: string;

  get isEmpty(): boolean {
    return this.loaded === undefined;
  }

  hasExport(name: string): boolean {
    return this.loaded?.code.exports.has(name) ?? false;
  }

  // ---- SystemApiHost
  memory(): WebAssembly.Memory {
    if (this.loaded === undefined) throw new CanisterTrap(ErrorCode.CanisterWasmModuleNotFound, 'canister is empty');
    return this.loaded.memory;
  }
  context(): ExecutionContext {
    if (this.current === undefined) throw new CanisterTrap(ErrorCode.CanisterContractViolation, 'system API called outside a message');
    return this.current;
  }
  isController(principal: Uint8Array): boolean {
    return this.settings.controllers.some((c) => equalBytes(c.toUint8Array(), principal));
  }
  cycleBalance(): bigint {
    return this.cycles;
  }
  version(): bigint {
    return this.versionNumber;
  }
  instructions(): bigint {
    const counter = this.loaded?.counter.value;
    return typeof counter === 'bigint' ? counter : 0n;
  }
  callContextInstructions(): bigint {
    return this.contextInstructionsBase + this.instructions();
  }
  costCall(methodNameBytes: bigint, payloadBytes: bigint): bigint {
    return this.costCallFn(methodNameBytes, payloadBytes);
  }
  committedGlobalTimer(): bigint {
    return this.globalTimer;
  }
  outputQueueFull(callee: Uint8Array): boolean {
    const performed = this.current?.performedCalls.filter((call) => equalBytes(call.callee, callee)).length ?? 0;
    return this.outstandingCalls.count(Principal.fromUint8Array(callee).toText()) + performed >= OUTPUT_QUEUE_CAPACITY;
  }
  markDirty(offset: number, length: number): void {
    this.loaded?.dirty.mark(offset, length);
  }

  /**
   * Creates a fresh instance of `code` (install, reinstall, upgrade). The caller decides what to keep.
   * Places the dirty bitmap in fresh memory unless `placeDirtyBitmap` is false (a restart resumes the
   * persisted one instead, after copying the heap in).
   */
  instantiate(code: CompiledCode, options: { placeDirtyBitmap?: boolean } = {}): LoadedCode {
    const imports: WebAssembly.Imports = {
      ic0: createSystemApi(this) as WebAssembly.ModuleImports,
      [OUT_OF_INSTRUCTIONS_IMPORT.module]: {
        [OUT_OF_INSTRUCTIONS_IMPORT.name]: () => {
          const limit = this.loaded?.limit.value;
          throw new CanisterTrap(ErrorCode.CanisterInstructionLimitExceeded, String(limit));
        }
      }
    };
    const instance = new WebAssembly.Instance(code.module, imports);
    const exported = instance.exports;
    const memory = exported.memory;
    const table = exported[TABLE_EXPORT];
    const counter = exported[INSTRUCTION_COUNTER_EXPORT];
    const limit = exported[INSTRUCTION_LIMIT_EXPORT];
    if (!(memory instanceof WebAssembly.Memory)) throw new Error('instrumented module exports no memory');
    if (!(table instanceof WebAssembly.Table)) throw new Error('instrumented module exports no table');
    if (!(counter instanceof WebAssembly.Global) || !(limit instanceof WebAssembly.Global)) {
      throw new Error('instrumented module exports no instruction counter');
    }
    const globals = code.mutableGlobalExports.map((name) => {
      const global = exported[name];
      if (!(global instanceof WebAssembly.Global)) throw new Error(`instrumented module exports no global ${name}`);
      return global;
    });
    const dirty = DirtyBitmap.attach(exported, memory);
    if (options.placeDirtyBitmap ?? true) dirty.place(); // before any canister code: its allocator never hands these pages out
    return { code, instance, memory, table, globals, counter, limit, shadow: new HeapShadow(new Uint8Array(memory.buffer)), dirty };
  }

  /**
   * Runs one message: `invoke` calls into Wasm. State changes are kept if it returns and `keep` is true,
   * rolled back otherwise (a trap, or any query). Stable memory is journaled by the caller when `ownJournal` is false.
   */
  execute(
    context: ExecutionContext,
    instructionLimit: bigint,
    invoke: (loaded: LoadedCode) => void,
    options: { keep: boolean; ownJournal?: boolean; contextInstructionsBase?: bigint; overlay?: QueryOverlay }
  ): ExecutionOutcome {
    const loaded = this.loaded;
    if (loaded === undefined) {
      return { ok: false, instructions: 0n, errorCode: ErrorCode.CanisterWasmModuleNotFound, detail: 'canister is empty' };
    }
    const ownJournal = options.ownJournal ?? true;
    const globalsBefore = loaded.globals.map((g) => g.value as unknown);
    if (ownJournal) this.stable.begin();
    loaded.counter.value = 0n;
    loaded.limit.value = instructionLimit;
    this.contextInstructionsBase = options.contextInstructionsBase ?? 0n;
    this.current = context;
    options.overlay?.apply(loaded, this.stable);
    let failure: { errorCode: string; detail: string } | undefined;
    try {
      invoke(loaded);
    } catch (error) {
      failure = describeTrap(error);
    } finally {
      this.current = undefined;
    }
    const instructions = this.instructions();
    const written = loaded.dirty.take(); // undefined: compare all of memory
    if (failure === undefined) options.overlay?.capture(loaded, loaded.shadow, this.stable, written);
    if (failure === undefined && options.keep) {
      if (written === undefined) loaded.shadow.commit(loaded.memory);
      else loaded.shadow.commitChunks(loaded.memory, written);
      if (ownJournal) this.stable.commit();
      return { ok: true, instructions };
    }
    if (written === undefined) loaded.shadow.restore(loaded.memory);
    else loaded.shadow.restoreChunks(loaded.memory, written);
    loaded.globals.forEach((g, i) => {
      g.value = globalsBefore[i];
    });
    if (ownJournal) this.stable.rollback();
    return failure === undefined ? { ok: true, instructions } : { ok: false, instructions, ...failure };
  }

  appendLog(timestampNs: bigint, content: string): void {
    this.logs.push({ idx: this.nextLogIdx++, timestampNs, content: new TextEncoder().encode(content) });
    if (this.logs.length > MAX_LOG_RECORDS) this.logs.splice(0, this.logs.length - MAX_LOG_RECORDS);
  }

  /** Canister time: the host clock, but strictly increasing per canister as the specification requires. */
  nextTime(nowNs: bigint): bigint {
    this.lastTimeNs = nowNs > this.lastTimeNs ? nowNs : this.lastTimeNs + 1n;
    return this.lastTimeNs;
  }
}

export function describeTrap(error: unknown): { errorCode: string; detail: string } {
  if (error instanceof CanisterTrap) return { errorCode: error.errorCode, detail: error.detail };
  if (error instanceof WebAssembly.RuntimeError) return { errorCode: ErrorCode.CanisterTrapped, detail: error.message };
  if (error instanceof RangeError && /call stack/i.test(error.message)) {
    return { errorCode: ErrorCode.CanisterTrapped, detail: 'stack overflow' };
  }
  return { errorCode: ErrorCode.CanisterTrapped, detail: `host error: ${error instanceof Error ? error.message : String(error)}` };
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
