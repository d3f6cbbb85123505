import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { homedir } from 'node:os';
import { join } from 'node:path';

import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';

import { AsyncSigner } from './certification/async-signer.js';
import { Certifier } from './certification/certificate.js';
import { buildTree, leb128 } from './certification/hash-tree.js';
import { generateHostKeys, parseHostKeys, serializeHostKeys, type HostKeys } from './crypto/host-keys.js';
import type { Canister } from './execution/canister.js';
import { CodeCache } from './execution/compiled-code.js';
import type { Response } from './execution/context.js';
import { Engine } from './execution/engine.js';
import type { InstructionLimits } from './execution/limits.js';
import type { ExecutionEvent } from './execution/messages.js';
import { restoreEngine, roundDelta } from './execution/snapshot.js';
import { MANAGEMENT_CANISTER_ID } from './ids.js';
import { decodeOne } from './management/candid.js';
import { CanisterIdRecord, InstallCodeArgs, ProvisionalCreateArgs } from '../interface/management/index.js';
import { ManagementCanister } from './management/management-canister.js';
import { installSystemCanisters } from './management/system-canisters.js';
import { StateStore } from './persistence/index.js';
import { removeServerInfo, writeServerInfo } from './persistence/server-info.js';
import { RoundCertifier } from './http/round-certifier.js';
import { createHttpServer, listen } from './http/server.js';

import { DEFAULT_PORT, DEFAULT_STATE_DIR } from './defaults.js';
import { RejectCode } from './errors.js';
import { CodedError } from '../core/errors/coded-error.js';

export { DEFAULT_PORT, DEFAULT_STATE_DIR };
/**
 * The principal host-side calls (tests, tools) act as, and the controller of canisters they install. A fixed,
 * non-anonymous principal no client key can sign for: the anonymous principal must never control anything.
 */
export const HOST_CALLER = Principal.selfAuthenticating(new TextEncoder().encode('deai-localnet-host-caller'));

export interface LocalnetOptions {
  /** TCP port on 127.0.0.1; 0 picks a free one. Default 4943. */
  port?: number;
  /** Where canisters, keys and memories live; null keeps everything in memory. Default `.deai/localnet`. */
  stateDir?: string | null;
  /** Discard the state directory's content first. */
  clean?: boolean;
  instructionLimits?: Partial<InstructionLimits>;
  /** Cache of instrumented modules shared across state directories. Default `~/.cache/deai/wasm`. */
  codeCacheDir?: string | null;
  /** fsync each round (default true; tests of throwaway state may turn it off). */
  fsync?: boolean;
  syncCallTimeoutMs?: number;
  /** Reports host errors (never canister errors) that were answered with HTTP 500. */
  onError?: (error: unknown) => void;
}

export type LocalnetErrorCode = 'InstallFailed' | 'CallRejected';

export class LocalnetError extends CodedError<LocalnetErrorCode, { rejectCode?: number; errorCode?: string }> {
  constructor(
    code: LocalnetErrorCode,
    message: string,
    readonly rejectCode?: number,
    readonly errorCode?: string
  ) {
    // SYS_TRANSIENT (2) is the reject code the IC interface specification says may succeed when retried.
    super(code, message, { retryable: rejectCode === RejectCode.SysTransient, details: { rejectCode, errorCode } });
    this.name = 'LocalnetError';
  }
}

/**
 * An embedded local ICP network: the real canister Wasm behind the IC HTTP interface. Start it, point
 * `@dfinity/agent` at `url` (fetching the root key), and stop it when done.
 *
 * @example
 * const net = await Localnet.start({ port: 0, stateDir: null });
 * const id = await net.installCanister({ wasm });
 * await net.stop();
 */
export class Localnet {
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    readonly engine: Engine,
    readonly keys: HostKeys,
    private readonly server: Server,
    readonly port: number,
    private readonly store: StateStore | undefined,
    readonly rounds: RoundCertifier,
    private readonly signer: AsyncSigner
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** DER of the BLS root key, as `/api/v2/status` serves it. */
  get rootKey(): Uint8Array {
    return this.keys.rootKeyDer;
  }

  get rootKeyHex(): string {
    return Buffer.from(this.keys.rootKeyDer).toString('hex');
  }

  static async start(options: LocalnetOptions = {}): Promise<Localnet> {
    const stateDir = options.stateDir === undefined ? DEFAULT_STATE_DIR : options.stateDir;
    const store =
      stateDir === null ? undefined : StateStore.open(stateDir, { clean: options.clean, fsync: options.fsync, groupCommit: true });
    try {
      const keys = stateDir === null ? generateHostKeys() : loadOrCreateKeys(stateDir);
      const certifier = new Certifier(keys);
      const cacheDir = options.codeCacheDir === undefined ? join(homedir(), '.cache', 'deai', 'wasm') : (options.codeCacheDir ?? undefined);
      let engine: Engine | undefined;
      const certificates = new Map<string, { key: string; bytes: Uint8Array }>();
      const dataCertificate = (canister: Canister): Uint8Array => {
        // One certificate per (canister, certified data, second): queries in between reuse the bytes.
        const second = ((engine?.wallNow() ?? 0n) / 1_000_000_000n) * 1_000_000_000n;
        const key = `${Buffer.from(canister.certifiedData).toString('hex')}@${second}`;
        const cached = certificates.get(canister.text);
        if (cached?.key === key) return cached.bytes;
        const tree = buildTree(
          new Map<string, Map<Uint8Array, Map<string, Uint8Array>> | Uint8Array>([
            ['canister', new Map([[canister.canisterId, new Map([['certified_data', canister.certifiedData]])]])],
            ['time', leb128(second)]
          ])
        );
        const bytes = certifier.certify(tree);
        certificates.set(canister.text, { key, bytes });
        return bytes;
      };
      engine = new Engine({ instructionLimits: options.instructionLimits, codeCache: new CodeCache(cacheDir), dataCertificate });
      new ManagementCanister().install(engine);
      installSystemCanisters(engine, () => keys.subnetId);
      if (store !== undefined) {
        restoreEngine(engine, store.state);
        const persistent = store;
        const liveEngine = engine;
        engine.onRound((summary) => persistent.commit(roundDelta(liveEngine, summary)));
      }
      const onError = options.onError ?? ((error: unknown) => console.error('localnet host error:', error));
      engine.reportHostError = onError;
      const signer = new AsyncSigner(keys.rootSecretKey);
      // Group commit: a round's log record is written at once, its fdatasync runs off the main thread, and no
      // certificate (the acknowledgement of a call) is released before it completed.
      const rounds = new RoundCertifier(engine, signer, onError, store === undefined ? undefined : () => store.durable());
      rounds.attach();
      const server = createHttpServer({ engine, keys, signer, rounds, syncCallTimeoutMs: options.syncCallTimeoutMs ?? 10_000 }, onError);
      const port = await listen(server, options.port ?? DEFAULT_PORT);
      const localnet = new Localnet(engine, keys, server, port, store, rounds, signer);
      localnet.startTimerLoop();
      if (store !== undefined)
        writeServerInfo(store.dir, { pid: process.pid, url: localnet.url, port, rootKey: localnet.rootKeyHex, startedAtMs: Date.now() });
      return localnet;
    } catch (error) {
      store?.close({ checkpoint: false });
      throw error;
    }
  }

  /** Wakes the engine when a canister timer falls due (canister time follows the wall clock plus offsets). */
  private startTimerLoop(): void {
    this.timer = setInterval(() => {
      if (this.engine.busy) this.engine.scheduleRound();
    }, 50);
    this.timer.unref();
  }

  /**
   * Freezes canister time (only `advanceTime` moves it), or lets it follow the wall clock again from where it stood:
   * tests of backoffs and deadlines then do not depend on how fast a loaded machine runs them.
   */
  freezeTime(frozen = true): void {
    this.engine.freezeTime(frozen);
  }

  /** Moves canister time forward (certificates keep the wall clock) and runs every timer that fell due. */
  async advanceTime(ms: number): Promise<void> {
    this.engine.advanceTime(BigInt(Math.round(ms)) * 1_000_000n);
    await this.tick();
  }

  /** Runs queued messages and due timers until the network is idle. */
  async tick(): Promise<void> {
    this.engine.runUntilIdle();
    await new Promise((resolve) => setImmediate(resolve));
  }

  onExecution(listener: (event: ExecutionEvent) => void): void {
    this.engine.onExecution(listener);
  }

  /** Creates a canister (controllers default to the host caller and any given) and installs `wasm` with `arg`. */
  async installCanister(options: {
    wasm: Uint8Array;
    arg?: Uint8Array;
    controllers?: Principal[];
    cycles?: bigint;
    canisterId?: Principal;
  }): Promise<Principal> {
    const controllers = [HOST_CALLER, ...(options.controllers ?? [])];
    const created = await this.management('provisional_create_canister_with_cycles', ProvisionalCreateArgs, {
      amount: options.cycles === undefined ? [] : [options.cycles],
      settings: [
        {
          controllers: [controllers],
          compute_allocation: [],
          memory_allocation: [],
          freezing_threshold: [],
          reserved_cycles_limit: [],
          log_visibility: [],
          wasm_memory_limit: [],
          wasm_memory_threshold: [],
          environment_variables: []
        }
      ],
      specified_id: options.canisterId === undefined ? [] : [options.canisterId],
      sender_canister_version: []
    });
    const { canister_id: canisterId } = decodeOne<{ canister_id: Principal }>(CanisterIdRecord, created);
    await this.installCode(canisterId, 'install', options.wasm, options.arg);
    return canisterId;
  }

  async installCode(canisterId: Principal, mode: 'install' | 'reinstall' | 'upgrade', wasm: Uint8Array, arg?: Uint8Array): Promise<void> {
    const modeValue = mode === 'upgrade' ? { upgrade: [] } : { [mode]: null };
    await this.management('install_code', InstallCodeArgs, {
      mode: modeValue,
      canister_id: canisterId,
      wasm_module: wasm,
      arg: arg ?? new Uint8Array(IDL.encode([], [])),
      sender_canister_version: []
    });
  }

  /** An update call from the host caller; resolves with the reply bytes or throws LocalnetError. */
  async update(canisterId: Principal, method: string, arg: Uint8Array, caller: Principal = HOST_CALLER): Promise<Uint8Array> {
    return unwrap(await this.engine.callFromHost({ canisterId, method, arg, caller }));
  }

  private async management(method: string, type: IDL.Type, value: unknown): Promise<Uint8Array> {
    const arg = new Uint8Array(IDL.encode([type], [value]));
    return unwrap(await this.engine.callFromHost({ canisterId: MANAGEMENT_CANISTER_ID, method, arg, caller: HOST_CALLER }));
  }

  /** Stops serving, writes a checkpoint and releases the state directory. */
  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.engine.runUntilIdle();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    if (this.store !== undefined) removeServerInfo(this.store.dir, process.pid);
    this.store?.close();
    await this.signer.close();
  }
}

function unwrap(response: Response): Uint8Array {
  if (response.kind === 'reply') return response.bytes;
  throw new LocalnetError('CallRejected', response.reject.message, response.reject.code, response.reject.errorCode);
}

/** The root and node keys live in the state directory so clients that cached the root key keep working. */
function loadOrCreateKeys(stateDir: string): HostKeys {
  const path = join(stateDir, 'host-keys.json');
  if (existsSync(path)) return parseHostKeys(readFileSync(path, 'utf8'));
  const keys = generateHostKeys();
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(path, serializeHostKeys(keys), { mode: 0o600 });
  return keys;
}
