import { createHash } from 'node:crypto';

import { IDL } from '@dfinity/candid';
import type { Principal } from '@dfinity/principal';

import { ErrorCode } from '../errors.js';
import type { Canister } from '../execution/canister.js';
import type { Response } from '../execution/context.js';
import { rejectResponse, type BuiltinCall, type Engine } from '../execution/engine.js';
import { installCode, uninstallCode, type InstallMode } from '../execution/install.js';
import { MAX_CONTROLLERS, type CanisterSettings } from '../execution/settings.js';
import { WASM_PAGE_BYTES } from '../wasm/stable-memory.js';
import { decodeOne, reply } from './candid.js';
import type { Opt } from '../../interface/candid.js';
import {
  CanisterIdRecord,
  type CanisterSettingsArg,
  type InstallMode as InstallModeArg,
  CanisterStatusResult,
  ChunkHash,
  CreateCanisterArgs,
  FetchCanisterLogsResult,
  InstallChunkedCodeArgs,
  InstallCodeArgs,
  ProvisionalCreateArgs,
  ProvisionalTopUpArgs,
  UpdateSettingsArgs,
  UploadChunkArgs
} from '../../interface/management/index.js';
import { decodeTarget } from './target.js';

export type ManagementCall = BuiltinCall;

type SettingsArg = CanisterSettingsArg;
type ModeArg = InstallModeArg;

const MAX_CHUNK_BYTES = 1024 * 1024;
const MAX_CHUNKS = 100;
const DEFAULT_CREATE_CYCLES = 100_000_000_000_000n;

function invalidSettings(message: string): Response {
  return rejectResponse(ErrorCode.InvalidManagementPayload, `Invalid settings: ${message}`);
}

/** Applies the fields present in `arg`; returns an error response for invalid settings. */
function applySettings(settings: CanisterSettings, arg: SettingsArg | undefined): Response | undefined {
  if (arg === undefined) return undefined;
  const controllers = arg.controllers[0];
  if (controllers !== undefined) {
    if (controllers.length > MAX_CONTROLLERS) return invalidSettings(`at most ${MAX_CONTROLLERS} controllers`);
    settings.controllers = controllers;
  }
  const computeAllocation = arg.compute_allocation[0];
  if (computeAllocation !== undefined) {
    if (computeAllocation > 100n) return invalidSettings('compute_allocation must be between 0 and 100');
    settings.computeAllocation = computeAllocation;
  }
  settings.memoryAllocation = arg.memory_allocation[0] ?? settings.memoryAllocation;
  settings.freezingThreshold = arg.freezing_threshold[0] ?? settings.freezingThreshold;
  settings.reservedCyclesLimit = arg.reserved_cycles_limit[0] ?? settings.reservedCyclesLimit;
  settings.logVisibility = arg.log_visibility[0] ?? settings.logVisibility;
  settings.wasmMemoryLimit = arg.wasm_memory_limit[0] ?? settings.wasmMemoryLimit;
  settings.wasmMemoryThreshold = arg.wasm_memory_threshold[0] ?? settings.wasmMemoryThreshold;
  settings.environmentVariables = arg.environment_variables[0] ?? settings.environmentVariables;
  return undefined;
}

function createWith(
  engine: Engine,
  call: ManagementCall,
  settingsArg: SettingsArg | undefined,
  cycles: bigint,
  specifiedId?: Principal
): Response {
  if (specifiedId !== undefined && (engine.getCanister(specifiedId) !== undefined || engine.builtins.has(specifiedId.toText()))) {
    return rejectResponse(ErrorCode.CanisterAlreadyInstalled, `Canister ${specifiedId.toText()} is already installed`);
  }
  const canister = engine.createCanister({ controllers: [call.caller], cycles, specifiedId });
  const invalid = applySettings(canister.settings, settingsArg);
  if (invalid !== undefined) {
    engine.deleteCanister(canister);
    return invalid;
  }
  return reply(CanisterIdRecord, { canister_id: canister.id });
}

function withTarget(engine: Engine, call: ManagementCall, run: (canister: Canister) => Response | undefined): Response | undefined {
  const target = decodeTarget(engine, call.arg, call.method);
  return 'reject' in target ? target.reject : run(target.value);
}

function modeOf(mode: ModeArg): InstallMode {
  if ('install' in mode) return { kind: 'install' };
  if ('reinstall' in mode) return { kind: 'reinstall' };
  return { kind: 'upgrade', skipPreUpgrade: mode.upgrade[0]?.skip_pre_upgrade[0] ?? false };
}

function install(engine: Engine, canister: Canister, mode: ModeArg, wasm: Uint8Array, arg: Uint8Array, caller: Principal): Response {
  const failure = installCode(engine, canister, modeOf(mode), wasm, arg, caller);
  return failure === undefined ? reply(null) : { kind: 'reject', reject: failure };
}

function statusOf(canister: Canister): Response {
  const wasmMemory = canister.loaded === undefined ? 0n : BigInt(canister.loaded.memory.buffer.byteLength);
  const stableMemory = canister.stable.size * BigInt(WASM_PAGE_BYTES);
  const chunkBytes = [...canister.chunkStore.values()].reduce((n, c) => n + BigInt(c.length), 0n);
  const binary = BigInt(canister.loaded?.code.binaryBytes ?? 0);
  const s = canister.settings;
  return reply(CanisterStatusResult, {
    status: { [canister.status]: null },
    ready_for_migration: false,
    version: canister.versionNumber,
    settings: {
      controllers: s.controllers,
      compute_allocation: s.computeAllocation,
      memory_allocation: s.memoryAllocation,
      freezing_threshold: s.freezingThreshold,
      reserved_cycles_limit: s.reservedCyclesLimit,
      log_visibility: s.logVisibility,
      wasm_memory_limit: s.wasmMemoryLimit,
      wasm_memory_threshold: s.wasmMemoryThreshold,
      environment_variables: s.environmentVariables,
      log_memory_limit: s.logMemoryLimit,
      minimum_incoming_canister_call_cycles: s.minimumIncomingCanisterCallCycles,
      snapshot_visibility: s.snapshotVisibility,
      status_visibility: s.statusVisibility
    },
    module_hash: canister.loaded === undefined ? [] : [canister.loaded.code.moduleHash],
    memory_size: wasmMemory + stableMemory + binary + chunkBytes,
    memory_metrics: {
      wasm_memory_size: wasmMemory,
      stable_memory_size: stableMemory,
      global_memory_size: BigInt((canister.loaded?.globals.length ?? 0) * 8),
      wasm_binary_size: binary,
      custom_sections_size: 0n,
      canister_history_size: 0n,
      wasm_chunk_store_size: chunkBytes,
      snapshots_size: 0n,
      log_memory_store_size: 0n
    },
    cycles: canister.cycles,
    reserved_cycles: 0n,
    idle_cycles_burned_per_day: 0n,
    query_stats: { num_calls_total: 0n, num_instructions_total: 0n, request_payload_bytes_total: 0n, response_payload_bytes_total: 0n }
  });
}

const sha256 = (bytes: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(bytes).digest());
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** The ic00 methods other than stop_canister (which waits) and the canister-only ones. */
export const canisterMethods: Record<string, (engine: Engine, call: ManagementCall) => Response | undefined> = {
  provisional_create_canister_with_cycles: (engine, call) => {
    const args = decodeOne<{ amount: Opt<bigint>; settings: Opt<SettingsArg>; specified_id: Opt<Principal> }>(
      ProvisionalCreateArgs,
      call.arg
    );
    return createWith(engine, call, args.settings[0], args.amount[0] ?? DEFAULT_CREATE_CYCLES, args.specified_id[0]);
  },
  create_canister: (engine, call) => {
    const args = decodeOne<{ settings: Opt<SettingsArg> }>(CreateCanisterArgs, call.arg);
    call.accepted = call.cycles;
    return createWith(engine, call, args.settings[0], call.ingress ? DEFAULT_CREATE_CYCLES : call.cycles);
  },
  provisional_top_up_canister: (engine, call) => {
    const args = decodeOne<{ canister_id: Principal; amount: bigint }>(ProvisionalTopUpArgs, call.arg);
    const canister = engine.getCanister(args.canister_id);
    if (canister === undefined) return rejectResponse(ErrorCode.CanisterNotFound, `Canister ${args.canister_id.toText()} not found`);
    canister.cycles += args.amount;
    engine.markTouched(canister);
    return reply(null);
  },
  update_settings: (engine, call) =>
    withTarget(engine, call, (canister) => {
      const args = decodeOne<{ settings: SettingsArg }>(UpdateSettingsArgs, call.arg);
      const next = { ...canister.settings };
      const invalid = applySettings(next, args.settings);
      if (invalid !== undefined) return invalid;
      canister.settings = next;
      canister.versionNumber++;
      engine.markTouched(canister);
      return reply(null);
    }),
  install_code: (engine, call) =>
    withTarget(engine, call, (canister) => {
      const args = decodeOne<{ mode: ModeArg; wasm_module: Uint8Array; arg: Uint8Array }>(InstallCodeArgs, call.arg);
      return install(engine, canister, args.mode, args.wasm_module, args.arg, call.caller);
    }),
  install_chunked_code: (engine, call) =>
    withTarget(engine, call, (canister) => {
      const args = decodeOne<{
        mode: ModeArg;
        store_canister: Opt<Principal>;
        chunk_hashes_list: Array<{ hash: Uint8Array }>;
        wasm_module_hash: Uint8Array;
        arg: Uint8Array;
      }>(InstallChunkedCodeArgs, call.arg);
      const store = args.store_canister[0] === undefined ? canister : engine.getCanister(args.store_canister[0]);
      if (store === undefined) return rejectResponse(ErrorCode.CanisterNotFound, 'store canister not found');
      const chunks: Uint8Array[] = [];
      for (const { hash } of args.chunk_hashes_list) {
        const chunk = store.chunkStore.get(hex(hash));
        if (chunk === undefined)
          return rejectResponse(ErrorCode.InvalidManagementPayload, `Chunk ${hex(hash)} is not in the chunk store of ${store.text}`);
        chunks.push(chunk);
      }
      const wasm = new Uint8Array(Buffer.concat(chunks));
      if (hex(sha256(wasm)) !== hex(args.wasm_module_hash)) {
        return rejectResponse(
          ErrorCode.InvalidManagementPayload,
          `Wasm module hash ${hex(sha256(wasm))} does not match the given wasm_module_hash ${hex(args.wasm_module_hash)}`
        );
      }
      return install(engine, canister, args.mode, wasm, args.arg, call.caller);
    }),
  uninstall_code: (engine, call) =>
    withTarget(engine, call, (canister) => {
      uninstallCode(engine, canister);
      return reply(null);
    }),
  upload_chunk: (engine, call) =>
    withTarget(engine, call, (canister) => {
      const args = decodeOne<{ chunk: Uint8Array }>(UploadChunkArgs, call.arg);
      if (args.chunk.length > MAX_CHUNK_BYTES)
        return rejectResponse(ErrorCode.InvalidManagementPayload, `chunk of ${args.chunk.length} bytes exceeds ${MAX_CHUNK_BYTES}`);
      const hash = sha256(args.chunk);
      if (!canister.chunkStore.has(hex(hash)) && canister.chunkStore.size >= MAX_CHUNKS) {
        return rejectResponse(ErrorCode.InvalidManagementPayload, `the chunk store of ${canister.text} is full (${MAX_CHUNKS} chunks)`);
      }
      canister.chunkStore.set(hex(hash), new Uint8Array(args.chunk));
      engine.newBlobs.set(hex(hash), new Uint8Array(args.chunk));
      engine.markTouched(canister);
      return reply(ChunkHash, { hash });
    }),
  clear_chunk_store: (engine, call) =>
    withTarget(engine, call, (canister) => {
      canister.chunkStore.clear();
      engine.markTouched(canister);
      return reply(null);
    }),
  stored_chunks: (engine, call) =>
    withTarget(engine, call, (canister) =>
      reply(
        IDL.Vec(ChunkHash),
        [...canister.chunkStore.keys()].map((h) => ({ hash: Buffer.from(h, 'hex') }))
      )
    ),
  canister_status: (engine, call) => withTarget(engine, call, statusOf),
  start_canister: (engine, call) =>
    withTarget(engine, call, (canister) => {
      canister.status = 'running';
      engine.markTouched(canister);
      engine.onCanisterStarted(canister);
      return reply(null);
    }),
  delete_canister: (engine, call) =>
    withTarget(engine, call, (canister) => {
      if (canister.status !== 'stopped') {
        return rejectResponse(ErrorCode.CanisterNotStopped, `Canister ${canister.text} must be stopped before it is deleted.`);
      }
      engine.deleteCanister(canister);
      return reply(null);
    }),
  fetch_canister_logs: (engine, call) =>
    withTarget(engine, call, (canister) =>
      reply(FetchCanisterLogsResult, {
        canister_log_records: canister.logs.map((r) => ({ idx: r.idx, timestamp_nanos: r.timestampNs, content: r.content }))
      })
    )
};
