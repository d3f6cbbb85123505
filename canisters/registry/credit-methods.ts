import { query, time, update } from 'azle';
import { fromOpt as some, opt } from '../../src/interface/candid.js';
import { registryMethods as m } from '../../src/interface/registry/index.js';
import { argsOf, replyOf } from '../common/fast-candid.js';
import { handle, tooLarge } from './bounded-args.js';
import {
  closeCreditLine,
  finalizeCreditLine,
  findLine,
  getLine,
  listLines,
  reserveCredit,
  setCreditConfig,
  settleReceipt,
  settleUsage,
  withdrawAccrued,
  withdrawCredit
} from '../../src/core/credit/index.js';
import {
  accountViewOf,
  creditAccountView,
  creditConfigView,
  creditLineView,
  depositCredit,
  settledView,
  signedReceiptOf,
  usageOf,
  withdrawalView
} from './credit.js';
import { MANUAL, caller, mapResult, state } from './context.js';

/** The canister's credit methods: deposits, credit lines and the batched settlement of the paid direct path (credit.ts, src/core/credit). */
export class CreditMethods {
  /** Async: the deposit moves with icrc2_transfer_from into the credit subaccount, credited exactly once. */
  @update(m.deposit_credit.args, m.deposit_credit.ret, MANUAL)
  async deposit_credit(): Promise<void> {
    if (tooLarge('deposit_credit')) return;
    const [a] = argsOf(m.deposit_credit);
    // The caller is read before the await (after it, msgCaller() is the ledger).
    const payer = caller();
    const result = await depositCredit(state(), payer, a.amount_e8s, some(a.created_at_time));
    replyOf(m.deposit_credit, mapResult(result, creditAccountView));
  }

  @update(m.withdraw_credit.args, m.withdraw_credit.ret, MANUAL)
  withdraw_credit(): void {
    handle(m.withdraw_credit, (amount) => mapResult(withdrawCredit(state(), caller(), time(), amount), withdrawalView));
  }

  @update(m.reserve_credit.args, m.reserve_credit.ret, MANUAL)
  reserve_credit(): void {
    handle(m.reserve_credit, (runner, amount) =>
      mapResult(reserveCredit(state(), caller(), time(), runner.toText(), amount), (l) => creditLineView(state(), l))
    );
  }

  @update(m.close_credit_line.args, m.close_credit_line.ret, MANUAL)
  close_credit_line(): void {
    handle(m.close_credit_line, (id) => mapResult(closeCreditLine(state(), caller(), time(), id), (l) => creditLineView(state(), l)));
  }

  @update(m.finalize_credit_line.args, m.finalize_credit_line.ret, MANUAL)
  finalize_credit_line(): void {
    handle(m.finalize_credit_line, (id) => mapResult(finalizeCreditLine(state(), caller(), time(), id), (l) => creditLineView(state(), l)));
  }

  /** The payer's batch: each item its own Ok or Err. */
  @update(m.settle_usage.args, m.settle_usage.ret, MANUAL)
  settle_usage(): void {
    handle(m.settle_usage, (items) =>
      mapResult(settleUsage(state(), caller(), time(), items.map(usageOf)), (outcomes) =>
        outcomes.map((o) => mapResult(o, (s) => settledView(state(), s)))
      )
    );
  }

  /** The runner settles alone with the payer's signed receipt (the signature is checked here). */
  @update(m.settle_receipt.args, m.settle_receipt.ret, MANUAL)
  settle_receipt(): void {
    handle(m.settle_receipt, (signed) =>
      mapResult(settleReceipt(state(), caller(), time(), signedReceiptOf(signed)), (s) => settledView(state(), s))
    );
  }

  @update(m.withdraw_accrued.args, m.withdraw_accrued.ret, MANUAL)
  withdraw_accrued(): void {
    handle(m.withdraw_accrued, () => mapResult(withdrawAccrued(state(), caller(), time()), withdrawalView));
  }

  @query(m.get_credit_account.args, m.get_credit_account.ret, MANUAL)
  get_credit_account(): void {
    handle(m.get_credit_account, (owner) => opt(accountViewOf(state(), owner.toText())));
  }

  @query(m.get_credit_line.args, m.get_credit_line.ret, MANUAL)
  get_credit_line(): void {
    handle(m.get_credit_line, (id) => {
      const line = getLine(state(), id);
      return opt(line === undefined ? undefined : creditLineView(state(), line));
    });
  }

  /** The pair's line that is not closed (open, or closing in its dispute window). */
  @query(m.find_credit_line.args, m.find_credit_line.ret, MANUAL)
  find_credit_line(): void {
    handle(m.find_credit_line, (payer, runner) => {
      const line = findLine(state(), payer.toText(), runner.toText());
      return opt(line === undefined ? undefined : creditLineView(state(), line));
    });
  }

  @query(m.list_credit_lines.args, m.list_credit_lines.ret, MANUAL)
  list_credit_lines(): void {
    handle(m.list_credit_lines, (filter, page) => {
      const payer = some(filter.payer);
      const runner = some(filter.runner);
      if ((payer === undefined) === (runner === undefined))
        return { Err: { InvalidArgument: { field: 'filter', reason: 'name exactly one of payer and runner' } } };
      const result = listLines(state(), payer ? 'payer' : 'runner', (payer ?? runner)!.toText(), {
        after: some(page.after),
        limit: some(page.limit)
      });
      return mapResult(result, (p) => ({ items: p.items.map((l) => creditLineView(state(), l)), next: opt(p.next) }));
    });
  }

  @update(m.set_credit_config.args, m.set_credit_config.ret, MANUAL)
  set_credit_config(): void {
    handle(m.set_credit_config, (a) =>
      mapResult(
        setCreditConfig(state(), caller(), {
          disputeWindowSeconds: some(a.dispute_window_seconds),
          autoPayoutThresholdE8s: some(a.auto_payout_threshold_e8s),
          minReserveE8s: some(a.min_reserve_e8s)
        }),
        creditConfigView
      )
    );
  }

  @query(m.get_credit_config.args, m.get_credit_config.ret, MANUAL)
  get_credit_config(): void {
    handle(m.get_credit_config, () => creditConfigView(state().creditConfig()));
  }
}
