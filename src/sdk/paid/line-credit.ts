/** A payer's credit lines toward runners: opened, topped up within a cap per runner, taken up from the chain, closed when idle. */
import type { CreditLineView, PayerCreditApi } from '../../core/credit/index.js';
import type { PaidResult, PayerClientOptions } from './payer-types.js';
import type { PayerLine } from './state.js';

/** The parts of a payer client its credit lines read and change. */
export interface LineCreditBooks {
  readonly payer: string;
  readonly credit: PayerCreditApi;
  readonly options: Pick<PayerClientOptions, 'reserveE8s' | 'maxReservePerRunnerE8s' | 'closeIdleAfterMs'>;
  /** The lines by runner. */
  readonly lines: Map<string, PayerLine>;
  /** Worst cases of the requests in flight per runner. */
  readonly inFlightE8s: Map<string, bigint>;
  readonly lastUsedMs: Map<string, number>;
  /** Lines adopted from the chain without books: the runner's held receipt is asked for before the next request. */
  readonly unsynced: Set<string>;
  nowMs(): number;
  /** Runs `task` after the previous one with the same key. */
  serial<T>(key: string, task: () => Promise<T>): Promise<T>;
  save(): void;
}

export async function ensureCredit(
  books: LineCreditBooks,
  runner: string,
  worstE8s: bigint,
  force: boolean
): Promise<PayerLine | { refused: PaidResult }> {
  return books.serial(`line:${runner}`, async () => {
    let line = books.lines.get(runner);
    if (line === undefined) {
      const found = await books.credit.findCreditLine(books.payer, runner);
      if (found !== undefined) {
        line = adoptLine(books, runner, found);
        books.unsynced.add(runner);
      }
    }
    const inFlight = books.inFlightE8s.get(runner) ?? 0n;
    if (line !== undefined && force) {
      // A runner's 402 forces a top-up only if the line is short on-chain too (a malicious runner refusing every
      // request must not make the payer lock fresh credit toward it each time).
      const found = await books.credit.findCreditLine(books.payer, runner);
      if (found?.id === line.lineId) {
        line.reservedE8s = found.reservedE8s;
        const unsettled = line.owedE8s > found.settledE8s ? line.owedE8s - found.settledE8s : 0n;
        const available = found.availableE8s ?? found.reservedE8s - found.settledE8s;
        if (available - unsettled - inFlight >= worstE8s) return line;
      }
    }
    if (line === undefined || force || line.reservedE8s - line.owedE8s - inFlight < worstE8s) {
      const want = books.options.reserveE8s ?? 10_000_000n;
      // What the line would hold unsettled after the top-up stays within the per-runner cap.
      const cap = books.options.maxReservePerRunnerE8s ?? 100_000_000n;
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
      const view = await books.credit.reserveCredit(runner, amount);
      line = line !== undefined && line.lineId === view.id ? line : adoptLine(books, runner, { ...view, reservedE8s: 0n });
      line.reservedE8s = view.reservedE8s;
      books.save();
    }
    return line;
  });
}

/**
 * Closes the lines not used for `closeIdleAfterMs` whose receipts are all settled (their unspent credit returns to
 * free credit when the dispute window ends); the books forget them, a later request opens a new line.
 */
export async function closeIdleLines(books: LineCreditBooks): Promise<bigint[]> {
  const idleMs = books.options.closeIdleAfterMs ?? 3_600_000;
  const close = books.credit.closeCreditLine?.bind(books.credit);
  if (idleMs <= 0 || close === undefined) return [];
  const now = books.nowMs();
  const closed: bigint[] = [];
  for (const [runner, line] of [...books.lines]) {
    const last = books.lastUsedMs.get(runner);
    if (last === undefined) books.lastUsedMs.set(runner, now);
    if (last === undefined || now - last < idleMs || line.seq > line.settledSeq || (books.inFlightE8s.get(runner) ?? 0n) > 0n) continue;
    await books
      .serial(`line:${runner}`, async () => {
        await close(line.lineId);
        books.lines.delete(runner);
        books.lastUsedMs.delete(runner);
        closed.push(line.lineId);
        books.save();
      })
      .catch(() => undefined);
  }
  return closed;
}

/**
 * Takes up a line found on-chain without books for it (a payer that lost its state): owed resumes from what is
 * settled, so the next receipt is cumulative over it (restarting at 0 made every receipt OwedBelowSettled).
 */
export function adoptLine(books: LineCreditBooks, runner: string, view: CreditLineView): PayerLine {
  const { id: lineId, reservedE8s, settledSeq } = view;
  const held = books.lines.get(runner);
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
  books.lines.set(runner, line);
  return line;
}
