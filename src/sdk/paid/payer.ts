import { createParser, type EventSourceMessage } from 'eventsource-parser';

import {
  acceptCharge,
  AUTH_HEADERS,
  authHeaders,
  chargeFromJson,
  NONCE_BYTES,
  receiptProblem,
  receiptSigningBytes,
  requestBoundOf,
  requestSigningBytes,
  signedReceiptFromJson,
  signedReceiptToJson,
  worstCaseCostE8s,
  type AcceptedCharge,
  type Charge,
  type CreditLineView,
  type PayerCreditApi,
  type SettleOutcome,
  type SignedReceipt
} from '../../core/credit/index.js';
import type { Prices } from '../../core/rewards/pricing.js';
import { ANSWER_BODY_MAX_BYTES, ERROR_BODY_MAX_BYTES, eachPiece, readBodyText, type BodySource, type HttpPost } from '../bounded-body.js';
import { completionBytesOf } from './completion-bytes.js';
import { booksNetworkOf, decodeBooks, encodeBooks, memoryPayerStore, type PayerLine, type PayerStateStore } from './state.js';

/** The runner's listing of a line's unreceipted charges (at most 256 are read) and its held receipt. */
const CHARGES_BODY_MAX_BYTES = 4 * 1024 * 1024;

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
  | { ok: false; status: number; error: { message: string; type?: string; code?: string }; body: string };

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

const NO_CHARGES = { costE8s: 0n, inputTokens: 0n, outputTokens: 0n, requests: 0n };

/**
 * A request goes without the line's latest receipt while the books are still writing it (it leaves the payer only once
 * they hold it), rather than wait for the disk before its first token: the runner lets some requests go unreceipted
 * (its `maxUnsignedRequests`, 32 by default). With this many charges unsent, the request waits for the books instead.
 */
export const RECEIPT_WAIT_COVERS = 4;

const toBytes = (b: ArrayBuffer | Uint8Array): Uint8Array => (b instanceof Uint8Array ? b : new Uint8Array(b));

/**
 * How long the payer waits for a runner's answer to a call of its own (the charges a request needs checked first, a
 * receipt handed over): a runner that never answers one fails it, rather than holding every later request to it.
 */
export const SIDE_CALL_TIMEOUT_MS = 30_000;

/** `signal` (the request's, when the call is made for one) ending at the latest after `ms`. */
function bounded(signal: AbortSignal | undefined, ms: number): AbortSignal {
  const timeout = AbortSignal.timeout(ms);
  if (signal === undefined) return timeout;
  // AbortSignal.any: Node 20.3+, and browsers since 2023-24; where absent, the timeout alone bounds the call.
  const any = (AbortSignal as { any?: (signals: AbortSignal[]) => AbortSignal }).any;
  return typeof any === 'function' ? any.call(AbortSignal, [signal, timeout]) : timeout;
}

/**
 * Pays runners' metered endpoints (README "Metered runner endpoint"): opens and tops up a credit line per runner,
 * signs each request, checks each charge against its own count, signs a cumulative receipt of what it accepts (sent
 * with the next request), and settles all lines in batches.
 * @example
 * const payer = await PayerClient.open({ identity, credit, store: filePayerStore('.deai/payer.json') });
 * const r = await payer.send(target, { path: '/v1/chat/completions', body: { model, messages, max_tokens: 64 } });
 * await payer.close();
 */
export class PayerClient {
  readonly payer: string;
  private readonly lines = new Map<string, PayerLine>();
  private readonly overReporting = new Set<string>();
  private readonly inFlightE8s = new Map<string, bigint>();
  /** Lines adopted from the chain without books: the runner's held receipt is asked for before the next request. */
  private readonly unsynced = new Set<string>();
  /** Runners with a request ended unseen since their charges were last asked for. */
  private readonly toCheck = new Set<string>();
  /** Charge seqs signed for lately per line (the last 1,024): a listed charge already paid is never paid twice. */
  private readonly signedCharges = new Map<bigint, bigint[]>();
  private readonly lastUsedMs = new Map<string, number>();
  /** Per line, what this client signed since it opened or last took up a receipt from elsewhere (see adoptHeld). */
  private readonly fromHere = new Map<bigint, typeof NO_CHARGES>();
  /** Per line, the highest receipt seq signed here that the books may not hold durably yet. */
  private readonly notDurable = new Map<bigint, bigint>();
  private idleTimer: ReturnType<typeof setInterval> | undefined;
  /** The network the loaded books were written for, when it is not this one (they were set aside: fresh books). */
  readonly foreignBooksNetwork: string | undefined;
  private readonly chains = new Map<string, Promise<unknown>>();
  private readonly store: PayerStateStore;
  private readonly publicKey: Uint8Array;
  private readonly fetchImpl: HttpPost;
  private readonly nowMs: () => number;
  /** Each record as last saved (JSON text): a save hands the store only the records that changed. */
  private readonly saved = new Map<string, string>();
  private unsettledCount = 0;
  private settleTimer: ReturnType<typeof setTimeout> | undefined;
  private flushing: Promise<SettleOutcome[]> | undefined;

  private constructor(private readonly o: PayerClientOptions) {
    this.payer = o.identity.getPrincipal().toText();
    this.store = o.store ?? memoryPayerStore();
    this.publicKey = toBytes(o.identity.getPublicKey().toDer());
    this.fetchImpl = o.fetch ?? ((input, init) => fetch(input, init));
    this.nowMs = o.nowMs ?? Date.now;
    const records = this.store.load();
    for (const [key, value] of records) this.saved.set(key, JSON.stringify(value));
    const network = booksNetworkOf(records);
    this.foreignBooksNetwork = o.network !== undefined && network !== undefined && network !== o.network ? network : undefined;
    const books = decodeBooks(this.payer, records, o.network);
    for (const line of books.lines) this.lines.set(line.runner, line);
    for (const runner of books.overReporting) this.overReporting.add(runner);
  }

  /** Loads the payer's books from `store` (resuming seq and owed per line). */
  static async open(options: PayerClientOptions): Promise<PayerClient> {
    const client = new PayerClient(options);
    if (client.lines.size > 0 && [...client.lines.values()].some((l) => l.seq > l.settledSeq)) client.scheduleSettle();
    const idleMs = options.closeIdleAfterMs ?? 3_600_000;
    if (idleMs > 0 && options.credit.closeCreditLine !== undefined) {
      client.idleTimer = setInterval(() => void client.closeIdleLines().catch(() => undefined), Math.min(idleMs, 60_000));
      // Node: the check alone must not keep a process alive (browsers' timers have no unref).
      const timer: unknown = client.idleTimer;
      if (typeof timer === 'object' && timer !== null && 'unref' in timer && typeof timer.unref === 'function') timer.unref();
    }
    return Promise.resolve(client);
  }

  /** Runners caught charging more than the payer's own count (callers may avoid them). */
  isOverReporting(runner: string): boolean {
    return this.overReporting.has(runner);
  }

  listOverReporting(): string[] {
    return [...this.overReporting];
  }

  /** The payer's line toward `runner`, as its books hold it. */
  lineOf(runner: string): Readonly<PayerLine> | undefined {
    return this.lines.get(runner);
  }

  /**
   * Sends one metered request to `target`, paying from the line toward it (opened or topped up as needed). HTTP
   * errors come back as `ok: false` with the runner's status and OpenAI error; a transport failure throws.
   */
  async send(target: PaidTarget, request: PaidRequest): Promise<PaidResult> {
    const bound = requestBoundOf(request.path, request.body);
    if (typeof bound === 'string') return { ok: false, status: 400, error: { message: bound, code: 'invalid_request' }, body: '' };
    const worstE8s = worstCaseCostE8s(target.prices, bound, target.servedContext);
    let resynced = false;
    for (let attempt = 0; ; attempt++) {
      const line = await this.ensureCredit(target.runner, worstE8s, attempt > 0 && !resynced);
      if ('refused' in line) return line.refused;
      this.lastUsedMs.set(target.runner, this.nowMs());
      // Books adopted from the chain, or charges this payer never saw: ask the runner what it holds first.
      if (this.unsynced.has(target.runner) || this.toCheck.has(target.runner))
        await this.reconcile(target, line, request.signal).catch(() => undefined);
      this.inFlightE8s.set(target.runner, (this.inFlightE8s.get(target.runner) ?? 0n) + worstE8s);
      try {
        const result = await this.attempt(target, request, line, bound, worstE8s);
        if (attempt > 0 || result.ok) return result;
        // The runner may have seen less credit than the payer did (a reservation not yet visible): top up once.
        if (result.status === 402 && result.error.code === 'insufficient_credit') continue;
        // The runner holds a later receipt than these books (they were lost), or charges the payer never saw: take
        // them up and try once more.
        const resync = result.status === 409 || (result.status === 402 && /^(unpaid_charges|exposure_cap)$/.test(result.error.code ?? ''));
        if (!resync) return result;
        if (result.status === 409) this.adoptHeld(line, result.body);
        else await this.reconcile(target, line, request.signal).catch(() => undefined);
        resynced = true;
      } finally {
        this.inFlightE8s.set(target.runner, (this.inFlightE8s.get(target.runner) ?? 0n) - worstE8s);
      }
    }
  }

  /**
   * Asks the runner (`GET /deai/v1/charges`, signed) for the line's latest receipt it holds and its charges no receipt
   * covers: the books resume from the higher of theirs and the held receipt (signed by this payer), and charges of
   * requests that ended without one seen (a broken or aborted stream) are signed for, each up to such a request's
   * worst case. Charges the payer cannot match are not signed (the runner then refuses this payer, nothing more).
   */
  private async reconcile(target: PaidTarget, line: PayerLine, signal?: AbortSignal): Promise<void> {
    const path = `/deai/v1/charges?line=${line.lineId}`;
    const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
    const expiresAtNs = BigInt(this.nowMs() + (this.o.requestValidityMs ?? 60_000)) * 1_000_000n;
    const toSign = { runner: target.runner, lineId: line.lineId, method: 'GET', path, body: new Uint8Array(0), nonce, expiresAtNs };
    const signature = toBytes(await this.o.identity.sign(requestSigningBytes(toSign)));
    const response = await this.fetchImpl(new URL(path, target.endpoint), {
      method: 'GET',
      headers: authHeaders(toSign, this.publicKey, signature),
      signal: bounded(signal, SIDE_CALL_TIMEOUT_MS)
    });
    // Read (bounded) even when refused: an unread body holds its connection.
    const { text, truncated } = await readBodyText(response, response.ok ? CHARGES_BODY_MAX_BYTES : ERROR_BODY_MAX_BYTES);
    if (!response.ok) return;
    if (truncated) return;
    this.unsynced.delete(target.runner);
    this.toCheck.delete(target.runner);
    this.adoptHeld(line, text);
    let listed: unknown;
    try {
      listed = (JSON.parse(text) as { charges?: unknown }).charges;
    } catch {
      return;
    }
    // Unmatched ones stay (a charge may be listed later: the runner sees an abort after the payer does).
    const unbilled = (line.unbilled ?? []).slice().sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    if (!Array.isArray(listed)) return;
    for (const item of listed.slice(0, 256)) {
      const charge = chargeFromJson(item);
      if (charge === undefined || charge.lineId !== line.lineId || charge.owedE8s <= line.owedE8s) continue;
      if (line.unsentCovers.includes(charge.chargeSeq) || this.signedCharges.get(line.lineId)?.includes(charge.chargeSeq)) continue;
      // The smallest worst case of a request that ended unseen, if it bounds the charge, pays for it.
      const index = unbilled.findIndex((worst) => worst >= charge.costE8s);
      if (index < 0) continue;
      unbilled.splice(index, 1);
      line.unbilled = unbilled.slice();
      const { inputTokens, outputTokens, costE8s } = charge;
      await this.signReceipt(line, charge.chargeSeq, { inputTokens, outputTokens, costE8s, overReported: [] });
    }
    this.save();
  }

  /**
   * Takes up the runner's held receipt from a response body when it is this payer's, for this line, and ahead of the
   * books: by seq (the books resume from it), or by owed under a lower seq. The latter is a fork: another instance of
   * this payer (or an earlier life without books) signed it, so it covers none of the charges this client signed since
   * it opened or last took up a receipt from elsewhere; the books resume from it plus those (`fromHere`), under their own seq
   * (the next receipt is above both). Refusing it left every later receipt `NotCumulative`: each request a 409, no
   * charge signed again.
   */
  private adoptHeld(line: PayerLine, body: string): void {
    let held: SignedReceipt | undefined;
    try {
      held = signedReceiptFromJson((JSON.parse(body) as { held_receipt?: unknown }).held_receipt);
    } catch {
      return;
    }
    if (held === undefined || receiptProblem(held) !== undefined) return;
    const r = held.receipt;
    if (r.lineId !== line.lineId || r.payer !== this.payer || r.runner !== line.runner) return;
    const max = (a: bigint, b: bigint): bigint => (a > b ? a : b);
    if (r.seq < line.seq && r.owedE8s > line.owedE8s) {
      const own = this.fromHere.get(line.lineId) ?? NO_CHARGES;
      Object.assign(line, {
        owedE8s: r.owedE8s + own.costE8s,
        inputTokens: r.inputTokens + own.inputTokens,
        outputTokens: r.outputTokens + own.outputTokens,
        requests: r.requests + own.requests,
        latest: held
      });
      this.fromHere.delete(line.lineId);
      this.save();
      return;
    }
    if (r.seq < line.seq || (r.seq === line.seq && r.owedE8s <= line.owedE8s)) return;
    this.fromHere.delete(line.lineId);
    Object.assign(line, {
      seq: r.seq,
      owedE8s: max(r.owedE8s, line.owedE8s),
      inputTokens: max(r.inputTokens, line.inputTokens),
      outputTokens: max(r.outputTokens, line.outputTokens),
      requests: max(r.requests, line.requests),
      latest: held
    });
    this.save();
  }

  private async ensureCredit(runner: string, worstE8s: bigint, force: boolean): Promise<PayerLine | { refused: PaidResult }> {
    return this.serial(`line:${runner}`, async () => {
      let line = this.lines.get(runner);
      if (line === undefined) {
        const found = await this.o.credit.findCreditLine(this.payer, runner);
        if (found !== undefined) {
          line = this.adopt(runner, found);
          this.unsynced.add(runner);
        }
      }
      const inFlight = this.inFlightE8s.get(runner) ?? 0n;
      if (line !== undefined && force) {
        // A runner's 402 forces a top-up only if the line is short on-chain too (a malicious runner refusing every
        // request must not make the payer lock fresh credit toward it each time).
        const found = await this.o.credit.findCreditLine(this.payer, runner);
        if (found?.id === line.lineId) {
          line.reservedE8s = found.reservedE8s;
          const unsettled = line.owedE8s > found.settledE8s ? line.owedE8s - found.settledE8s : 0n;
          const available = found.availableE8s ?? found.reservedE8s - found.settledE8s;
          if (available - unsettled - inFlight >= worstE8s) return line;
        }
      }
      if (line === undefined || force || line.reservedE8s - line.owedE8s - inFlight < worstE8s) {
        const want = this.o.reserveE8s ?? 10_000_000n;
        // What the line would hold unsettled after the top-up stays within the per-runner cap.
        const cap = this.o.maxReservePerRunnerE8s ?? 100_000_000n;
        const holds = line === undefined ? 0n : line.reservedE8s - line.owedE8s;
        let amount = want > worstE8s ? want : worstE8s;
        if (holds + amount > cap) amount = cap - holds;
        if (amount < worstE8s || amount <= 0n)
          return {
            refused: {
              ok: false,
              status: 402,
              error: {
                message: `the line toward ${runner} already holds ${holds} e8s; a request of worst case ${worstE8s} e8s would pass the payer's cap of ${cap} e8s per runner`,
                type: 'insufficient_quota',
                code: 'reserve_cap'
              },
              body: ''
            }
          };
        const view = await this.o.credit.reserveCredit(runner, amount);
        line = line !== undefined && line.lineId === view.id ? line : this.adopt(runner, { ...view, reservedE8s: 0n });
        line.reservedE8s = view.reservedE8s;
        this.save();
      }
      return line;
    });
  }

  /**
   * Closes the lines not used for `closeIdleAfterMs` whose receipts are all settled (their unspent credit returns to
   * free credit when the dispute window ends); the books forget them, a later request opens a new line.
   */
  async closeIdleLines(): Promise<bigint[]> {
    const idleMs = this.o.closeIdleAfterMs ?? 3_600_000;
    const close = this.o.credit.closeCreditLine?.bind(this.o.credit);
    if (idleMs <= 0 || close === undefined) return [];
    const now = this.nowMs();
    const closed: bigint[] = [];
    for (const [runner, line] of [...this.lines]) {
      const last = this.lastUsedMs.get(runner);
      if (last === undefined) this.lastUsedMs.set(runner, now);
      if (last === undefined || now - last < idleMs || line.seq > line.settledSeq || (this.inFlightE8s.get(runner) ?? 0n) > 0n) continue;
      await this.serial(`line:${runner}`, async () => {
        await close(line.lineId);
        this.lines.delete(runner);
        this.lastUsedMs.delete(runner);
        closed.push(line.lineId);
        this.save();
      }).catch(() => undefined);
    }
    return closed;
  }

  /**
   * Takes up a line found on-chain without books for it (a payer that lost its state): owed resumes from what is
   * settled, so the next receipt is cumulative over it (restarting at 0 made every receipt OwedBelowSettled).
   */
  private adopt(runner: string, view: CreditLineView): PayerLine {
    const { id: lineId, reservedE8s, settledSeq } = view;
    const held = this.lines.get(runner);
    if (held?.lineId === lineId) return held;
    const line: PayerLine = {
      lineId,
      runner,
      seq: settledSeq,
      owedE8s: view.settledE8s,
      inputTokens: 0n,
      outputTokens: 0n,
      requests: 0n,
      settledSeq,
      reservedE8s,
      unsentCovers: []
    };
    this.lines.set(runner, line);
    return line;
  }

  private async attempt(
    target: PaidTarget,
    request: PaidRequest,
    line: PayerLine,
    bound: { promptBytes: number; maxTokens: number },
    worstE8s: bigint
  ): Promise<PaidResult> {
    const bodyText = JSON.stringify(request.body);
    const body = new TextEncoder().encode(bodyText);
    const url = new URL(request.path, target.endpoint);
    const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
    const expiresAtNs = BigInt(this.nowMs() + (this.o.requestValidityMs ?? 60_000)) * 1_000_000n;
    const toSign = {
      runner: target.runner,
      lineId: line.lineId,
      method: 'POST',
      path: url.pathname + url.search,
      body,
      nonce,
      expiresAtNs
    };
    const signature = toBytes(await this.o.identity.sign(requestSigningBytes(toSign)));
    const headers: Record<string, string> = { 'content-type': 'application/json', ...authHeaders(toSign, this.publicKey, signature) };
    let covers = line.unsentCovers.slice();
    const latest = line.latest;
    if (latest !== undefined && covers.length > 0) {
      // The receipt leaves the payer only once its books hold it (they are written asynchronously): see
      // RECEIPT_WAIT_COVERS for when this request goes without it instead of waiting.
      const written = (this.notDurable.get(line.lineId) ?? -1n) < latest.receipt.seq;
      if (!written && covers.length >= RECEIPT_WAIT_COVERS) await this.store.flush?.();
      if (written || covers.length >= RECEIPT_WAIT_COVERS)
        headers[AUTH_HEADERS.receipt] = JSON.stringify({ ...signedReceiptToJson(latest), covers: covers.map(String) });
      else covers = [];
    }
    const response = await this.fetchImpl(url, {
      method: 'POST',
      headers,
      body: bodyText,
      ...(request.signal ? { signal: request.signal } : {})
    });
    if (!response.ok) {
      const { text } = await readBodyText(response, ERROR_BODY_MAX_BYTES).catch(() => ({ text: '' }));
      return { ok: false, status: response.status, error: errorOf(text, response.status), body: text };
    }
    // The runner has the receipt now (it refuses the request otherwise).
    line.unsentCovers = line.unsentCovers.filter((seq) => !covers.includes(seq));
    let answer: Record<string, unknown> | undefined;
    let completionBytes = 0;
    let chargeJson: unknown;
    let broken: string | undefined;
    if (request.body.stream === true && response.body !== null) {
      let done: boolean;
      try {
        done = await readStream(
          response.body,
          (chunk, data) => {
            if (chunk.error !== undefined) {
              broken ??= errorOf(data, 502).message;
              return;
            }
            completionBytes += completionBytesOf(chunk);
            if (chunk.deai_charge !== undefined) chargeJson = chunk.deai_charge;
            request.onChunk?.(chunk, data);
          },
          () => {
            if (broken === undefined) request.onEnd?.();
          }
        );
      } catch (error) {
        // Aborted or cut: the runner charged what it served, unseen here; it is asked for before the next request.
        if (chargeJson === undefined) this.unbilled(line, worstE8s);
        throw error;
      }
      if (!done) broken ??= 'the stream ended before [DONE]';
    } else {
      const { text, truncated } = await readBodyText(response, ANSWER_BODY_MAX_BYTES);
      if (truncated) throw new Error('the runner answered more than 64 MiB');
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null) throw new Error('the runner answered no JSON object');
      answer = parsed as Record<string, unknown>;
      completionBytes = completionBytesOf(answer);
      chargeJson = answer.deai_charge;
    }
    const charge = chargeFromJson(chargeJson);
    if (broken !== undefined && charge === undefined) this.unbilled(line, worstE8s);
    if (broken !== undefined)
      return { ok: false, status: 502, error: { message: `inference failed mid-stream: ${broken}`, code: 'stream_broken' }, body: '' };
    if (charge === undefined || charge.lineId !== line.lineId)
      return { ok: true, status: response.status, ...(answer ? { body: answer } : {}) };
    const accepted = acceptCharge(charge, {
      prices: target.prices,
      ...bound,
      completionBytes,
      ...(target.servedContext ? { servedContext: target.servedContext } : {})
    });
    if (accepted.overReported.length > 0) {
      this.overReporting.add(target.runner);
      this.o.onOverReport?.(target.runner, charge, accepted);
    }
    const receipt = await this.signReceipt(line, charge.chargeSeq, accepted);
    return { ok: true, status: response.status, ...(answer ? { body: answer } : {}), charge, accepted, receipt };
  }

  /** Notes a request that ended without its charge seen (at most 64 kept: the oldest are dropped). */
  private unbilled(line: PayerLine, worstE8s: bigint): void {
    line.unbilled = [...(line.unbilled ?? []), worstE8s].slice(-64);
    this.toCheck.add(line.runner);
    this.save();
  }

  /** Adds an accepted charge to the line's totals and signs the new cumulative receipt (one line at a time). */
  private signReceipt(line: PayerLine, chargeSeq: bigint, accepted: AcceptedCharge): Promise<SignedReceipt> {
    return this.serial(`receipt:${line.lineId}`, async () => {
      const receipt = {
        lineId: line.lineId,
        payer: this.payer,
        runner: line.runner,
        seq: line.seq + 1n,
        owedE8s: line.owedE8s + accepted.costE8s,
        inputTokens: line.inputTokens + accepted.inputTokens,
        outputTokens: line.outputTokens + accepted.outputTokens,
        requests: line.requests + 1n
      };
      const signature = toBytes(await this.o.identity.sign(receiptSigningBytes(receipt)));
      const signed: SignedReceipt = { receipt, publicKey: this.publicKey, signature };
      Object.assign(line, { ...receipt, latest: signed, unsentCovers: [...line.unsentCovers, chargeSeq].slice(-1000) });
      this.signedCharges.set(line.lineId, [...(this.signedCharges.get(line.lineId) ?? []), chargeSeq].slice(-1024));
      const own = this.fromHere.get(line.lineId) ?? NO_CHARGES;
      this.fromHere.set(line.lineId, {
        costE8s: own.costE8s + accepted.costE8s,
        inputTokens: own.inputTokens + accepted.inputTokens,
        outputTokens: own.outputTokens + accepted.outputTokens,
        requests: own.requests + 1n
      });
      this.save();
      const flushed = this.store.flush?.();
      if (flushed !== undefined) {
        this.notDurable.set(line.lineId, receipt.seq);
        flushed.then(
          () => {
            if (this.notDurable.get(line.lineId) === receipt.seq) this.notDurable.delete(line.lineId);
          },
          () => undefined
        );
      }
      this.unsettledCount += 1;
      if (this.unsettledCount >= (this.o.settleEveryRequests ?? 100)) void this.flush().catch(() => undefined);
      else this.scheduleSettle();
      return signed;
    });
  }

  /** Settles every line with unsettled receipts in one `settleUsage` batch. */
  async flush(): Promise<SettleOutcome[]> {
    if (this.flushing !== undefined) await this.flushing.catch(() => undefined);
    this.flushing = this.settleNow().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async settleNow(): Promise<SettleOutcome[]> {
    clearTimeout(this.settleTimer);
    this.settleTimer = undefined;
    const due = [...this.lines.values()].filter((l) => l.seq > l.settledSeq);
    if (due.length === 0) return [];
    this.unsettledCount = 0;
    const items = due.map((l) => ({
      lineId: l.lineId,
      seq: l.seq,
      owedE8s: l.owedE8s,
      inputTokens: l.inputTokens,
      outputTokens: l.outputTokens,
      requests: l.requests
    }));
    let outcomes: SettleOutcome[];
    try {
      await this.store.flush?.();
      outcomes = await this.o.credit.settleUsage(items);
    } catch (error) {
      this.scheduleSettle();
      throw error;
    }
    for (const outcome of outcomes) {
      const line = due.find((l) => l.lineId === outcome.lineId);
      if (line === undefined || !outcome.ok) continue;
      if (outcome.line.settledSeq > line.settledSeq) line.settledSeq = outcome.line.settledSeq;
      line.reservedE8s = outcome.line.reservedE8s;
    }
    this.save();
    return outcomes;
  }

  private scheduleSettle(): void {
    const everyMs = this.o.settleEveryMs ?? 10_000;
    if (everyMs === 0 || this.settleTimer !== undefined) return;
    this.settleTimer = setTimeout(() => {
      this.settleTimer = undefined;
      void this.flush().catch(() => undefined);
    }, everyMs);
  }

  /** Hands the latest receipts to the runners that have not seen them, and settles everything. */
  async close(): Promise<SettleOutcome[]> {
    clearInterval(this.idleTimer);
    clearTimeout(this.settleTimer);
    this.settleTimer = undefined;
    const outcomes = await this.flush();
    await this.store.flush?.();
    return outcomes;
  }

  /** POSTs a line's latest receipt to the runner's `/deai/v1/receipts` (e.g. before leaving it for good). */
  async sendReceipt(target: Pick<PaidTarget, 'runner' | 'endpoint'>): Promise<boolean> {
    const line = this.lines.get(target.runner);
    if (line?.latest === undefined) return false;
    const covers = line.unsentCovers.slice();
    const latest = line.latest;
    await this.store.flush?.();
    const response = await this.fetchImpl(new URL('/deai/v1/receipts', target.endpoint), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...signedReceiptToJson(latest), covers: covers.map(String) }),
      signal: bounded(undefined, SIDE_CALL_TIMEOUT_MS)
    });
    // Read (bounded): an unread body holds its connection.
    await readBodyText(response, ERROR_BODY_MAX_BYTES).catch(() => undefined);
    if (response.ok) line.unsentCovers = line.unsentCovers.filter((seq) => !covers.includes(seq));
    return response.ok;
  }

  /** Saves the records that changed (a charge: its line's), and removes those of lines gone or of foreign books. */
  private save(): void {
    const records = encodeBooks(this.payer, { lines: [...this.lines.values()], overReporting: [...this.overReporting] }, this.o.network);
    const changes = new Map<string, unknown>();
    for (const [key, value] of records) {
      const text = JSON.stringify(value);
      if (this.saved.get(key) === text) continue;
      this.saved.set(key, text);
      changes.set(key, value);
    }
    for (const key of [...this.saved.keys()])
      if (!records.has(key)) {
        this.saved.delete(key);
        changes.set(key, undefined);
      }
    if (changes.size > 0) this.store.save(changes);
  }

  /** Runs `task` after the previous one with the same key (per-line ordering of seqs and reservations). */
  private serial<T>(key: string, task: () => Promise<T>): Promise<T> {
    const run = (this.chains.get(key) ?? Promise.resolve()).then(task, task);
    const tail = run.catch(() => undefined);
    this.chains.set(key, tail);
    void tail.then(() => {
      if (this.chains.get(key) === tail) this.chains.delete(key);
    });
    return run;
  }
}

function errorOf(text: string, status: number): { message: string; type?: string; code?: string } {
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown; type?: unknown; code?: unknown } };
    const e = parsed.error;
    if (e !== undefined && typeof e.message === 'string')
      return {
        message: e.message,
        ...(typeof e.type === 'string' ? { type: e.type } : {}),
        ...(typeof e.code === 'string' ? { code: e.code } : {})
      };
  } catch {
    // not JSON: the text is the message
  }
  return { message: text.slice(0, 200) || `HTTP ${status}` };
}

/**
 * Reads an SSE stream, passing each JSON chunk on (with its data), and `onDone` at `[DONE]`; true when it came. The
 * answer ends at `[DONE]` (the gateway shows nothing after it): later events are not passed on, so they can neither be
 * shown nor raise the output-token bound a charge is checked against, and the rest of the body is not read.
 */
async function readStream(
  body: BodySource,
  onChunk: (chunk: Record<string, unknown>, data: string) => void,
  onDone: () => void
): Promise<boolean> {
  let done = false;
  const parser = createParser({
    maxBufferSize: 1024 * 1024,
    onEvent(event: EventSourceMessage) {
      if (done) return;
      if (event.data === '[DONE]') {
        done = true;
        onDone();
        return;
      }
      let chunk: unknown;
      try {
        chunk = JSON.parse(event.data);
      } catch {
        return; // a malformed event carries nothing to count or pay
      }
      if (typeof chunk !== 'object' || chunk === null) return;
      try {
        onChunk(chunk as Record<string, unknown>, event.data);
      } catch {
        // as before: a consumer's failure does not stop the count or the receipt
      }
    }
  });
  const decoder = new TextDecoder();
  // A runner that keeps the stream open (or padded) after [DONE] neither holds the request nor adds to it: the body is
  // cancelled there.
  await eachPiece(body, (piece) => {
    parser.feed(typeof piece === 'string' ? piece : decoder.decode(piece, { stream: true }));
    return done ? 'done' : true;
  });
  return done;
}
