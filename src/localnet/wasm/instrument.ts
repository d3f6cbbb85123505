import binaryen from 'binaryen';
import { internName, raw } from './instrument-binaryen.js';
import type { MeteringNames } from './instrument-code.js';
import {
  DIRTY_BASE_EXPORT,
  DIRTY_CHUNKS_EXPORT,
  DIRTY_OVERFLOW_EXPORT,
  DirtyMarking,
  addDirtyRuntime,
  type DirtyNames
} from './instrument-dirty.js';
import { FunctionMeterer } from './instrument-metering.js';
import { CodedError } from '../../core/errors/coded-error.js';

export { DIRTY_BASE_EXPORT, DIRTY_CHUNKS_EXPORT, DIRTY_CHUNK_SHIFT, DIRTY_OVERFLOW_EXPORT } from './instrument-dirty.js';

/**
 * Rewrites a canister module so that the localnet can run it like the IC does: instruction metering with
 * a per-message limit, plus exports of what the host must reach from outside (the function table for
 * `call_new` callbacks, the mutable globals for snapshot and rollback).
 *
 * What is counted and where the limit is checked is described in instrument-metering.ts. The host zeroes
 * the counter and sets the limit before each message; the module calls the out-of-instructions import
 * (which must throw) once the counter passes the limit at a loop header or at a calling function's entry.
 * Every write to linear memory also marks the 4 KiB chunks it touches in a bitmap the host places in memory
 * (instrument-dirty.ts), so the host commits or rolls back only what a message wrote.
 * Uses binaryen only to read, edit and write the module: no optimization pass runs, data segments
 * (passive ones included) and custom sections pass through unchanged.
 */

export interface InstrumentedModule {
  /** the rewritten module bytes, ready for new WebAssembly.Module */
  bytes: Uint8Array;
  /** export names of every mutable global of the ORIGINAL module, in global index order (for snapshot/restore), e.g. ["__deai_global_0"]; the stack pointer is among them */
  mutableGlobalExports: string[];
  /** whether memory writes mark the dirty bitmap (then the module exports the __deai_dirty_* globals); false for a module without a 32-bit memory */
  dirtyTracking: boolean;
}

export const TABLE_EXPORT = '__deai_table';
/** mutable i64 global, counts executed instructions upward */
export const INSTRUCTION_COUNTER_EXPORT = '__deai_instructions';
/** mutable i64 global the host sets before each message */
export const INSTRUCTION_LIMIT_EXPORT = '__deai_instruction_limit';
/** () -> () imported function; the host's implementation throws */
export const OUT_OF_INSTRUCTIONS_IMPORT = { module: '__deai', name: 'out_of_instructions' } as const;

export type InstrumentErrorCode = 'NOT_WASM' | 'GZIPPED_WASM' | 'INVALID_WASM' | 'NAME_CLASH' | 'UNSUPPORTED_WASM';

export class InstrumentError extends CodedError<InstrumentErrorCode> {
  constructor(code: InstrumentErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'InstrumentError';
  }
}

const GLOBAL_EXPORT_PREFIX = '__deai_global_';
// Internal (binaryen) names of what this module adds; checked against the module's own names.
const COUNTER_GLOBAL = '__deai$instructions';
const LIMIT_GLOBAL = '__deai$instruction_limit';
const OUT_OF_INSTRUCTIONS_FUNCTION = '__deai$out_of_instructions';
const CHARGE_BYTES_FUNCTION = '__deai$charge_bytes';
const ADDED_TABLE = '__deai$table';
const DIRTY_NAMES: DirtyNames = {
  base: '__deai$dirty_base',
  chunks: '__deai$dirty_chunks',
  overflow: '__deai$dirty_overflow',
  markRange: '__deai$mark_range'
};

/**
 * Instruments raw (uncompressed) Wasm; the caller gunzips a `.wasm.gz` first. `dirtyTracking: false` leaves
 * memory writes unmarked (for comparisons; the host then always compares all of memory).
 * @throws InstrumentError when the bytes are gzip, not Wasm, invalid, or use unsupported features
 */
export function instrumentModule(wasm: Uint8Array, options: { dirtyTracking?: boolean } = {}): InstrumentedModule {
  checkInput(wasm);
  const module = binaryen.readBinary(wasm);
  try {
    module.setFeatures(binaryen.Features.All);
    checkNotInstrumented(module);
    const mutableGlobalExports = exportMutableGlobals(module);
    exportTable(module);
    const names = addMeteringRuntime(module);
    const dirtyTracking = (options.dirtyTracking ?? true) && module.hasMemory() && !module.getMemoryInfo().is64;
    if (dirtyTracking) checkDirtyNames(module);
    meterFunctions(module, names, dirtyTracking ? new DirtyMarking(module, DIRTY_NAMES) : null);
    if (dirtyTracking) addDirtyExports(module);
    return { bytes: module.emitBinary(), mutableGlobalExports, dirtyTracking };
  } finally {
    module.dispose();
  }
}

function checkInput(wasm: Uint8Array): void {
  if (wasm.length >= 3 && wasm[0] === 0x1f && wasm[1] === 0x8b && wasm[2] === 0x08) {
    throw new InstrumentError('GZIPPED_WASM', 'the module is gzip-compressed; gunzip it before instrumenting');
  }
  const magic = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  if (wasm.length < magic.length || magic.some((byte, i) => wasm[i] !== byte)) {
    throw new InstrumentError('NOT_WASM', 'not a WebAssembly 1.0 module (bad magic number or version)');
  }
  // binaryen aborts its whole runtime on malformed input, so let V8 reject it first, with a message.
  const view = wasm.buffer instanceof ArrayBuffer ? new Uint8Array(wasm.buffer, wasm.byteOffset, wasm.byteLength) : wasm.slice();
  if (!WebAssembly.validate(view)) {
    try {
      new WebAssembly.Module(view);
    } catch (cause) {
      const detail = cause instanceof Error ? cause.message : String(cause);
      throw new InstrumentError('INVALID_WASM', `invalid WebAssembly module: ${detail}`, { cause });
    }
    throw new InstrumentError('INVALID_WASM', 'invalid WebAssembly module');
  }
}

function checkNotInstrumented(module: binaryen.Module): void {
  for (let i = 0; i < module.getNumFunctions(); i++) {
    const info = binaryen.getFunctionInfo(module.getFunctionByIndex(i));
    if (info.module === OUT_OF_INSTRUCTIONS_IMPORT.module && info.base === OUT_OF_INSTRUCTIONS_IMPORT.name) {
      throw new InstrumentError('NAME_CLASH', 'the module imports __deai.out_of_instructions: it is already instrumented');
    }
  }
}

function exportedNames(module: binaryen.Module): Set<string> {
  const names = new Set<string>();
  for (let i = 0; i < module.getNumExports(); i++) names.add(binaryen.getExportInfo(module.getExportByIndex(i)).name);
  return names;
}

function addExport(module: binaryen.Module, taken: Set<string>, name: string, add: () => void): void {
  if (taken.has(name)) throw new InstrumentError('NAME_CLASH', `the module already exports "${name}"`);
  add();
  taken.add(name);
}

function exportMutableGlobals(module: binaryen.Module): string[] {
  const taken = exportedNames(module);
  const exports: string[] = [];
  for (let i = 0; i < module.getNumGlobals(); i++) {
    const global = binaryen.getGlobalInfo(module.getGlobalByIndex(i));
    if (!global.mutable) continue;
    const name = `${GLOBAL_EXPORT_PREFIX}${i}`;
    addExport(module, taken, name, () => module.addGlobalExport(global.name, name));
    exports.push(name);
  }
  return exports;
}

/** Exports table 0, adding an empty one to a module without a table so that the export always exists. */
function exportTable(module: binaryen.Module): void {
  const tableName =
    module.getNumTables() > 0
      ? binaryen.getTableInfo(module.getTableByIndex(0)).name
      : binaryen.getTableInfo(module.addTable(ADDED_TABLE, 0, 0, binaryen.funcref)).name;
  addExport(module, exportedNames(module), TABLE_EXPORT, () => module.addTableExport(tableName, TABLE_EXPORT));
}

function addMeteringRuntime(module: binaryen.Module): MeteringNames {
  for (const name of [COUNTER_GLOBAL, LIMIT_GLOBAL]) {
    if (module.getGlobal(name) !== 0) throw new InstrumentError('NAME_CLASH', `the module already has a global named ${name}`);
  }
  for (const name of [OUT_OF_INSTRUCTIONS_FUNCTION, CHARGE_BYTES_FUNCTION]) {
    if (module.getFunction(name) !== 0) throw new InstrumentError('NAME_CLASH', `the module already has a function named ${name}`);
  }
  const taken = exportedNames(module);
  module.addGlobal(COUNTER_GLOBAL, binaryen.i64, true, module.i64.const(0, 0));
  module.addGlobal(LIMIT_GLOBAL, binaryen.i64, true, module.i64.const(0xffffffff, 0x7fffffff));
  addExport(module, taken, INSTRUCTION_COUNTER_EXPORT, () => module.addGlobalExport(COUNTER_GLOBAL, INSTRUCTION_COUNTER_EXPORT));
  addExport(module, taken, INSTRUCTION_LIMIT_EXPORT, () => module.addGlobalExport(LIMIT_GLOBAL, INSTRUCTION_LIMIT_EXPORT));
  module.addFunctionImport(
    OUT_OF_INSTRUCTIONS_FUNCTION,
    OUT_OF_INSTRUCTIONS_IMPORT.module,
    OUT_OF_INSTRUCTIONS_IMPORT.name,
    binaryen.none,
    binaryen.none
  );
  return {
    counter: COUNTER_GLOBAL,
    limit: LIMIT_GLOBAL,
    outOfInstructions: OUT_OF_INSTRUCTIONS_FUNCTION,
    chargeBytes: CHARGE_BYTES_FUNCTION
  };
}

function checkDirtyNames(module: binaryen.Module): void {
  for (const name of [DIRTY_NAMES.base, DIRTY_NAMES.chunks, DIRTY_NAMES.overflow]) {
    if (module.getGlobal(name) !== 0) throw new InstrumentError('NAME_CLASH', `the module already has a global named ${name}`);
  }
  if (module.getFunction(DIRTY_NAMES.markRange) !== 0) {
    throw new InstrumentError('NAME_CLASH', `the module already has a function named ${DIRTY_NAMES.markRange}`);
  }
}

/** Adds the bitmap globals and markRange after the walk (so they stay unmetered), and exports the globals. */
function addDirtyExports(module: binaryen.Module): void {
  addDirtyRuntime(module, DIRTY_NAMES);
  const taken = exportedNames(module);
  addExport(module, taken, DIRTY_BASE_EXPORT, () => module.addGlobalExport(DIRTY_NAMES.base, DIRTY_BASE_EXPORT));
  addExport(module, taken, DIRTY_CHUNKS_EXPORT, () => module.addGlobalExport(DIRTY_NAMES.chunks, DIRTY_CHUNKS_EXPORT));
  addExport(module, taken, DIRTY_OVERFLOW_EXPORT, () => module.addGlobalExport(DIRTY_NAMES.overflow, DIRTY_OVERFLOW_EXPORT));
}

function meterFunctions(module: binaryen.Module, names: MeteringNames, dirty: DirtyMarking | null): void {
  const defined: number[] = [];
  for (let i = 0; i < module.getNumFunctions(); i++) {
    const func = module.getFunctionByIndex(i);
    if (raw.functionGetBody(func) !== 0) defined.push(func); // imports have no body
  }
  const meterer = new FunctionMeterer(module, names, dirty);
  for (const func of defined) {
    const name = binaryen.getFunctionInfo(func).name; // read first: metering may re-create the function
    try {
      meterer.meter(func);
    } catch (cause) {
      const detail = cause instanceof Error ? cause.message : String(cause);
      throw new InstrumentError('UNSUPPORTED_WASM', `cannot instrument function ${name}: ${detail}`, { cause });
    }
  }
  addChargeBytes(module, names);
}

/** `(i32 bytes) -> i32 bytes` charging one instruction per byte; added after the walk so it stays unmetered. */
function addChargeBytes(module: binaryen.Module, names: MeteringNames): void {
  const m = module;
  const counter = internName(names.counter);
  const charged = m.i64.add(raw.globalGet(m.ptr, counter, binaryen.i64), m.i64.extend_u(m.local.get(0, binaryen.i32)));
  const body = m.block(null, [raw.globalSet(m.ptr, counter, charged), m.local.get(0, binaryen.i32)], binaryen.i32);
  m.addFunction(names.chargeBytes, binaryen.i32, binaryen.i32, [], body);
}
