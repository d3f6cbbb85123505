import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

import type { HttpAgent } from '@dfinity/agent';
import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';

import type { CanisterConfig } from '../project/dfx-config.js';
import type { CanisterArgs, CanisterArgsOf } from './canister-args.js';
import { IcError } from './errors.js';
import { managementActor } from './management.js';
import { dfxIdsPath, icpIdsPath, readRecordedIds } from './recorded-ids.js';

export { readRecordedIds };

/** Modules above this size are installed through the chunk store, as dfx and icp do (2 MiB ingress limit). */
const CHUNKED_INSTALL_THRESHOLD = 1_900_000;
const CHUNK_BYTES = 1_000_000;
const DEFAULT_DEPLOY_CYCLES = 100_000_000_000_000n;

export type DeployAction = 'created' | 'upgraded' | 'unchanged' | 'reinstalled';

export interface DeployedCanister {
  name: string;
  id: string;
  action: DeployAction;
  moduleHash: string;
}

export interface DeployOptions {
  agent: HttpAgent;
  projectDir: string;
  canisters: CanisterConfig[];
  /**
   * Candid-encoded install and upgrade arguments per canister name (default: no arguments), computed from the ids
   * of the canisters deployed before it, so that one canister's argument can name another.
   */
  args?: Record<string, CanisterArgsOf>;
  /** Network name under which ids are recorded (dfx: .dfx/<network>/canister_ids.json). */
  network?: string;
  onProgress?: (message: string) => void;
}

/** Records ids where dfx (`.dfx/<network>/canister_ids.json`) and icp (`.icp/data/mappings/<network>.ids.json`) look. */
export function recordIds(projectDir: string, network: string, ids: Record<string, string>): void {
  const dfxFile: Record<string, Record<string, string>> = {};
  for (const [name, id] of Object.entries(ids)) dfxFile[name] = { [network]: id };
  for (const [path, content] of [
    [dfxIdsPath(projectDir, network), dfxFile],
    [icpIdsPath(projectDir, network), ids]
  ] as const) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `${JSON.stringify(content, null, 2)}\n`);
  }
}

async function exists(agent: HttpAgent, id: Principal): Promise<{ moduleHash: string | undefined } | undefined> {
  try {
    const status = await managementActor(agent, id).canister_status({ canister_id: id });
    const hash = status.module_hash[0];
    return { moduleHash: hash === undefined ? undefined : Buffer.from(hash).toString('hex') };
  } catch {
    return undefined; // unknown on this network (e.g. a fresh localnet state) or not ours: create anew
  }
}

async function install(
  agent: HttpAgent,
  id: Principal,
  wasm: Uint8Array,
  arg: Uint8Array,
  upgrade: boolean,
  progress: (m: string) => void
): Promise<void> {
  const ic = managementActor(agent, id);
  const mode = upgrade ? { upgrade: [] as [] } : { install: null };
  if (wasm.length <= CHUNKED_INSTALL_THRESHOLD) {
    await ic.install_code({ mode, canister_id: id, wasm_module: wasm, arg, sender_canister_version: [] });
    return;
  }
  await ic.clear_chunk_store({ canister_id: id });
  const hashes: Array<{ hash: Uint8Array }> = [];
  const total = Math.ceil(wasm.length / CHUNK_BYTES);
  for (let offset = 0; offset < wasm.length; offset += CHUNK_BYTES) {
    progress(`uploading chunk ${hashes.length + 1}/${total}`);
    hashes.push(await ic.upload_chunk({ canister_id: id, chunk: wasm.subarray(offset, offset + CHUNK_BYTES) }));
  }
  await ic.install_chunked_code({
    mode,
    target_canister: id,
    store_canister: [],
    chunk_hashes_list: hashes,
    wasm_module_hash: new Uint8Array(createHash('sha256').update(wasm).digest()),
    arg,
    sender_canister_version: []
  });
  await ic.clear_chunk_store({ canister_id: id });
}

/**
 * Installs or upgrades every canister: reuses the id recorded for this network when the canister still exists
 * there, creates it otherwise; skips an install whose module hash is unchanged; records the ids at the end.
 */
export async function deployCanisters(options: DeployOptions): Promise<DeployedCanister[]> {
  const network = options.network ?? 'local';
  const progress = options.onProgress ?? (() => undefined);
  const recorded = readRecordedIds(options.projectDir, network);
  const results: DeployedCanister[] = [];
  const ids: Record<string, string> = { ...recorded };
  const principal = await options.agent.getPrincipal();
  for (const canister of options.canisters) {
    if (!existsSync(canister.wasm)) {
      throw new IcError('DeployFailed', `${canister.wasm} does not exist: build ${canister.name} first (npm run build)`);
    }
    const wasm = new Uint8Array(readFileSync(canister.wasm));
    const moduleHash = createHash('sha256').update(wasm).digest('hex');
    const noArgs = new Uint8Array(IDL.encode([], []));
    let args: CanisterArgs = { install: noArgs, upgrade: noArgs };
    try {
      args = options.args?.[canister.name]?.(ids) ?? args;
    } catch (error) {
      throw new IcError('DeployFailed', `Deploying ${canister.name} failed: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error
      });
    }
    const previous = recorded[canister.name];
    const found = previous === undefined ? undefined : await exists(options.agent, Principal.fromText(previous));
    let id: Principal;
    let action: DeployAction;
    try {
      if (previous !== undefined && found !== undefined) {
        id = Principal.fromText(previous);
        if (found.moduleHash === moduleHash) {
          action = 'unchanged';
        } else {
          progress(`${canister.name}: ${found.moduleHash === undefined ? 'installing' : 'upgrading'} ${id.toText()}`);
          const upgrade = found.moduleHash !== undefined;
          await install(options.agent, id, wasm, upgrade ? args.upgrade : args.install, upgrade, progress);
          action = found.moduleHash === undefined ? 'created' : 'upgraded';
        }
      } else {
        progress(`${canister.name}: creating canister`);
        const created = await managementActor(options.agent).provisional_create_canister_with_cycles({
          amount: [DEFAULT_DEPLOY_CYCLES],
          settings: [],
          specified_id: [],
          sender_canister_version: []
        });
        id = created.canister_id;
        progress(`${canister.name}: installing ${id.toText()} as ${principal.toText()}`);
        await install(options.agent, id, wasm, args.install, false, progress);
        action = 'created';
      }
    } catch (error) {
      throw new IcError('DeployFailed', `Deploying ${canister.name} failed: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error
      });
    }
    ids[canister.name] = id.toText();
    results.push({ name: canister.name, id: id.toText(), action, moduleHash });
    recordIds(options.projectDir, network, ids);
  }
  return results;
}
