import { IDL } from '@dfinity/candid';
import type { Principal } from '@dfinity/principal';

import { ErrorCode } from '../errors.js';
import type { Canister } from '../execution/canister.js';
import type { Response } from '../execution/context.js';
import { rejectResponse, type Engine } from '../execution/engine.js';
import { decodeOne } from './candid.js';
import { CanisterIdRecord, InstallCodeArgs, UploadChunkArgs } from '../../interface/management/index.js';

const TargetCanisterRecord = IDL.Record({ target_canister: IDL.Principal });
/**
 * Methods whose argument can be megabytes: their target is read with the method's own argument type, so that the
 * (memoized, see decodeOne) decode is shared with the method's and a module is decoded once, not twice.
 */
const LARGE_ARG_TYPES = new Map<string, IDL.Type>([
  ['install_code', InstallCodeArgs],
  ['upload_chunk', UploadChunkArgs]
]);

/** The canister an ic00 call addresses (its effective canister id), or undefined when the argument is unreadable. */
export function targetOf(method: string, arg: Uint8Array): Principal | undefined {
  try {
    if (method === 'install_chunked_code') {
      return decodeOne<{ target_canister: Principal }>(TargetCanisterRecord, arg).target_canister;
    }
    const large = LARGE_ARG_TYPES.get(method);
    if (large !== undefined) {
      try {
        return decodeOne<{ canister_id: Principal }>(large, arg).canister_id;
      } catch {
        // Not a valid argument of the method: the canister_id alone may still be readable (the method rejects later).
      }
    }
    return decodeOne<{ canister_id: Principal }>(CanisterIdRecord, arg).canister_id;
  } catch {
    return undefined;
  }
}

/** The canister named by the `canister_id` field of an ic00 argument. */
export function decodeTarget(engine: Engine, arg: Uint8Array, method = ''): { value: Canister } | { reject: Response } {
  const id = targetOf(method, arg);
  if (id === undefined) {
    return {
      reject: rejectResponse(ErrorCode.InvalidManagementPayload, 'Error decoding the canister_id of an ic00 call')
    };
  }
  const canister = engine.getCanister(id);
  if (canister === undefined) {
    return { reject: rejectResponse(ErrorCode.CanisterNotFound, `Canister ${id.toText()} not found`) };
  }
  return { value: canister };
}
