import type { SignedReceipt } from './receipt.js';

/**
 * What off-chain code (runner node, payer client, gateway) needs from the registry's credit methods (README "Paid
 * direct path"). src/ic implements it on the canister through the agent; tests of off-chain logic may pass a fake.
 */

export type CreditLineState = 'open' | 'closing' | 'closed';

export interface CreditLineView {
  id: bigint;
  payer: string;
  runner: string;
  /** Credit set aside for this runner; settlement moves at most this much to it. */
  reservedE8s: bigint;
  /** Already moved to the runner's accrued balance (cumulative owed of the latest settled receipt). */
  settledE8s: bigint;
  /** `seq` of the latest settled receipt (0 before any). */
  settledSeq: bigint;
  state: CreditLineState;
  /** While `closing`: until when the runner may still settle its latest receipt. */
  closingUntilNs?: bigint;
  /** Protocol fees charged on what was settled (they come out of the reserve too). */
  feesE8s?: bigint;
  /** What the runner can still be paid on this line: what it holds, less the protocol fee on that. */
  availableE8s?: bigint;
}

export interface CreditAccountView {
  owner: string;
  /** Deposited and not reserved toward any line. */
  freeE8s: bigint;
  /** Reserved toward lines, not yet settled. */
  reservedE8s: bigint;
  /** As a runner: settled to it and not yet withdrawn. */
  accruedE8s: bigint;
}

/** One line's cumulative totals as the payer settles them (the same fields it signs in a receipt). */
export interface UsageSettlement {
  lineId: bigint;
  seq: bigint;
  owedE8s: bigint;
  inputTokens: bigint;
  outputTokens: bigint;
  requests: bigint;
}

/** Each item of a batch settles alone: one bad item never blocks the others. */
export type SettleOutcome =
  { ok: true; lineId: bigint; movedE8s: bigint; line: CreditLineView } | { ok: false; lineId: bigint; error: string };

export interface PayerCreditApi {
  /** Moves `amountE8s` from the payer's ledger account (ICRC-2 allowance to the registry) into its free credit. */
  depositCredit(amountE8s: bigint): Promise<CreditAccountView>;
  /** Opens a line toward `runner` reserving `reserveE8s` of free credit, or adds that much to the open one. */
  reserveCredit(runner: string, reserveE8s: bigint): Promise<CreditLineView>;
  /** The payer's open line toward `runner`, if any. */
  findCreditLine(payer: string, runner: string): Promise<CreditLineView | undefined>;
  /** Settles many lines in one update (the batch). */
  settleUsage(items: readonly UsageSettlement[]): Promise<SettleOutcome[]>;
  getCreditAccount(owner: string): Promise<CreditAccountView | undefined>;
  /** Closes the payer's line (its runner may settle until the dispute window ends; the rest then returns). */
  closeCreditLine?(lineId: bigint): Promise<CreditLineView>;
}

export interface RunnerCreditApi {
  getCreditLine(lineId: bigint): Promise<CreditLineView | undefined>;
  /** The runner settles alone with the payer's latest signed receipt (the signature is checked on-chain). */
  settleReceipt(signed: SignedReceipt): Promise<CreditLineView>;
}
