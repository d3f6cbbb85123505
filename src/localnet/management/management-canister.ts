import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';

import { ErrorCode, reject, type Reject } from '../errors.js';
import type { Canister } from '../execution/canister.js';
import type { Response } from '../execution/context.js';
import { rejectResponse, type BuiltinCanister, type Engine } from '../execution/engine.js';
import type { Origin } from '../execution/messages.js';
import { decodeOne, reply } from './candid.js';
import { CanisterInfoArgs } from '../../interface/management/index.js';
import { canisterMethods, type ManagementCall } from './methods.js';
import { decodeTarget, targetOf } from './target.js';

/** Methods ingress may call, and whether the sender must control the target canister. */
const INGRESS_METHODS: Record<string, { controllerOnly: boolean }> = {
  provisional_create_canister_with_cycles: { controllerOnly: false },
  provisional_top_up_canister: { controllerOnly: false },
  create_canister: { controllerOnly: false },
  update_settings: { controllerOnly: true },
  install_code: { controllerOnly: true },
  install_chunked_code: { controllerOnly: true },
  uninstall_code: { controllerOnly: true },
  upload_chunk: { controllerOnly: true },
  clear_chunk_store: { controllerOnly: true },
  stored_chunks: { controllerOnly: true },
  canister_status: { controllerOnly: true },
  start_canister: { controllerOnly: true },
  stop_canister: { controllerOnly: true },
  delete_canister: { controllerOnly: true },
  fetch_canister_logs: { controllerOnly: true }
};

/** Methods only canisters may call. */
const CANISTER_ONLY = new Set(['raw_rand', 'canister_info', 'deposit_cycles']);

/** The management canister `aaaaa-aa` (IC interface specification, "The IC management canister"). */
export class ManagementCanister implements BuiltinCanister {
  /** Pending stop_canister callers, answered when the canister has no open call context left. */
  private readonly stopWaiters = new Map<string, Origin[]>();

  install(engine: Engine): void {
    engine.onCanisterIdle = (canister) => this.completeStop(engine, canister);
    engine.onCanisterStarted = (canister) => this.cancelStops(engine, canister);
    engine.builtins.set('aaaaa-aa', this);
  }

  inspectIngress(engine: Engine, call: { method: string; arg: Uint8Array; sender: Principal }): Reject | undefined {
    if (CANISTER_ONLY.has(call.method)) {
      return reject(ErrorCode.CanisterRejectedMessage, `Only canisters can call ic00 method ${call.method}`);
    }
    const rule = INGRESS_METHODS[call.method];
    if (rule === undefined) {
      return reject(ErrorCode.CanisterMethodNotFound, `Management canister has no method '${call.method}'`);
    }
    if (!rule.controllerOnly) return undefined;
    const target = targetOf(call.method, call.arg);
    if (target === undefined) {
      return reject(ErrorCode.InvalidManagementPayload, `Error decoding the argument of ic00 method ${call.method}`);
    }
    const canister = engine.getCanister(target);
    if (canister === undefined) {
      return reject(ErrorCode.CanisterNotFound, `Canister ${target.toText()} not found`);
    }
    if (!canister.isController(call.sender.toUint8Array())) {
      return notController(call.method, canister, call.sender);
    }
    return undefined;
  }

  /** fetch_canister_logs and canister_status may be queried (non-replicated). */
  query(engine: Engine, call: { method: string; arg: Uint8Array; sender: Principal }): Response {
    if (call.method !== 'fetch_canister_logs' && call.method !== 'canister_status') {
      return rejectResponse(ErrorCode.CanisterMethodNotFound, `Management canister has no query method '${call.method}'`);
    }
    const refusal = this.inspectIngress(engine, call);
    if (refusal !== undefined) return { kind: 'reject', reject: refusal };
    return (
      this.dispatch(engine, {
        method: call.method,
        arg: call.arg,
        caller: call.sender,
        ingress: true,
        origin: { kind: 'system' },
        cycles: 0n
      }) ?? rejectResponse(ErrorCode.CanisterDidNotReply, 'no reply')
    );
  }

  handle(engine: Engine, call: ManagementCall): Response | undefined {
    if (!call.ingress) {
      if (call.method === 'raw_rand') return reply(IDL.Vec(IDL.Nat8), engine.random(32));
      if (call.method === 'canister_info') return this.canisterInfo(engine, call);
      if (call.method === 'deposit_cycles') return this.depositCycles(engine, call);
    }
    if (call.ingress) {
      const refusal = this.inspectIngress(engine, { method: call.method, arg: call.arg, sender: call.caller });
      if (refusal !== undefined) return { kind: 'reject', reject: refusal };
    } else if (INGRESS_METHODS[call.method]?.controllerOnly === true) {
      const target = targetOf(call.method, call.arg);
      const canister = target === undefined ? undefined : engine.getCanister(target);
      if (canister !== undefined && !canister.isController(call.caller.toUint8Array())) {
        return { kind: 'reject', reject: notController(call.method, canister, call.caller) };
      }
    }
    return this.dispatch(engine, call);
  }

  private dispatch(engine: Engine, call: ManagementCall): Response | undefined {
    if (call.method === 'stop_canister') return this.stop(engine, call);
    const method = canisterMethods[call.method];
    if (method === undefined) {
      return rejectResponse(ErrorCode.CanisterMethodNotFound, `Management canister has no method '${call.method}'`);
    }
    try {
      return method(engine, call);
    } catch (error) {
      return rejectResponse(
        ErrorCode.InvalidManagementPayload,
        `Error decoding candid of ic00 method ${call.method}: ${error instanceof Error ? error.message : String(error)}`
      );
    }
  }

  private stop(engine: Engine, call: ManagementCall): Response | undefined {
    const canister = decodeTarget(engine, call.arg);
    if ('reject' in canister) return canister.reject;
    if (canister.value.status === 'stopped') return reply(null);
    canister.value.status = 'stopping';
    engine.markTouched(canister.value);
    const waiters = this.stopWaiters.get(canister.value.text) ?? [];
    waiters.push(call.origin);
    this.stopWaiters.set(canister.value.text, waiters);
    if (canister.value.openCallContexts === 0) this.completeStop(engine, canister.value);
    return undefined;
  }

  private completeStop(engine: Engine, canister: Canister): void {
    if (canister.status !== 'stopping') return;
    canister.status = 'stopped';
    engine.markTouched(canister);
    const waiters = this.stopWaiters.get(canister.text) ?? [];
    this.stopWaiters.delete(canister.text);
    for (const origin of waiters) engine.respondTo(origin, reply(null), 0n);
  }

  /** start_canister answers pending stops with a reject, as the IC does. */
  cancelStops(engine: Engine, canister: Canister): void {
    const waiters = this.stopWaiters.get(canister.text) ?? [];
    this.stopWaiters.delete(canister.text);
    for (const origin of waiters) {
      engine.respondTo(
        origin,
        rejectResponse(ErrorCode.CanisterStopping, `Canister ${canister.text} was started before stopping completed`),
        0n
      );
    }
  }

  private canisterInfo(engine: Engine, call: ManagementCall): Response {
    const args = decodeOne<{ canister_id: Principal }>(CanisterInfoArgs, call.arg);
    const canister = engine.getCanister(args.canister_id);
    if (canister === undefined)
      return {
        kind: 'reject',
        reject: reject(ErrorCode.CanisterNotFound, `Canister ${args.canister_id.toText()} not found`)
      };
    const Info = IDL.Record({
      total_num_changes: IDL.Nat64,
      recent_changes: IDL.Vec(IDL.Reserved),
      module_hash: IDL.Opt(IDL.Vec(IDL.Nat8)),
      controllers: IDL.Vec(IDL.Principal)
    });
    return reply(Info, {
      total_num_changes: canister.versionNumber,
      recent_changes: [],
      module_hash: canister.loaded === undefined ? [] : [canister.loaded.code.moduleHash],
      controllers: canister.settings.controllers
    });
  }

  private depositCycles(engine: Engine, call: ManagementCall): Response {
    const target = decodeTarget(engine, call.arg);
    if ('reject' in target) return target.reject;
    target.value.cycles += call.cycles ?? 0n;
    engine.markTouched(target.value);
    return reply(null);
  }
}

function notController(method: string, canister: Canister, sender: Principal): Reject {
  return reject(
    ErrorCode.CanisterInvalidController,
    `Only controllers of canister ${canister.text} can call ic00 method ${method}. Sender ${sender.toText()} is not a controller.`
  );
}
