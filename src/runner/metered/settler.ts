import type { RunnerCreditApi } from '../../core/credit/index.js';
import type { ReceiptStore } from './receipt-store.js';

export interface SettlerOptions {
  credit: RunnerCreditApi;
  store: ReceiptStore;
  /** A receipt the payer has not settled this long after it arrived is settled by the runner (default 10 min). */
  settleAfterMs: number;
  nowMs: () => number;
  log: (event: string, fields?: Record<string, unknown>) => void;
}

/**
 * The runner settles alone (README "Metered runner endpoint"): with the payer's latest receipt, when the payer has
 * not settled it within `settleAfterMs`, or at once when its line is closing. Each line backs off on its own after a
 * failure; the work runs on its own timer and never holds up serving.
 */
export class Settler {
  private readonly retryAtMs = new Map<string, { atMs: number; backoffMs: number }>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly o: SettlerOptions) {}

  start(everyMs: number): void {
    this.timer = setInterval(() => void this.tick(), everyMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One pass over the held receipts (exposed so tests drive it). Never throws. */
  tick(): Promise<void> {
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass(): Promise<void> {
    const now = this.o.nowMs();
    for (const held of this.o.store.all()) {
      const r = held.signed.receipt;
      // By amount, never by seq: the payer may settle the receipt's seq itself with less owed.
      if (r.owedE8s <= held.settledE8s) continue;
      const key = r.lineId.toString();
      const retry = this.retryAtMs.get(key);
      if (retry !== undefined && now < retry.atMs) continue;
      try {
        const line = await this.o.credit.getCreditLine(r.lineId);
        if (line === undefined || line.settledE8s >= r.owedE8s || line.state === 'closed') {
          // Settled as far as this receipt reaches, or nothing more can move: closed, or closed unused and pruned.
          const settledE8s = line === undefined || (line.state === 'closed' && line.settledE8s < r.owedE8s) ? r.owedE8s : line.settledE8s;
          this.o.store.put({ ...held, settledSeq: line?.settledSeq ?? held.settledSeq, settledE8s });
          continue;
        }
        const closing = line?.state === 'closing';
        if (!closing && now - held.unsettledSinceMs < this.o.settleAfterMs) continue;
        // What the runner settles alone with is on disk first (puts are written asynchronously: receipt-store.ts).
        await this.o.store.flush();
        const settled = await this.o.credit.settleReceipt(held.signed);
        const after = settled.settledE8s >= r.owedE8s || settled.state === 'closed' ? r.owedE8s : settled.settledE8s;
        this.o.store.put({ ...this.o.store.get(r.lineId)!, settledSeq: settled.settledSeq, settledE8s: after });
        this.retryAtMs.delete(key);
        this.o.log('receipt-settled', { line: key, seq: r.seq.toString(), owedE8s: r.owedE8s.toString(), closing });
      } catch (error) {
        const backoffMs = Math.min((retry?.backoffMs ?? 5_000) * 2, 600_000);
        this.retryAtMs.set(key, { atMs: now + backoffMs, backoffMs });
        this.o.log('receipt-settle-failed', { line: key, error: String(error), retryInMs: backoffMs });
      }
    }
  }
}
