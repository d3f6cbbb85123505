import { Actor, type HttpAgent } from '@dfinity/agent';
import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';

import {
  CanisterIdRecord,
  CanisterStatusResult,
  ChunkHash,
  InstallChunkedCodeArgs,
  InstallCodeArgs,
  ProvisionalCreateArgs,
  UploadChunkArgs
} from '../localnet/management/idl.js';

type Opt<T> = [] | [T];
export type InstallModeArg =
  | { install: null }
  | { reinstall: null }
  | { upgrade: Opt<{ skip_pre_upgrade: Opt<boolean>; wasm_memory_persistence: Opt<{ keep: null } | { replace: null }> }> };

/** The management canister methods deploy tooling needs, typed. */
export interface ManagementActor {
  provisional_create_canister_with_cycles(args: {
    amount: Opt<bigint>;
    settings: Opt<{
      controllers: Opt<Principal[]>;
      compute_allocation: Opt<bigint>;
      memory_allocation: Opt<bigint>;
      freezing_threshold: Opt<bigint>;
      reserved_cycles_limit: Opt<bigint>;
      log_visibility: Opt<{ controllers: null }>;
      wasm_memory_limit: Opt<bigint>;
      wasm_memory_threshold: Opt<bigint>;
      environment_variables: Opt<Array<{ name: string; value: string }>>;
    }>;
    specified_id: Opt<Principal>;
    sender_canister_version: Opt<bigint>;
  }): Promise<{ canister_id: Principal }>;
  install_code(args: {
    mode: InstallModeArg;
    canister_id: Principal;
    wasm_module: Uint8Array;
    arg: Uint8Array;
    sender_canister_version: Opt<bigint>;
  }): Promise<void>;
  upload_chunk(args: { canister_id: Principal; chunk: Uint8Array }): Promise<{ hash: Uint8Array }>;
  clear_chunk_store(args: { canister_id: Principal }): Promise<void>;
  install_chunked_code(args: {
    mode: InstallModeArg;
    target_canister: Principal;
    store_canister: Opt<Principal>;
    chunk_hashes_list: Array<{ hash: Uint8Array }>;
    wasm_module_hash: Uint8Array;
    arg: Uint8Array;
    sender_canister_version: Opt<bigint>;
  }): Promise<void>;
  canister_status(args: {
    canister_id: Principal;
  }): Promise<{ status: { running: null } | { stopping: null } | { stopped: null }; module_hash: Opt<Uint8Array>; cycles: bigint }>;
}

const idlFactory: IDL.InterfaceFactory = () =>
  IDL.Service({
    provisional_create_canister_with_cycles: IDL.Func([ProvisionalCreateArgs], [CanisterIdRecord], []),
    install_code: IDL.Func([InstallCodeArgs], [], []),
    upload_chunk: IDL.Func([UploadChunkArgs], [ChunkHash], []),
    clear_chunk_store: IDL.Func([CanisterIdRecord], [], []),
    install_chunked_code: IDL.Func([InstallChunkedCodeArgs], [], []),
    canister_status: IDL.Func([CanisterIdRecord], [CanisterStatusResult], [])
  });

/** A management-canister actor whose calls are routed to `effectiveCanisterId` (any id for creation). */
export function managementActor(agent: HttpAgent, effectiveCanisterId: Principal = Principal.fromText('aaaaa-aa')): ManagementActor {
  return Actor.createActor<ManagementActor>(idlFactory, {
    agent,
    canisterId: Principal.fromText('aaaaa-aa'),
    effectiveCanisterId
  });
}
