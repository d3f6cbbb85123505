import { IDL } from '@dfinity/candid';
import type { Principal } from '@dfinity/principal';

import { typed, type Opt } from '../candid.js';

/**
 * Candid of the management canister methods the localnet serves (portal ic.did plus the fields icp 1.5 requires),
 * with the wire values of the arguments that deploy tooling sends and the localnet reads.
 */
export type LogVisibility = { controllers: null } | { public: null } | { allowed_viewers: Principal[] };
export const LogVisibility = typed<LogVisibility>(
  IDL.Variant({
    controllers: IDL.Null,
    public: IDL.Null,
    allowed_viewers: IDL.Vec(IDL.Principal)
  })
);

export interface EnvironmentVariable {
  name: string;
  value: string;
}
export const EnvironmentVariable = typed<EnvironmentVariable>(IDL.Record({ name: IDL.Text, value: IDL.Text }));

/** Incoming settings: every field optional; unknown fields are ignored by Candid subtyping. */
export interface CanisterSettingsArg {
  controllers: Opt<Principal[]>;
  compute_allocation: Opt<bigint>;
  memory_allocation: Opt<bigint>;
  freezing_threshold: Opt<bigint>;
  reserved_cycles_limit: Opt<bigint>;
  log_visibility: Opt<LogVisibility>;
  wasm_memory_limit: Opt<bigint>;
  wasm_memory_threshold: Opt<bigint>;
  environment_variables: Opt<EnvironmentVariable[]>;
}
export const CanisterSettingsArg = typed<CanisterSettingsArg>(
  IDL.Record({
    controllers: IDL.Opt(IDL.Vec(IDL.Principal)),
    compute_allocation: IDL.Opt(IDL.Nat),
    memory_allocation: IDL.Opt(IDL.Nat),
    freezing_threshold: IDL.Opt(IDL.Nat),
    reserved_cycles_limit: IDL.Opt(IDL.Nat),
    log_visibility: IDL.Opt(LogVisibility),
    wasm_memory_limit: IDL.Opt(IDL.Nat),
    wasm_memory_threshold: IDL.Opt(IDL.Nat),
    environment_variables: IDL.Opt(IDL.Vec(EnvironmentVariable))
  })
);

export const DefiniteCanisterSettings = IDL.Record({
  controllers: IDL.Vec(IDL.Principal),
  compute_allocation: IDL.Nat,
  memory_allocation: IDL.Nat,
  freezing_threshold: IDL.Nat,
  reserved_cycles_limit: IDL.Nat,
  log_visibility: LogVisibility,
  wasm_memory_limit: IDL.Nat,
  wasm_memory_threshold: IDL.Nat,
  environment_variables: IDL.Vec(EnvironmentVariable),
  log_memory_limit: IDL.Nat,
  minimum_incoming_canister_call_cycles: IDL.Nat,
  snapshot_visibility: LogVisibility,
  status_visibility: LogVisibility
});

export interface CanisterIdRecord {
  canister_id: Principal;
}
export const CanisterIdRecord = typed<CanisterIdRecord>(IDL.Record({ canister_id: IDL.Principal }));

export interface ProvisionalCreateArgs {
  amount: Opt<bigint>;
  settings: Opt<CanisterSettingsArg>;
  specified_id: Opt<Principal>;
  sender_canister_version: Opt<bigint>;
}
export const ProvisionalCreateArgs = typed<ProvisionalCreateArgs>(
  IDL.Record({
    amount: IDL.Opt(IDL.Nat),
    settings: IDL.Opt(CanisterSettingsArg),
    specified_id: IDL.Opt(IDL.Principal),
    sender_canister_version: IDL.Opt(IDL.Nat64)
  })
);

export const CreateCanisterArgs = IDL.Record({
  settings: IDL.Opt(CanisterSettingsArg),
  sender_canister_version: IDL.Opt(IDL.Nat64)
});

export const ProvisionalTopUpArgs = IDL.Record({ canister_id: IDL.Principal, amount: IDL.Nat });

export const UpdateSettingsArgs = IDL.Record({
  canister_id: IDL.Principal,
  settings: CanisterSettingsArg,
  sender_canister_version: IDL.Opt(IDL.Nat64)
});

export interface UpgradeFlags {
  skip_pre_upgrade: Opt<boolean>;
  wasm_memory_persistence: Opt<{ keep: null } | { replace: null }>;
}
export const UpgradeFlags = typed<UpgradeFlags>(
  IDL.Record({
    skip_pre_upgrade: IDL.Opt(IDL.Bool),
    wasm_memory_persistence: IDL.Opt(IDL.Variant({ keep: IDL.Null, replace: IDL.Null }))
  })
);

export type InstallMode = { install: null } | { reinstall: null } | { upgrade: Opt<UpgradeFlags> };
export const InstallMode = typed<InstallMode>(
  IDL.Variant({
    install: IDL.Null,
    reinstall: IDL.Null,
    upgrade: IDL.Opt(UpgradeFlags)
  })
);

export interface InstallCodeArgs {
  mode: InstallMode;
  canister_id: Principal;
  wasm_module: Uint8Array;
  arg: Uint8Array;
  sender_canister_version: Opt<bigint>;
}
export const InstallCodeArgs = typed<InstallCodeArgs>(
  IDL.Record({
    mode: InstallMode,
    canister_id: IDL.Principal,
    wasm_module: IDL.Vec(IDL.Nat8),
    arg: IDL.Vec(IDL.Nat8),
    sender_canister_version: IDL.Opt(IDL.Nat64)
  })
);

export interface ChunkHash {
  hash: Uint8Array;
}
export const ChunkHash = typed<ChunkHash>(IDL.Record({ hash: IDL.Vec(IDL.Nat8) }));

export interface UploadChunkArgs {
  canister_id: Principal;
  chunk: Uint8Array;
}
export const UploadChunkArgs = typed<UploadChunkArgs>(IDL.Record({ canister_id: IDL.Principal, chunk: IDL.Vec(IDL.Nat8) }));

export interface InstallChunkedCodeArgs {
  mode: InstallMode;
  target_canister: Principal;
  store_canister: Opt<Principal>;
  chunk_hashes_list: ChunkHash[];
  wasm_module_hash: Uint8Array;
  arg: Uint8Array;
  sender_canister_version: Opt<bigint>;
}
export const InstallChunkedCodeArgs = typed<InstallChunkedCodeArgs>(
  IDL.Record({
    mode: InstallMode,
    target_canister: IDL.Principal,
    store_canister: IDL.Opt(IDL.Principal),
    chunk_hashes_list: IDL.Vec(ChunkHash),
    wasm_module_hash: IDL.Vec(IDL.Nat8),
    arg: IDL.Vec(IDL.Nat8),
    sender_canister_version: IDL.Opt(IDL.Nat64)
  })
);

/** The fields of canister_status's reply that deploy tooling reads (the IDL below has them all). */
export interface CanisterStatusResult {
  status: { running: null } | { stopping: null } | { stopped: null };
  module_hash: Opt<Uint8Array>;
  cycles: bigint;
  [field: string]: unknown;
}
export const CanisterStatusResult = typed<CanisterStatusResult>(
  IDL.Record({
    status: IDL.Variant({ running: IDL.Null, stopping: IDL.Null, stopped: IDL.Null }),
    ready_for_migration: IDL.Bool,
    version: IDL.Nat64,
    settings: DefiniteCanisterSettings,
    module_hash: IDL.Opt(IDL.Vec(IDL.Nat8)),
    memory_size: IDL.Nat,
    memory_metrics: IDL.Record({
      wasm_memory_size: IDL.Nat,
      stable_memory_size: IDL.Nat,
      global_memory_size: IDL.Nat,
      wasm_binary_size: IDL.Nat,
      custom_sections_size: IDL.Nat,
      canister_history_size: IDL.Nat,
      wasm_chunk_store_size: IDL.Nat,
      snapshots_size: IDL.Nat,
      log_memory_store_size: IDL.Nat
    }),
    cycles: IDL.Nat,
    reserved_cycles: IDL.Nat,
    idle_cycles_burned_per_day: IDL.Nat,
    query_stats: IDL.Record({
      num_calls_total: IDL.Nat,
      num_instructions_total: IDL.Nat,
      request_payload_bytes_total: IDL.Nat,
      response_payload_bytes_total: IDL.Nat
    })
  })
);

export const FetchCanisterLogsArgs = IDL.Record({ canister_id: IDL.Principal });
export const FetchCanisterLogsResult = IDL.Record({
  canister_log_records: IDL.Vec(IDL.Record({ idx: IDL.Nat64, timestamp_nanos: IDL.Nat64, content: IDL.Vec(IDL.Nat8) }))
});

export const CanisterInfoArgs = IDL.Record({ canister_id: IDL.Principal, num_requested_changes: IDL.Opt(IDL.Nat64) });
