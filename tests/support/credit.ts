import {
  receiptProblem,
  type CreditAccountView,
  type CreditLineView,
  type PayerCreditApi,
  type RunnerCreditApi,
  type SettleOutcome,
  type SignedReceipt,
  type UsageSettlement
} from '../../src/core/credit/index.ts';

/**
 * An in-memory stand-in for the registry's credit methods (src/core/credit/api.ts), for unit tests of off-chain logic
 * only (integration and e2e tests use the registry canister through IcCredit): lines, reservations, batch settlement
 * by the payer and settlement alone by the runner with a signed receipt, each capped by the reserved credit.
 */
export class MemoryCredit {
  readonly lines = new Map<bigint, CreditLineView & { owedSeen: bigint }>();
  readonly accounts = new Map<string, CreditAccountView>();
  readonly calls: string[] = [];
  private nextId = 1n;
  /** As the canister's min_reserve_e8s: the least reserve that opens a new line (default 100,000 e8s). */
  readonly minReserveE8s: bigint;

  constructor(options: { minReserveE8s?: bigint } = {}) {
    this.minReserveE8s = options.minReserveE8s ?? 100_000n;
  }

  account(owner: string): CreditAccountView {
    let a = this.accounts.get(owner);
    if (a === undefined) {
      a = { owner, freeE8s: 0n, reservedE8s: 0n, accruedE8s: 0n };
      this.accounts.set(owner, a);
    }
    return a;
  }

  /** What a payer principal may call (the canister would take the caller from the agent). */
  payer(caller: string): PayerCreditApi {
    return {
      depositCredit: async (amountE8s) => {
        this.calls.push('depositCredit');
        this.account(caller).freeE8s += amountE8s;
        return { ...this.account(caller) };
      },
      reserveCredit: async (runner, reserveE8s) => {
        this.calls.push('reserveCredit');
        const a = this.account(caller);
        if (a.freeE8s < reserveE8s) throw new Error(`InsufficientCredit: free ${a.freeE8s} < ${reserveE8s}`);
        let line = [...this.lines.values()].find((l) => l.payer === caller && l.runner === runner && l.state === 'open');
        if (line === undefined && reserveE8s < this.minReserveE8s)
          throw new Error(`ReserveBelowMinimum: ${reserveE8s} < ${this.minReserveE8s}`);
        a.freeE8s -= reserveE8s;
        a.reservedE8s += reserveE8s;
        if (line === undefined) {
          line = { id: this.nextId++, payer: caller, runner, reservedE8s: 0n, settledE8s: 0n, settledSeq: 0n, state: 'open', owedSeen: 0n };
          this.lines.set(line.id, line);
        }
        line.reservedE8s += reserveE8s;
        return this.view(line.id)!;
      },
      findCreditLine: async (payer, runner) => {
        const line = [...this.lines.values()].find((l) => l.payer === payer && l.runner === runner && l.state === 'open');
        return line === undefined ? undefined : this.view(line.id);
      },
      settleUsage: async (items: readonly UsageSettlement[]): Promise<SettleOutcome[]> => {
        this.calls.push('settleUsage');
        return items.map((item) => {
          const line = this.lines.get(item.lineId);
          if (line === undefined || line.payer !== caller) return { ok: false, lineId: item.lineId, error: 'NotFound' };
          const moved = this.move(line, item.seq, item.owedE8s);
          if (typeof moved === 'string') return { ok: false, lineId: item.lineId, error: moved };
          return { ok: true, lineId: item.lineId, movedE8s: moved, line: this.view(line.id)! };
        });
      },
      getCreditAccount: async (owner) => this.accounts.get(owner),
      closeCreditLine: async (lineId) => {
        this.calls.push('closeCreditLine');
        const line = this.lines.get(lineId);
        if (line === undefined || line.payer !== caller) throw new Error('NotFound');
        if (line.state === 'open') line.state = 'closing';
        return this.view(lineId)!;
      }
    };
  }

  runner(caller: string): RunnerCreditApi {
    return {
      getCreditLine: async (lineId) => {
        this.calls.push('getCreditLine');
        return this.view(lineId);
      },
      settleReceipt: async (signed: SignedReceipt) => {
        this.calls.push('settleReceipt');
        const problem = receiptProblem(signed);
        if (problem !== undefined) throw new Error(problem);
        const line = this.lines.get(signed.receipt.lineId);
        if (line === undefined || line.runner !== caller || line.payer !== signed.receipt.payer) throw new Error('NotYourLine');
        const moved = this.move(line, signed.receipt.seq, signed.receipt.owedE8s);
        if (typeof moved === 'string') throw new Error(moved);
        return this.view(line.id)!;
      }
    };
  }

  view(lineId: bigint): CreditLineView | undefined {
    const line = this.lines.get(lineId);
    if (line === undefined) return undefined;
    const { owedSeen: _owed, ...view } = line;
    return { ...view };
  }

  /**
   * As the canister (src/core/credit/settle.ts): the highest signed owed binds, whatever its seq — what it owes beyond
   * what is settled moves, capped by the reservation; a newer seq owing less than settled is refused; the settled seq
   * only rises. A closed line moves nothing.
   */
  private move(line: CreditLineView & { owedSeen: bigint }, seq: bigint, owedE8s: bigint): bigint | string {
    if (line.state === 'closed') return 'LineNotOpen';
    if (owedE8s < line.settledE8s && seq > line.settledSeq) return 'OwedBelowSettled';
    const target = owedE8s > line.reservedE8s ? line.reservedE8s : owedE8s;
    const moved = target > line.settledE8s ? target - line.settledE8s : 0n;
    line.settledE8s += moved;
    if (seq > line.settledSeq) line.settledSeq = seq;
    this.account(line.runner).accruedE8s += moved;
    this.account(line.payer).reservedE8s -= moved;
    return moved;
  }
}
