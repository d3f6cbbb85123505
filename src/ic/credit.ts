import { Principal } from '@dfinity/principal';

import type {
  CreditAccountView,
  CreditLineView,
  PayerCreditApi,
  RunnerCreditApi,
  SettleOutcome,
  SignedReceipt,
  UsageSettlement
} from '../core/credit/index.js';
import { CodedError } from '../core/errors/coded-error.js';
import type {
  CreditAccountView as WireAccount,
  CreditLineView as WireLine,
  RegistryError,
  RegistryErrorCode
} from '../interface/registry/index.js';
import { variantOf } from '../interface/candid.js';
import { ensureAllowance } from './allowance.js';
import type { LedgerActor } from './ledger.js';
import type { RegistryActor } from './registry.js';

/** A registry refusal of a credit call, coded by the RegistryError variant (`InsufficientCredit`, …) or `ApproveFailed`. */
export class CreditError extends CodedError<RegistryErrorCode | 'ApproveFailed', { error: unknown }> {}

const describe = (value: unknown): string => JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));

function unwrap<T>(method: string, result: { Ok: T } | { Err: RegistryError }): T {
  if ('Ok' in result) return result.Ok;
  const { name } = variantOf(result.Err);
  throw new CreditError(name, `${method}: ${name} ${describe(result.Err)}`, { details: { error: result.Err } });
}

export function creditLineOf(w: WireLine): CreditLineView {
  const state = w.state === 'open' || w.state === 'closing' || w.state === 'closed' ? w.state : 'closed';
  const line: CreditLineView = {
    id: w.id,
    payer: w.payer.toText(),
    runner: w.runner.toText(),
    reservedE8s: w.reserved_e8s,
    settledE8s: w.settled_e8s,
    settledSeq: w.settled_seq,
    state,
    feesE8s: w.fees_e8s,
    availableE8s: w.available_e8s
  };
  const until = w.closing_until_ns[0];
  if (until !== undefined) line.closingUntilNs = until;
  return line;
}

export const creditAccountOf = (w: WireAccount): CreditAccountView => ({
  owner: w.owner.toText(),
  freeE8s: w.free_e8s,
  reservedE8s: w.reserved_e8s,
  accruedE8s: w.accrued_e8s
});

/**
 * PayerCreditApi and RunnerCreditApi (src/core/credit/api.ts) over the registry actor: what the payer client, the
 * gateway and the runner node call. `ledger` is needed for deposits (the ICRC-2 approval they pull from).
 */
export class IcCredit implements PayerCreditApi, RunnerCreditApi {
  constructor(
    private readonly registry: RegistryActor,
    private readonly options: { registryId: Principal; principal: Principal; ledger?: LedgerActor; now?: () => bigint }
  ) {}

  /**
   * Approves the registry when needed, then deposits. The call names its created_at_time, so repeating it after a lost
   * reply (`depositCredit(amount, createdAtNs)` with the same time) is the same ledger transfer, credited once.
   */
  async depositCredit(amountE8s: bigint, createdAtNs?: bigint): Promise<CreditAccountView> {
    const { ledger, principal, registryId } = this.options;
    if (ledger === undefined) throw new CreditError('NotConfigured', 'depositCredit needs the ledger actor', { details: { error: null } });
    const approved = await ensureAllowance(ledger, principal, registryId, amountE8s);
    if (approved.error !== undefined)
      throw new CreditError('ApproveFailed', `icrc2_approve of ${approved.needed} e8s failed: ${describe(approved.error)}`, {
        details: { error: approved.error }
      });
    const at = createdAtNs ?? (this.options.now ?? (() => BigInt(Date.now()) * 1_000_000n))();
    return creditAccountOf(unwrap('deposit_credit', await this.registry.deposit_credit({ amount_e8s: amountE8s, created_at_time: [at] })));
  }

  async reserveCredit(runner: string, reserveE8s: bigint): Promise<CreditLineView> {
    return creditLineOf(unwrap('reserve_credit', await this.registry.reserve_credit(Principal.fromText(runner), reserveE8s)));
  }

  async findCreditLine(payer: string, runner: string): Promise<CreditLineView | undefined> {
    const found = (await this.registry.find_credit_line(Principal.fromText(payer), Principal.fromText(runner)))[0];
    return found === undefined ? undefined : creditLineOf(found);
  }

  async settleUsage(items: readonly UsageSettlement[]): Promise<SettleOutcome[]> {
    const outcomes = unwrap(
      'settle_usage',
      await this.registry.settle_usage(
        items.map((i) => ({
          line_id: i.lineId,
          seq: i.seq,
          owed_e8s: i.owedE8s,
          input_tokens: i.inputTokens,
          output_tokens: i.outputTokens,
          requests: i.requests
        }))
      )
    );
    return outcomes.map((o, i): SettleOutcome => {
      const lineId = items[i]?.lineId ?? 0n;
      if ('Ok' in o) return { ok: true, lineId, movedE8s: o.Ok.moved_e8s, line: creditLineOf(o.Ok.line) };
      return { ok: false, lineId, error: `${variantOf(o.Err).name} ${describe(o.Err)}` };
    });
  }

  async getCreditAccount(owner: string): Promise<CreditAccountView | undefined> {
    const found = (await this.registry.get_credit_account(Principal.fromText(owner)))[0];
    return found === undefined ? undefined : creditAccountOf(found);
  }

  async getCreditLine(lineId: bigint): Promise<CreditLineView | undefined> {
    const found = (await this.registry.get_credit_line(lineId))[0];
    return found === undefined ? undefined : creditLineOf(found);
  }

  async settleReceipt(signed: SignedReceipt): Promise<CreditLineView> {
    const r = signed.receipt;
    const settled = unwrap(
      'settle_receipt',
      await this.registry.settle_receipt({
        receipt: {
          line_id: r.lineId,
          payer: Principal.fromText(r.payer),
          runner: Principal.fromText(r.runner),
          seq: r.seq,
          owed_e8s: r.owedE8s,
          input_tokens: r.inputTokens,
          output_tokens: r.outputTokens,
          requests: r.requests
        },
        public_key: signed.publicKey,
        signature: signed.signature
      })
    );
    return creditLineOf(settled.line);
  }

  /** The payer's line closes; the runner may still settle during the dispute window. */
  async closeCreditLine(lineId: bigint): Promise<CreditLineView> {
    return creditLineOf(unwrap('close_credit_line', await this.registry.close_credit_line(lineId)));
  }

  /** Free credit back to the caller's ledger account (one payout, less the ledger fee). Returns the payout id. */
  async withdrawCredit(amountE8s: bigint): Promise<string> {
    return unwrap('withdraw_credit', await this.registry.withdraw_credit(amountE8s)).payout_id;
  }

  /** The runner's accrued balance out in one ledger transfer. Returns the payout id. */
  async withdrawAccrued(): Promise<string> {
    return unwrap('withdraw_accrued', await this.registry.withdraw_accrued()).payout_id;
  }
}
