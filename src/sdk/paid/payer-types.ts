/** The payer client's public shapes: who signs, which runner is paid, what is sent and what comes back, its options. */
import type { AcceptedCharge, Charge, PayerCreditApi, SignedReceipt } from '../../core/credit/index.js';
import { CodedError } from '../../core/errors/coded-error.js';
import type { Prices } from '../../core/rewards/pricing.js';
import type { HttpPost } from '../bounded-body.js';
import type { PayerStateStore } from './state.js';

/** The signing half of an IC identity (agent-js Ed25519KeyIdentity, Secp256k1KeyIdentity). */
export interface PayerSigner {
  getPrincipal(): { toText(): string };
  getPublicKey(): { toDer(): ArrayBuffer | Uint8Array };
  sign(blob: Uint8Array): Promise<ArrayBuffer | Uint8Array>;
}

/** A runner to pay: its metered endpoint and the prices it POSTED in the registry (the payer pays no more). */
export interface PaidTarget {
  runner: string;
  endpoint: string;
  prices: Prices;
  servedContext?: number;
}

export interface PaidRequest {
  path: '/v1/chat/completions' | '/v1/completions';
  /** The OpenAI body; `max_tokens` is what the payer bounds the output by (DEFAULT_MAX_TOKENS when absent). */
  body: Record<string, unknown>;
  signal?: AbortSignal;
  /**
   * Streams (`body.stream: true`): each chunk as it arrives, parsed (the usage chunk included), with the SSE `data` it
   * was parsed from (a relay can forward those bytes instead of serializing the chunk again).
   */
  onChunk?: (chunk: Record<string, unknown>, data: string) => void;
  /**
   * Streams: the runner's `[DONE]` arrived after a whole answer (no error event). Called before the charge is checked
   * and the receipt signed, so a relay can end its own answer without waiting for them; the result still says whether
   * the charge was accepted.
   */
  onEnd?: () => void;
}

export type PaidResult =
  | {
      ok: true;
      status: number;
      /** Plain requests: the runner's answer (with its `deai_charge`). */
      body?: Record<string, unknown>;
      /** The runner's claim, and what the payer accepted and signed (its own bound when the runner over-reports). */
      charge?: Charge;
      accepted?: AcceptedCharge;
      receipt?: SignedReceipt;
    }
  | {
      ok: false;
      status: number;
      error: { message: string; type?: string; code?: string };
      body: string;
      /**
       * A stream that broke after the runner took the request, its charge unseen: noted as unbilled, so the payer takes
       * up a charge the runner lists for it, up to this, before a later request.
       */
      unbilledE8s?: bigint;
    };

/**
 * A stream cut or aborted after the runner took the request: the payer may yet pay up to `details.unbilledE8s` for it
 * (it takes up a charge the runner lists before a later request).
 */
export class BrokenPaidRequest extends CodedError<'StreamBroken', { unbilledE8s: bigint }> {
  constructor(cause: unknown, unbilledE8s: bigint) {
    super('StreamBroken', cause instanceof Error ? cause.message : String(cause), { cause, retryable: true, details: { unbilledE8s } });
  }

  get unbilledE8s(): bigint {
    return this.details.unbilledE8s;
  }
}

export interface PayerClientOptions {
  identity: PayerSigner;
  credit: PayerCreditApi;
  /** The payer's books (default: in memory only). */
  store?: PayerStateStore;
  /** Credit reserved toward a runner each time its line runs low (default 10_000_000 e8s, raised to a request's worst case). */
  reserveE8s?: bigint;
  /**
   * The most one runner's line may hold unsettled (reserved less owed) after a top-up (default 100_000_000 e8s): a
   * runner refusing or failing requests cannot draw more of the payer's free credit into its line.
   */
  maxReservePerRunnerE8s?: bigint;
  /** Lines unused this long are closed (their unspent credit returns after the dispute window; default 1 h, 0: never). */
  closeIdleAfterMs?: number;
  /** The network the books are for (registry id and root key, DeaiClient sets it): books of another are not used. */
  network?: string;
  /** Settle all lines after this many accepted charges (default 100)… */
  settleEveryRequests?: number;
  /** …or this long after the first unsettled one (default 10 s; 0: only by count and `flush()`). */
  settleEveryMs?: number;
  /** How long a signed request stays valid (default 60 s). */
  requestValidityMs?: number;
  /** Called when a runner's charge exceeds the payer's own count (it is then marked, see `isOverReporting`). */
  onOverReport?: (runner: string, charge: Charge, accepted: AcceptedCharge) => void;
  /** How runners are called (default: the global fetch; the gateway passes Node's HTTP client, a cheaper one). */
  fetch?: HttpPost;
  nowMs?: () => number;
}
