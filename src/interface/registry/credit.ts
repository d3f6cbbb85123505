import { IDL } from '@dfinity/candid';
import type { Principal } from '@dfinity/principal';

import { Nat32, Nat64, typed, type Opt } from '../candid.js';
import { result, type RegistryError } from './errors.js';
import { Account } from './tasks.js';

/**
 * Credit and batched settlement of the paid direct path (src/core/credit; README "Paid direct path: credit and
 * settlement"): each wire value beside its IDL type. Amounts are e8s (`nat`), ids, sequence numbers and counters nat64.
 */

/** get_credit_account: a principal's credit as payer (free, reserved) and runner (accrued); `account` takes deposits. */
export interface CreditAccountView {
  owner: Principal;
  free_e8s: bigint;
  reserved_e8s: bigint;
  accrued_e8s: bigint;
  lines_as_payer: number;
  lines_as_runner: number;
  /** Deposits asked of the ledger whose reply has not come back yet (maintenance resolves them). */
  pending_deposits: bigint[];
  /** Deposits the ledger could no longer tell about (TooOld): never credited, kept here for 25 hours. */
  unknown_deposits: bigint[];
  account: Account;
}
export const CreditAccountView = typed<CreditAccountView>(
  IDL.Record({
    owner: IDL.Principal,
    free_e8s: IDL.Nat,
    reserved_e8s: IDL.Nat,
    accrued_e8s: IDL.Nat,
    lines_as_payer: Nat32,
    lines_as_runner: Nat32,
    pending_deposits: IDL.Vec(Nat64),
    unknown_deposits: IDL.Vec(Nat64),
    account: Account
  })
);

/**
 * A credit line. `state` is `open`, `closing` (until `closing_until_ns` its runner may still settle) or `closed`;
 * `available_e8s` is what its runner can still be paid (what it holds, less the protocol fee on that).
 */
export interface CreditLineView {
  id: bigint;
  payer: Principal;
  runner: Principal;
  reserved_e8s: bigint;
  settled_e8s: bigint;
  fees_e8s: bigint;
  available_e8s: bigint;
  settled_seq: bigint;
  input_tokens: bigint;
  output_tokens: bigint;
  requests: bigint;
  state: string;
  opened_at_ns: bigint;
  closing_until_ns: Opt<bigint>;
}
export const CreditLineView = typed<CreditLineView>(
  IDL.Record({
    id: Nat64,
    payer: IDL.Principal,
    runner: IDL.Principal,
    reserved_e8s: IDL.Nat,
    settled_e8s: IDL.Nat,
    fees_e8s: IDL.Nat,
    available_e8s: IDL.Nat,
    settled_seq: Nat64,
    input_tokens: Nat64,
    output_tokens: Nat64,
    requests: Nat64,
    state: IDL.Text,
    opened_at_ns: Nat64,
    closing_until_ns: IDL.Opt(Nat64)
  })
);

/** deposit_credit: `created_at_time` (default: now) makes a retried call the same ledger transfer, credited once. */
export interface DepositArgs {
  amount_e8s: bigint;
  created_at_time: Opt<bigint>;
}
export const DepositArgs = typed<DepositArgs>(IDL.Record({ amount_e8s: IDL.Nat, created_at_time: IDL.Opt(Nat64) }));

/** One line's cumulative totals, as the payer settles them (the fields of its signed receipt). */
export interface UsageSettlement {
  line_id: bigint;
  seq: bigint;
  owed_e8s: bigint;
  input_tokens: bigint;
  output_tokens: bigint;
  requests: bigint;
}
export const UsageSettlement = typed<UsageSettlement>(
  IDL.Record({ line_id: Nat64, seq: Nat64, owed_e8s: IDL.Nat, input_tokens: Nat64, output_tokens: Nat64, requests: Nat64 })
);

/** What one settled item moved to the runner (`moved_e8s`) and charged the payer on top (`fee_e8s`). */
export interface SettledView {
  line: CreditLineView;
  moved_e8s: bigint;
  fee_e8s: bigint;
}
export const SettledView = typed<SettledView>(IDL.Record({ line: CreditLineView, moved_e8s: IDL.Nat, fee_e8s: IDL.Nat }));
export type SettleItemResult = { Ok: SettledView } | { Err: RegistryError };
export const SettleItemResult = result(SettledView);

/** The receipt a payer signs (src/core/credit/receipt.ts), principals as principals. */
export interface ReceiptArgs {
  line_id: bigint;
  payer: Principal;
  runner: Principal;
  seq: bigint;
  owed_e8s: bigint;
  input_tokens: bigint;
  output_tokens: bigint;
  requests: bigint;
}
export const ReceiptArgs = typed<ReceiptArgs>(
  IDL.Record({
    line_id: Nat64,
    payer: IDL.Principal,
    runner: IDL.Principal,
    seq: Nat64,
    owed_e8s: IDL.Nat,
    input_tokens: Nat64,
    output_tokens: Nat64,
    requests: Nat64
  })
);
export interface SignedReceiptArgs {
  receipt: ReceiptArgs;
  public_key: Uint8Array | number[];
  signature: Uint8Array | number[];
}
export const SignedReceiptArgs = typed<SignedReceiptArgs>(
  IDL.Record({ receipt: ReceiptArgs, public_key: IDL.Vec(IDL.Nat8), signature: IDL.Vec(IDL.Nat8) })
);

/** A withdrawal recorded in the payout outbox (`list_payouts` shows it until the ledger confirms it). */
export interface WithdrawalView {
  payout_id: string;
  amount_e8s: bigint;
  account: CreditAccountView;
}
export const WithdrawalView = typed<WithdrawalView>(IDL.Record({ payout_id: IDL.Text, amount_e8s: IDL.Nat, account: CreditAccountView }));

/** list_credit_lines: exactly one of `payer` and `runner`. */
export interface CreditLineFilter {
  payer: Opt<Principal>;
  runner: Opt<Principal>;
}
export const CreditLineFilter = typed<CreditLineFilter>(IDL.Record({ payer: IDL.Opt(IDL.Principal), runner: IDL.Opt(IDL.Principal) }));
export interface CreditLinePage {
  items: CreditLineView[];
  next: Opt<string>;
}
export const CreditLinePage = typed<CreditLinePage>(IDL.Record({ items: IDL.Vec(CreditLineView), next: IDL.Opt(IDL.Text) }));

export interface CreditConfigView {
  dispute_window_seconds: bigint;
  auto_payout_threshold_e8s: bigint;
  min_reserve_e8s: bigint;
}
export const CreditConfigView = typed<CreditConfigView>(
  IDL.Record({ dispute_window_seconds: Nat64, auto_payout_threshold_e8s: IDL.Nat, min_reserve_e8s: IDL.Nat })
);
export interface CreditConfigArgs {
  dispute_window_seconds: Opt<bigint>;
  auto_payout_threshold_e8s: Opt<bigint>;
  min_reserve_e8s: Opt<bigint>;
}
export const CreditConfigArgs = typed<CreditConfigArgs>(
  IDL.Record({ dispute_window_seconds: IDL.Opt(Nat64), auto_payout_threshold_e8s: IDL.Opt(IDL.Nat), min_reserve_e8s: IDL.Opt(IDL.Nat) })
);
