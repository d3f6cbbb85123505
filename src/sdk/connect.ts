/** How a DeaiClient connects: its options and clock, and the registry, ledger, credit and payer wired up from them. */
import { Principal } from '@dfinity/principal';
import { sha256 } from '@noble/hashes/sha2';
import { bytesToHex } from '@noble/hashes/utils';

import { createAgent } from '../ic/agent.js';
import { ledgerClient, type LedgerActor as LedgerClient } from '../ic/ledger.js';
import {
  requesterRegistry,
  type ActorOptions,
  type HttpAgent,
  type Identity,
  type RegistryActor as RequesterRegistry
} from '../ic/requester.js';
import { PayerClient, type PayerClientOptions, type PayerSigner } from './paid/payer.js';
import type { HttpPost } from './bounded-body.js';
import { IcCredit } from '../ic/credit.js';
import type { PayerCreditApi } from '../core/credit/index.js';
import { call, DeaiError } from './errors.js';

export interface ConnectOptions {
  /** The IC network, e.g. `http://127.0.0.1:4943` (the root key is fetched for anything but mainnet). */
  host: string;
  registryId: Principal | string;
  /** Defaults to the ledger the registry escrows rewards on (`get_task_config().ledger`). */
  ledgerId?: Principal | string;
  /** Who signs the calls; anonymous when left out (enough for reads, not for tasks or transfers). */
  identity?: Identity;
  /** Clock and sleep, injectable so that tests control waiting (defaults: Date.now, setTimeout). */
  clock?: Clock;
  /**
   * Checks certificate signatures of update calls (default: the agent's own check, in-thread). A Node process on a
   * hot path (the gateway, a payer) passes `workerBlsVerify` from src/ic/bls-verify.ts: the same check on worker
   * threads, so tens of milliseconds per call stop blocking its event loop.
   */
  blsVerify?: ActorOptions['blsVerify'];
  /**
   * Used by `chat({ via: 'direct' })` to call runners' endpoints (default: the global fetch; any fetch fits, and in
   * Node, src/inference/http-post.ts costs less CPU per request).
   */
  fetch?: HttpPost;
  /**
   * Pays runners' metered endpoints for `chat({ via: 'direct' })` (README "Metered runner endpoint"): where the payer's
   * books are kept, and its reservation and settlement policy. `credit` defaults to the registry's credit methods
   * called as `identity` (IcCredit). Left out, a signing `identity` still pays with these defaults (books in memory);
   * `false` turns direct chat off. Deposit credit first: `client.depositCredit(amountE8s)`.
   */
  paid?:
    | false
    | (Omit<PayerClientOptions, 'identity' | 'fetch' | 'nowMs' | 'credit'> & {
        credit?: PayerCreditApi;
        /** Signs payments instead of `identity` (e.g. a key the page holds while calls stay anonymous). */
        signer?: PayerSigner;
      });
}

export interface Clock {
  nowMs(): number;
  sleep(ms: number): Promise<void>;
}

const systemClock: Clock = { nowMs: () => Date.now(), sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) };

/** A key identity (Ed25519, secp256k1) can sign payments; a delegation chain or the anonymous identity cannot. */
const isSigner = (identity: Identity): identity is Identity & PayerSigner =>
  typeof (identity as Partial<PayerSigner>).sign === 'function' && typeof (identity as Partial<PayerSigner>).getPublicKey === 'function';

/** What `DeaiClient.connect` wires up from its options: the actors, the caller and the payer. */
export interface Connection {
  registry: RequesterRegistry;
  /** Undefined when the registry has no ledger configured and none was given. */
  ledger: LedgerClient | undefined;
  registryId: Principal;
  ledgerId: Principal | undefined;
  principal: Principal;
  clock: Clock;
  payer: PayerClient | undefined;
  credit: IcCredit;
}

/** Creates the agent and actors for `options` and opens the payer (see `DeaiClient.connect`). */
export async function openConnection(options: ConnectOptions): Promise<Connection> {
  const agent: HttpAgent = await call('connect', () => createAgent(options.host, options.identity));
  const registryId = typeof options.registryId === 'string' ? Principal.fromText(options.registryId) : options.registryId;
  const actorOptions: ActorOptions = options.blsVerify === undefined ? {} : { blsVerify: options.blsVerify };
  const registry = requesterRegistry(agent, registryId, actorOptions);
  const ledgerId =
    options.ledgerId === undefined
      ? (await call('get_task_config', () => registry.get_task_config())).ledger[0]
      : typeof options.ledgerId === 'string'
        ? Principal.fromText(options.ledgerId)
        : options.ledgerId;
  const principal = await call('getPrincipal', () => agent.getPrincipal());
  const paid = options.paid === false ? undefined : options.paid;
  const signer = paid?.signer ?? (options.identity !== undefined && isSigner(options.identity) ? options.identity : undefined);
  if (paid !== undefined && signer === undefined)
    throw new DeaiError('NotConfigured', '`paid` needs a signing identity', { what: 'identity' }, { retryable: false });
  const ledger = ledgerId === undefined ? undefined : ledgerClient(agent, ledgerId, actorOptions);
  const credit = new IcCredit(registry, { registryId, principal, ...(ledger === undefined ? {} : { ledger }) });
  const payer =
    options.paid === false || signer === undefined
      ? undefined
      : await PayerClient.open({
          // Books are the network's: its registry and root key (a fresh local network has a new key, same ids).
          network: networkIdOf(registryId.toText(), agent.rootKey),
          ...paid,
          credit: paid?.credit ?? credit,
          identity: signer,
          fetch: options.fetch ?? globalThis.fetch.bind(globalThis)
        });
  return { registry, ledger, registryId, ledgerId, principal, clock: options.clock ?? systemClock, payer, credit };
}

/** Names a network for the payer's books: the registry id and a digest of the network's root key. */
export function networkIdOf(registryId: string, rootKey: Uint8Array | ArrayBuffer | null | undefined): string {
  if (rootKey === null || rootKey === undefined) return registryId;
  const digest = bytesToHex(sha256(rootKey instanceof Uint8Array ? rootKey : new Uint8Array(rootKey))).slice(0, 16);
  return `${registryId}@${digest}`;
}
