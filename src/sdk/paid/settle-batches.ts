/** When and how a payer settles its lines on-chain: one `settleUsage` batch per N accepted charges or T seconds. */
import type { PayerCreditApi, SettleOutcome } from '../../core/credit/index.js';
import type { PayerLine, PayerStateStore } from './state.js';

export interface SettleBatchesOptions {
  /** The payer's lines as they are now. */
  lines: () => Iterable<PayerLine>;
  credit: Pick<PayerCreditApi, 'settleUsage'>;
  store: PayerStateStore;
  /** Saves the books (a settlement moves lines' settled seq and reservation). */
  save: () => void;
  /** Settle after this many accepted charges (default 100)… */
  everyRequests?: number;
  /** …or this long after the first unsettled one (default 10 s; 0: only by count and `flush()`). */
  everyMs?: number;
}

/** The batches of one payer: at most one `settleUsage` in flight, a failed one tried again at the next due time. */
export class SettleBatches {
  private unsettledCount = 0;
  private settleTimer: ReturnType<typeof setTimeout> | undefined;
  private flushing: Promise<SettleOutcome[]> | undefined;

  constructor(private readonly o: SettleBatchesOptions) {}

  /** One more accepted charge: the batch goes now when it is full, otherwise within `everyMs`. */
  charged(): void {
    this.unsettledCount += 1;
    if (this.unsettledCount >= (this.o.everyRequests ?? 100)) void this.flush().catch(() => undefined);
    else this.schedule();
  }

  /** Settles every line with unsettled receipts in one `settleUsage` batch. */
  async flush(): Promise<SettleOutcome[]> {
    if (this.flushing !== undefined) await this.flushing.catch(() => undefined);
    this.flushing = this.settleNow().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  /** A batch within `everyMs` (books loaded with unsettled receipts, a charge, a failed batch). */
  schedule(): void {
    const everyMs = this.o.everyMs ?? 10_000;
    if (everyMs === 0 || this.settleTimer !== undefined) return;
    this.settleTimer = setTimeout(() => {
      this.settleTimer = undefined;
      void this.flush().catch(() => undefined);
    }, everyMs);
  }

  /** No batch by time any more (the payer is closing: it flushes itself). */
  stop(): void {
    clearTimeout(this.settleTimer);
    this.settleTimer = undefined;
  }

  private async settleNow(): Promise<SettleOutcome[]> {
    this.stop();
    const due = [...this.o.lines()].filter((l) => l.seq > l.settledSeq);
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
      await this.o.store.flush?.();
      outcomes = await this.o.credit.settleUsage(items);
    } catch (error) {
      this.schedule();
      throw error;
    }
    for (const outcome of outcomes) {
      const line = due.find((l) => l.lineId === outcome.lineId);
      if (line === undefined || !outcome.ok) continue;
      if (outcome.line.settledSeq > line.settledSeq) line.settledSeq = outcome.line.settledSeq;
      line.reservedE8s = outcome.line.reservedE8s;
    }
    this.o.save();
    return outcomes;
  }
}
