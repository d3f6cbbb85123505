import type { Reject } from '../errors.js';

/** Entry points of the IC system API ("Overview of imports" context letters). */
export type EntryKind =
  | 'init'
  | 'pre_upgrade'
  | 'post_upgrade'
  | 'update'
  | 'replicated_query'
  | 'query'
  | 'composite_query'
  | 'reply_callback'
  | 'reject_callback'
  | 'cleanup'
  | 'global_timer'
  | 'heartbeat'
  | 'inspect_message';

export interface Callback {
  replyFun: number;
  replyEnv: number;
  rejectFun: number;
  rejectEnv: number;
  cleanup?: { fun: number; env: number };
}

/** A call assembled by call_new … call_perform. It leaves the canister only if the execution commits. */
export interface OutgoingCall {
  callee: Uint8Array;
  method: string;
  argChunks: Uint8Array[];
  cycles: bigint;
  callback: Callback;
  bestEffortTimeoutSeconds?: number;
}

export type Response = { kind: 'reply'; bytes: Uint8Array } | { kind: 'reject'; reject: Reject };

/** Everything one message execution may read or produce. The engine creates one per execution. */
export class ExecutionContext {
  readonly replyChunks: Uint8Array[] = [];
  response: Response | undefined;
  pendingCall: OutgoingCall | undefined;
  readonly performedCalls: OutgoingCall[] = [];
  certifiedData: Uint8Array | undefined;
  globalTimer: bigint | undefined;
  accepted = false;
  cyclesAccepted = 0n;
  cyclesBurned = 0n;
  cyclesSentByCalls = 0n;
  readonly logs: string[] = [];

  constructor(
    readonly kind: EntryKind,
    readonly init: {
      caller: Uint8Array;
      arg: Uint8Array;
      methodName: string;
      timeNs: bigint;
      /** Whether this execution may reply/reject (the call context has not responded yet). */
      canRespond: boolean;
      cyclesAvailable: bigint;
      cyclesRefunded: bigint;
      rejectCode: number;
      rejectMessage: string;
      dataCertificate?: Uint8Array;
      deadlineNs?: bigint;
      /** A callback or cleanup of a composite query's call context: non-replicated like the query itself. */
      inQuery?: boolean;
    }
  ) {}

  get replicated(): boolean {
    return this.kind !== 'query' && this.kind !== 'composite_query' && this.kind !== 'inspect_message' && this.init.inQuery !== true;
  }

  get mayCall(): boolean {
    return (
      this.kind === 'update' ||
      this.kind === 'reply_callback' ||
      this.kind === 'reject_callback' ||
      this.kind === 'global_timer' ||
      this.kind === 'heartbeat' ||
      this.kind === 'composite_query'
    );
  }

  get isCallback(): boolean {
    return this.kind === 'reply_callback' || this.kind === 'reject_callback';
  }
}
