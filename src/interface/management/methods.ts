import { IDL } from '@dfinity/candid';

import { serviceOf, update, updateVoid, type CandidInterface, type ServiceOf } from '../candid.js';
import {
  CanisterIdRecord,
  CanisterSettingsArg,
  CanisterStatusResult,
  ChunkHash,
  DefiniteCanisterSettings,
  EnvironmentVariable,
  InstallChunkedCodeArgs,
  InstallCodeArgs,
  InstallMode,
  LogVisibility,
  ProvisionalCreateArgs,
  UpgradeFlags,
  UploadChunkArgs
} from './idl.js';

/** The management canister methods deploy tooling calls (src/ic/management.ts), declared once. */
export const managementMethods = {
  provisional_create_canister_with_cycles: update([ProvisionalCreateArgs], CanisterIdRecord),
  install_code: updateVoid([InstallCodeArgs]),
  upload_chunk: update([UploadChunkArgs], ChunkHash),
  clear_chunk_store: updateVoid([CanisterIdRecord]),
  install_chunked_code: updateVoid([InstallChunkedCodeArgs]),
  canister_status: update([CanisterIdRecord], CanisterStatusResult)
};

export type ManagementService = ServiceOf<typeof managementMethods>;

export const managementIdlFactory: IDL.InterfaceFactory = () => serviceOf(managementMethods);

/** The named types of management.did (the deploy tooling's view of `aaaaa-aa`). */
export const managementInterface = (): CandidInterface => ({
  service: serviceOf(managementMethods),
  init: [],
  types: {
    CanisterIdRecord,
    LogVisibility,
    EnvironmentVariable,
    CanisterSettingsArg,
    DefiniteCanisterSettings,
    ProvisionalCreateArgs,
    UpgradeFlags,
    InstallMode,
    InstallCodeArgs,
    ChunkHash,
    UploadChunkArgs,
    InstallChunkedCodeArgs,
    CanisterStatusResult
  }
});
