import { createHash } from 'node:crypto';

import type { Principal } from '@dfinity/principal';

import { ErrorCode, reject, type Reject } from '../errors.js';
import { StableMemory } from '../wasm/stable-memory.js';
import type { Canister } from './canister.js';
import { InvalidModuleError } from './compiled-code.js';
import { ExecutionContext } from './context.js';
import { trapReject, type Engine } from './engine.js';

export type InstallMode = { kind: 'install' } | { kind: 'reinstall' } | { kind: 'upgrade'; skipPreUpgrade: boolean };

/**
 * install_code: the whole sequence (pre_upgrade, new instance, init or post_upgrade) is atomic. On any failure the
 * canister keeps its previous module, heap, globals and stable memory.
 */
export function installCode(
  engine: Engine,
  canister: Canister,
  mode: InstallMode,
  wasm: Uint8Array,
  arg: Uint8Array,
  caller: Principal
): Reject | undefined {
  if (mode.kind === 'install' && !canister.isEmpty) {
    return reject(
      ErrorCode.CanisterNonEmpty,
      `Canister ${canister.text} cannot be installed because the canister is not empty. Try installing with mode='reinstall' instead.`
    );
  }
  if (mode.kind === 'upgrade' && canister.isEmpty) {
    return reject(
      ErrorCode.CanisterWasmModuleNotFound,
      `Error from Canister ${canister.text}: Attempted to execute a message, but the canister contains no Wasm module.`
    );
  }
  let code;
  try {
    code = engine.codeCache.compile(wasm);
  } catch (error) {
    if (error instanceof InvalidModuleError) {
      return reject(
        ErrorCode.CanisterInvalidWasm,
        `Error from Canister ${canister.text}: Canister's Wasm module is not valid: ${error.message}`
      );
    }
    throw error;
  }

  const previousLoaded = canister.loaded;
  const previousStable = canister.stable;
  const timeNs = canister.nextTime(engine.now());
  const baseContext = {
    caller: caller.toUint8Array(),
    arg: new Uint8Array(),
    methodName: '',
    timeNs,
    canRespond: false,
    cyclesAvailable: 0n,
    cyclesRefunded: 0n,
    rejectCode: 0,
    rejectMessage: ''
  };

  if (mode.kind === 'reinstall') canister.stable = new StableMemory();
  canister.stable.begin();
  const rollback = (failure: Reject): Reject => {
    canister.stable.rollback();
    canister.stable = previousStable;
    canister.loaded = previousLoaded;
    return failure;
  };

  let preUpgradeInstructions = 0n;
  if (mode.kind === 'upgrade' && !mode.skipPreUpgrade && canister.hasExport('canister_pre_upgrade')) {
    const pre = new ExecutionContext('pre_upgrade', baseContext);
    // The old heap is discarded either way; its stable-memory writes stay in the install journal.
    const outcome = engine.run(canister, pre, engine.limits.upgrade, 'canister_pre_upgrade', { keep: false, ownJournal: false });
    if (!outcome.ok) return rollback(trapReject(canister, outcome));
    preUpgradeInstructions = outcome.instructions;
  }

  let fresh;
  try {
    fresh = canister.instantiate(code);
  } catch (error) {
    return rollback(
      reject(ErrorCode.CanisterInvalidWasm, `Error from Canister ${canister.text}: Wasm module could not be instantiated: ${String(error)}`)
    );
  }
  canister.loaded = fresh;
  const entry = mode.kind === 'upgrade' ? 'canister_post_upgrade' : 'canister_init';
  const context = new ExecutionContext(mode.kind === 'upgrade' ? 'post_upgrade' : 'init', { ...baseContext, arg });
  if (fresh.code.exports.has(entry)) {
    const outcome = engine.run(canister, context, engine.limits.upgrade - preUpgradeInstructions, entry, { keep: true, ownJournal: false });
    if (!outcome.ok) return rollback(trapReject(canister, outcome));
  }
  canister.stable.commit();

  // Committed: the new module replaces the old one.
  const blobHash = createHash('sha256').update(wasm).digest('hex');
  if (!engine.newBlobs.has(blobHash)) engine.newBlobs.set(blobHash, wasm);
  canister.moduleBlobHash = blobHash;
  canister.codeEpoch++;
  canister.globalTimer = context.globalTimer ?? 0n;
  if (mode.kind !== 'upgrade') canister.certifiedData = new Uint8Array();
  if (context.certifiedData !== undefined) canister.certifiedData = context.certifiedData;
  canister.cycles -= context.cyclesBurned;
  for (const line of context.logs) canister.appendLog(timeNs, line);
  canister.versionNumber++;
  fresh.shadow.markReplaced();
  if (mode.kind === 'reinstall') canister.stable.markCleared();
  engine.markTouched(canister);
  return undefined;
}

/** uninstall_code: the canister keeps its id, settings and cycles but loses code, memories and certified data. */
export function uninstallCode(engine: Engine, canister: Canister): void {
  canister.loaded = undefined;
  canister.moduleBlobHash = undefined;
  canister.stable = new StableMemory();
  canister.stable.markCleared();
  canister.certifiedData = new Uint8Array();
  canister.globalTimer = 0n;
  canister.codeEpoch++;
  canister.versionNumber++;
  engine.markTouched(canister);
}
