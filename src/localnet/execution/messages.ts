import type { Principal } from '@dfinity/principal';

import type { Reject } from '../errors.js';
import type { Canister } from './canister.js';
import type { Callback, Response } from './context.js';

export type IngressStatus = 'received' | 'processing' | 'replied' | 'rejected' | 'done';

/** An ingress update call as `/request_status/<id>` reports it. */
export interface IngressRecord {
  requestId: Uint8Array;
  requestIdHex: string;
  sender: Principal;
  effectiveCanisterId: Principal;
  canisterId: Principal;
  method: string;
  status: IngressStatus;
  reply?: Uint8Array;
  reject?: Reject;
  expiryNs: bigint;
  /** Set once the round that finished it is durable (and certified, when a listener certifies rounds). */
  finalizedRound?: number;
  /** Filled in by round listeners (the HTTP layer keeps its certificate here). */
  certification?: unknown;
}

/** Where a call context's response goes. */
export type Origin =
  | { kind: 'ingress'; record: IngressRecord }
  | { kind: 'canister'; context: CallContext; callback: Callback; deadlineNs?: bigint; callee?: string }
  | { kind: 'host'; resolve: (response: Response) => void }
  | { kind: 'system' };

export interface CallContext {
  id: number;
  canister: Canister;
  origin: Origin;
  responded: boolean;
  outstanding: number;
  cyclesAvailable: bigint;
  instructions: bigint;
  /** The canister's code epoch when the context was opened; callbacks for an older epoch are dropped. */
  epoch: number;
  deadlineNs?: bigint;
}

export type Message =
  | {
      kind: 'call';
      target: Principal;
      method: string;
      arg: Uint8Array;
      caller: Principal;
      cycles: bigint;
      origin: Origin;
      /** Ingress reaches only update methods; inter-canister calls may reach queries (replicated). */
      ingress: boolean;
    }
  | { kind: 'response'; context: CallContext; callback: Callback; response: Response; refund: bigint; callee?: string }
  | { kind: 'timer'; canister: Canister }
  | { kind: 'heartbeat'; canister: Canister };

/** One Wasm execution, for logs and benchmarks. */
export interface ExecutionEvent {
  canisterId: string;
  entry: string;
  instructions: bigint;
  ok: boolean;
  errorCode?: string;
  durationMs: number;
}
