import {
  acceptCharge,
  AUTH_HEADERS,
  authHeaders,
  chargeFromJson,
  NONCE_BYTES,
  receiptSigningBytes,
  requestBoundOf,
  requestSigningBytes,
  signedReceiptToJson,
  worstCaseCostE8s,
  type AcceptedCharge,
  type SettleOutcome,
  type SignedReceipt
} from '../../core/credit/index.js';
import { ERROR_BODY_MAX_BYTES, readBodyText, type HttpPost } from '../bounded-body.js';
import { closeIdleLines, ensureCredit, type LineCreditBooks } from './line-credit.js';
import { adoptHeldReceipt, NO_CHARGES, reconcileLine, type ChargeTally, type HeldReceiptBooks } from './held-receipts.js';
import { BrokenPaidRequest, type PaidRequest, type PaidResult, type PaidTarget, type PayerClientOptions } from './payer-types.js';
import { readAnswer } from './read-answer.js';
import { bounded, errorOf, SIDE_CALL_TIMEOUT_MS, toBytes } from './runner-calls.js';
import { SettleBatches } from './settle-batches.js';
import { booksNetworkOf, decodeBooks, encodeBooks, memoryPayerStore, saveChanged, type PayerLine, type PayerStateStore } from './state.js';

export { BrokenPaidRequest } from './payer-types.js';
export type { PaidRequest, PaidResult, PaidTarget, PayerClientOptions, PayerSigner } from './payer-types.js';
export { SIDE_CALL_TIMEOUT_MS } from './runner-calls.js';

/**
 * A request goes without the line's latest receipt while the books are still writing it (it leaves the payer only once
 * they hold it), rather than wait for the disk before its first token: the runner lets some requests go unreceipted
 * (its `maxUnsignedRequests`, 32 by default). With this many charges unsent, the request waits for the books instead.
 */
export const RECEIPT_WAIT_COVERS = 4;

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
  private readonly fromHere = new Map<bigint, ChargeTally>();
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
  private readonly batches: SettleBatches;
  /** What the credit lines (line-credit.ts) read and change. */
  private readonly lineCredit: LineCreditBooks;
  /** What taking up a runner's view of a line (held-receipts.ts) reads and changes. */
  private readonly held: HeldReceiptBooks;

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
    this.batches = new SettleBatches({
      lines: () => this.lines.values(),
      credit: o.credit,
      store: this.store,
      save: () => this.save(),
      ...(o.settleEveryRequests === undefined ? {} : { everyRequests: o.settleEveryRequests }),
      ...(o.settleEveryMs === undefined ? {} : { everyMs: o.settleEveryMs })
    });
    this.lineCredit = {
      payer: this.payer,
      credit: o.credit,
      options: o,
      lines: this.lines,
      inFlightE8s: this.inFlightE8s,
      lastUsedMs: this.lastUsedMs,
      unsynced: this.unsynced,
      nowMs: () => this.nowMs(),
      serial: (key, task) => this.serial(key, task),
      save: () => this.save()
    };
    this.held = {
      payer: this.payer,
      publicKey: this.publicKey,
      identity: o.identity,
      fetch: this.fetchImpl,
      requestValidityMs: o.requestValidityMs ?? 60_000,
      nowMs: () => this.nowMs(),
      fromHere: this.fromHere,
      signedCharges: this.signedCharges,
      synced: (runner) => {
        this.unsynced.delete(runner);
        this.toCheck.delete(runner);
      },
      signReceipt: (line, chargeSeq, accepted) => this.signReceipt(line, chargeSeq, accepted),
      save: () => this.save()
    };
  }

  /** Loads the payer's books from `store` (resuming seq and owed per line). */
  static async open(options: PayerClientOptions): Promise<PayerClient> {
    const client = new PayerClient(options);
    if (client.lines.size > 0 && [...client.lines.values()].some((l) => l.seq > l.settledSeq)) client.batches.schedule();
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
      const line = await ensureCredit(this.lineCredit, target.runner, worstE8s, attempt > 0 && !resynced);
      if ('refused' in line) return line.refused;
      this.lastUsedMs.set(target.runner, this.nowMs());
      // Books adopted from the chain, or charges this payer never saw: ask the runner what it holds first.
      if (this.unsynced.has(target.runner) || this.toCheck.has(target.runner))
        await reconcileLine(this.held, target, line, request.signal).catch(() => undefined);
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
        if (result.status === 409) adoptHeldReceipt(this.held, line, result.body);
        else await reconcileLine(this.held, target, line, request.signal).catch(() => undefined);
        resynced = true;
      } finally {
        this.inFlightE8s.set(target.runner, (this.inFlightE8s.get(target.runner) ?? 0n) - worstE8s);
      }
    }
  }

  /**
   * Closes the lines not used for `closeIdleAfterMs` whose receipts are all settled (their unspent credit returns to
   * free credit when the dispute window ends); the books forget them, a later request opens a new line.
   */
  closeIdleLines(): Promise<bigint[]> {
    return closeIdleLines(this.lineCredit);
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
    const { answer, completionBytes, chargeJson, broken } = await readAnswer(response, request, (error) => {
      // Aborted or cut: the runner charged what it served, unsigned here (a charge seen before the cut included): it is
      // asked for before the next request.
      this.unbilled(line, worstE8s);
      return new BrokenPaidRequest(error, worstE8s);
    });
    const charge = chargeFromJson(chargeJson);
    if (broken !== undefined && charge === undefined) this.unbilled(line, worstE8s);
    if (broken !== undefined)
      return {
        ok: false,
        status: 502,
        error: { message: `inference failed mid-stream: ${broken}`, code: 'stream_broken' },
        body: '',
        ...(charge === undefined ? { unbilledE8s: worstE8s } : {})
      };
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
      this.batches.charged();
      return signed;
    });
  }

  /** Settles every line with unsettled receipts in one `settleUsage` batch. */
  flush(): Promise<SettleOutcome[]> {
    return this.batches.flush();
  }
  /** Hands the latest receipts to the runners that have not seen them, and settles everything. */
  async close(): Promise<SettleOutcome[]> {
    clearInterval(this.idleTimer);
    this.batches.stop();
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
    const books = { lines: [...this.lines.values()], overReporting: [...this.overReporting] };
    saveChanged(this.store, this.saved, encodeBooks(this.payer, books, this.o.network));
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
