import {
  creditRefusal,
  receiptProblem,
  type Charge,
  type CreditLineView,
  type CreditRefusal,
  type ExposureLimits,
  type RunnerCreditApi,
  type SignatureVerifier,
  type SignedReceipt
} from '../../core/credit/index.js';
import type { ReceiptStore } from './receipt-store.js';

/**
 * What the runner knows of each payer's credit line: the registry's view (cached briefly), the payer's latest
 * receipt (durable, in the ReceiptStore), and what it served that no receipt covers yet (in memory; a restart forgets
 * it, which only costs the runner, never the payer). It refuses a request whose worst case the line cannot cover.
 */
interface LiveLine {
  view?: { line: CreditLineView; atMs: number };
  /** The registry read in flight that refreshes `view` in the background, if any. */
  refreshing?: Promise<CreditLineView | undefined>;
  /**
   * The charges not yet covered by a receipt, oldest first, each with the runner's cumulative claim after it. A
   * receipt covers the charges whose claim its owed reaches; `covers` in it is informational only (never trusted).
   */
  uncovered: UncoveredCharge[];
  /** The runner's cumulative claim: the covered amount when first seen, plus every charge since. */
  claimE8s?: bigint;
  /** Requests admitted and not finished, at their worst case. */
  inFlightE8s: bigint;
  inFlightCount: number;
  nextChargeSeq: bigint;
}

/** A charge no receipt covers yet, as `GET /deai/v1/charges` lists it (the payer signs for it from there). */
export interface UncoveredCharge extends Charge {
  atMs: number;
}

/**
 * `UnpaidCharges`: a charge of this payer stayed unacknowledged past `chargeAckMs` (a stream the payer never read to
 * its end, say): the payer is refused here until a receipt covers `claimE8s` on `lineId`.
 */
export type LineRefusal =
  | { code: 'NoLine' }
  | { code: 'NotYourLine' }
  | { code: 'LineNotOpen'; state: string }
  | { code: 'UnpaidCharges'; lineId: bigint; claimE8s: bigint; coveredE8s: bigint }
  | CreditRefusal;

export type ReceiptRefusal =
  | { code: 'Malformed' | 'BadSignature' | 'KeyNotPayer' | 'OutOfRange' | 'WrongRunner' | 'WrongPayer' | 'NoLine' }
  | { code: 'Stale'; latestSeq: bigint }
  | { code: 'NotCumulative'; latestOwedE8s: bigint };

export interface LineBookOptions {
  runner: string;
  credit: RunnerCreditApi;
  store: ReceiptStore;
  limits: ExposureLimits;
  lineCacheMs: number;
  /**
   * How old a view may be and still be used while a newer one is read in the background (default lineCacheMs +
   * 8 s); an older one is read before the request goes on.
   */
  lineStaleMs?: number;
  nowMs: () => number;
  /** Most lines held in memory (those with nothing pending are dropped first). */
  maxLines?: number;
  /** How receipt signatures are checked (default: the pure-JS verifyPayerSignature). */
  verify?: SignatureVerifier;
  /** A charge no receipt covers after this long becomes the payer's debt (default 10 min). */
  chargeAckMs?: number;
}

/** Debt of a payer: charges that timed out unacknowledged, cleared when a receipt on `lineId` reaches `claimE8s`. */
interface Debt {
  lineId: bigint;
  claimE8s: bigint;
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** Whether `b` is exactly the receipt `a` already verified (fields, key and signature): no need to check it again. */
function sameSigned(a: SignedReceipt, b: SignedReceipt): boolean {
  const [x, y] = [a.receipt, b.receipt];
  return (
    x.lineId === y.lineId &&
    x.payer === y.payer &&
    x.runner === y.runner &&
    x.seq === y.seq &&
    x.owedE8s === y.owedE8s &&
    x.inputTokens === y.inputTokens &&
    x.outputTokens === y.outputTokens &&
    x.requests === y.requests &&
    sameBytes(a.publicKey, b.publicKey) &&
    sameBytes(a.signature, b.signature)
  );
}

export class LineBook {
  private readonly lines = new Map<string, LiveLine>();
  /** Per payer (bounded by `maxLines`: a payer needs a line of its own toward this runner to owe anything). */
  private readonly debts = new Map<string, Debt>();

  constructor(private readonly o: LineBookOptions) {}

  private live(lineId: bigint): LiveLine {
    const key = lineId.toString();
    let line = this.lines.get(key);
    if (line === undefined) {
      if (this.lines.size >= (this.o.maxLines ?? 100_000)) this.evict();
      // Charge seqs from the clock: unique across restarts without writing each one down.
      line = { uncovered: [], inFlightE8s: 0n, inFlightCount: 0, nextChargeSeq: BigInt(this.o.nowMs()) * 1000n };
      this.lines.set(key, line);
    }
    return line;
  }

  private evict(): void {
    for (const [key, line] of this.lines) if (line.uncovered.length === 0 && line.inFlightCount === 0) this.lines.delete(key);
  }

  /**
   * The registry's view of the line (`fresh`: ask the registry now). Stale-while-revalidate, so that no request waits
   * on the registry once its line is known: a view under `lineCacheMs` old is used as is; one under `lineStaleMs` old
   * is used while a newer one is read in the background (one read per line at a time); an older one is read first.
   * A line closed or drawn down is thus seen within `lineStaleMs` (10 s by default) of the change; the dispute
   * window of a closed line (1 h by default) leaves the runner that long to settle what it served meanwhile, and what
   * it serves unreceipted stays within the exposure limits either way.
   */
  async view(lineId: bigint, fresh = false): Promise<CreditLineView | undefined> {
    const line = this.live(lineId);
    const cached = line.view;
    if (!fresh && cached !== undefined) {
      const ageMs = this.o.nowMs() - cached.atMs;
      if (ageMs < this.o.lineCacheMs) return cached.line;
      if (ageMs < (this.o.lineStaleMs ?? this.o.lineCacheMs + 8_000)) {
        line.refreshing ??= this.read(lineId, line).finally(() => delete line.refreshing);
        line.refreshing.catch(() => undefined);
        return cached.line;
      }
    }
    return this.read(lineId, line);
  }

  /** Reads the line from the registry into `line.view` (unless a read started later has already stored one). */
  private async read(lineId: bigint, line: LiveLine): Promise<CreditLineView | undefined> {
    const atMs = this.o.nowMs();
    const view = await this.o.credit.getCreditLine(lineId);
    if (line.view !== undefined && line.view.atMs > atMs) return view;
    if (view === undefined) delete line.view;
    else line.view = { line: view, atMs };
    return view;
  }

  /** Admits a request of worst case `worstE8s` from `payer` on `lineId`, or says why not. */
  async admit(lineId: bigint, payer: string, worstE8s: bigint): Promise<LineRefusal | undefined> {
    let view = await this.view(lineId);
    if (view === undefined) return { code: 'NoLine' };
    if (view.runner !== this.o.runner || view.payer !== payer) return { code: 'NotYourLine' };
    const line = this.live(lineId);
    line.claimE8s ??= this.covered(view);
    this.unpaidE8s(view, line);
    this.expire(view, line);
    const debt = await this.debtOf(payer);
    if (debt !== undefined) return debt;
    let refusal = this.refusal(view, line, worstE8s);
    if (refusal?.code === 'InsufficientCredit' || view.state !== 'open') {
      // The payer may just have topped up (or reopened): look again before refusing.
      view = (await this.view(lineId, true)) ?? view;
      refusal = this.refusal(view, line, worstE8s);
    }
    if (view.state !== 'open') return { code: 'LineNotOpen', state: view.state };
    if (refusal !== undefined) return refusal;
    line.inFlightE8s += worstE8s;
    line.inFlightCount += 1;
    return undefined;
  }

  /**
   * The payer's unpaid debt here, if any: charges unacknowledged past `chargeAckMs` on any of its lines (moved out of
   * the line's request cap, so the line is not locked for good), until a receipt covers them.
   */
  private async debtOf(payer: string): Promise<LineRefusal | undefined> {
    const debt = this.debts.get(payer);
    if (debt === undefined) return undefined;
    const covered = this.covered(await this.view(debt.lineId));
    if (covered >= debt.claimE8s) {
      this.debts.delete(payer);
      return undefined;
    }
    return { code: 'UnpaidCharges', lineId: debt.lineId, claimE8s: debt.claimE8s, coveredE8s: covered };
  }

  /** Charges older than `chargeAckMs` that no receipt covers leave the line's count and become the payer's debt. */
  private expire(view: CreditLineView, line: LiveLine): void {
    const cutoff = this.o.nowMs() - (this.o.chargeAckMs ?? 600_000);
    let last: UncoveredCharge | undefined;
    while (line.uncovered.length > 0 && line.uncovered[0]!.atMs <= cutoff) last = line.uncovered.shift();
    if (last === undefined) return;
    const held = this.debts.get(view.payer);
    if (held === undefined || held.lineId !== view.id || held.claimE8s < last.owedE8s)
      this.debts.set(view.payer, { lineId: view.id, claimE8s: last.owedE8s });
  }

  /** The line's charges no receipt covers yet and the payer's latest receipt held (`GET /deai/v1/charges`). */
  async outstanding(lineId: bigint): Promise<{ held?: SignedReceipt; charges: UncoveredCharge[]; claimE8s: bigint; debt?: Debt }> {
    const view = await this.view(lineId);
    const line = this.live(lineId);
    this.unpaidE8s(view, line);
    const covered = this.covered(view);
    const held = this.o.store.get(lineId)?.signed;
    const debt = view === undefined ? undefined : this.debts.get(view.payer);
    return {
      ...(held === undefined ? {} : { held }),
      charges: line.uncovered.slice(),
      claimE8s: line.claimE8s !== undefined && line.claimE8s > covered ? line.claimE8s : covered,
      ...(debt === undefined ? {} : { debt })
    };
  }

  /** The payer's latest receipt held for the line. */
  held(lineId: bigint): SignedReceipt | undefined {
    return this.o.store.get(lineId)?.signed;
  }

  /** What the payer has signed for or settled on this line: max(latest receipt's owed, settled on-chain). */
  private covered(view: CreditLineView | undefined): bigint {
    const receipted = view === undefined ? 0n : (this.o.store.get(view.id)?.signed.receipt.owedE8s ?? 0n);
    const settled = view?.settledE8s ?? 0n;
    return receipted > settled ? receipted : settled;
  }

  /** Drops the charges the covered amount reaches; what the payer did not sign for stays unpaid exposure. */
  private unpaidE8s(view: CreditLineView | undefined, line: LiveLine): bigint {
    const covered = this.covered(view);
    while (line.uncovered.length > 0 && line.uncovered[0]!.owedE8s <= covered) line.uncovered.shift();
    const claim = line.claimE8s ?? covered;
    return claim > covered ? claim - covered : 0n;
  }

  private refusal(view: CreditLineView, line: LiveLine, worstE8s: bigint): CreditRefusal | undefined {
    const unpaid = this.unpaidE8s(view, line);
    return creditRefusal(
      {
        reservedE8s: view.reservedE8s,
        settledE8s: view.settledE8s,
        receiptOwedE8s: this.o.store.get(view.id)?.signed.receipt.owedE8s ?? 0n,
        ...(view.availableE8s === undefined ? {} : { availableE8s: view.availableE8s }),
        unsignedE8s: unpaid + line.inFlightE8s,
        unsignedRequests: line.uncovered.length + line.inFlightCount
      },
      worstE8s,
      this.o.limits
    );
  }

  /** Ends an admitted request without a charge (the engine failed). */
  release(lineId: bigint, worstE8s: bigint): void {
    const line = this.live(lineId);
    line.inFlightE8s -= worstE8s;
    line.inFlightCount -= 1;
  }

  /** Ends an admitted request with its charge (cost capped at the worst case admitted). */
  charge(lineId: bigint, worstE8s: bigint, usage: { inputTokens: bigint; outputTokens: bigint; costE8s: bigint }): Charge {
    this.release(lineId, worstE8s);
    const line = this.live(lineId);
    const costE8s = usage.costE8s > worstE8s ? worstE8s : usage.costE8s;
    const chargeSeq = line.nextChargeSeq++;
    const covered = this.covered(line.view?.line);
    const owedE8s = (line.claimE8s !== undefined && line.claimE8s > covered ? line.claimE8s : covered) + costE8s;
    line.claimE8s = owedE8s;
    const charge = { lineId, chargeSeq, inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, costE8s, owedE8s };
    line.uncovered.push({ ...charge, atMs: this.o.nowMs() });
    return charge;
  }

  /**
   * Keeps the payer's signed receipt if it is valid, for this runner, on the payer's line, and newer than the one
   * held. A receipt covers charges only by its owed amount: what was charged beyond it stays unpaid exposure (`covers`
   * is the payer's note of which charges it meant, never trusted). Resending the receipt already held is accepted.
   */
  async acceptReceipt(signed: SignedReceipt, covers: readonly bigint[], payer?: string): Promise<ReceiptRefusal | undefined> {
    const r = signed.receipt;
    // What needs no signature check comes first: a receipt anyone can post for another runner or payer costs no verify.
    if (r.runner !== this.o.runner) return { code: 'WrongRunner' };
    if (payer !== undefined && r.payer !== payer) return { code: 'WrongPayer' };
    // Concurrent requests carry the same latest receipt: the one held was verified when it was kept.
    const known = this.o.store.get(r.lineId);
    if (known === undefined || !sameSigned(known.signed, signed)) {
      const problem = receiptProblem(signed, this.o.verify);
      if (problem !== undefined) return { code: problem };
    }
    const view = await this.view(r.lineId);
    if (view === undefined) return { code: 'NoLine' };
    if (view.payer !== r.payer || view.runner !== this.o.runner) return { code: 'WrongPayer' };
    const held = this.o.store.get(r.lineId);
    if (held !== undefined) {
      const same = held.signed.receipt.seq === r.seq && held.signed.receipt.owedE8s === r.owedE8s;
      if (r.seq < held.signed.receipt.seq || (r.seq === held.signed.receipt.seq && !same))
        return { code: 'Stale', latestSeq: held.signed.receipt.seq };
      if (r.owedE8s < held.signed.receipt.owedE8s) return { code: 'NotCumulative', latestOwedE8s: held.signed.receipt.owedE8s };
    }
    void covers;
    if (held !== undefined && held.signed.receipt.seq === r.seq) return undefined;
    const settledSeq = held?.settledSeq ?? view.settledSeq;
    const settledE8s = held !== undefined && held.settledE8s > view.settledE8s ? held.settledE8s : view.settledE8s;
    const unsettledSinceMs = held !== undefined && held.signed.receipt.owedE8s > held.settledE8s ? held.unsettledSinceMs : this.o.nowMs();
    this.o.store.put({
      signed,
      unsettledSinceMs,
      settledSeq: settledSeq > view.settledSeq ? settledSeq : view.settledSeq,
      settledE8s
    });
    return undefined;
  }
}
