import type { TransferError } from '../ledger/types.js';
import { principalTextProblem } from '../principal-text.js';
import type { PayAccount, Payout } from './types.js';

/** ICRC-1 `TransferError` (defined in src/core/ledger), as Candid decodes the ledger's reply to `icrc1_transfer`. */
export type { TransferError };

/** The outcome of one `icrc1_transfer` call: the ledger's reply, or what the call threw (rejected, stopped, trapped). */
export type TransferReply = { Ok: bigint } | { Err: TransferError } | { Thrown: unknown };

/** What to do with a payout after an attempt. */
export type PayoutVerdict =
  { kind: 'paid'; block: bigint } | { kind: 'retry'; error: string; ledgerFeeE8s?: bigint } | { kind: 'stuck'; error: string };

/** The ledger transfer that pays a payout. */
export interface PayoutTransfer {
  kind: 'transfer';
  /** Out of the escrow subaccount; a mint (emission) comes from the registry's default account, the minting account. */
  fromEscrow: boolean;
  amountE8s: bigint;
  /** The fee to name explicitly; a mint pays none. */
  feeE8s?: bigint;
}

/** Every `TransferError` case, so a reply's case is found by name and typed (never by `Object.keys` order). */
const TRANSFER_ERRORS = [
  'BadFee',
  'BadBurn',
  'InsufficientFunds',
  'TooOld',
  'CreatedInFuture',
  'Duplicate',
  'TemporarilyUnavailable',
  'GenericError'
] as const satisfies ReadonlyArray<keyof UnionToKeys<TransferError>>;
type UnionToKeys<U> = { [K in U extends unknown ? keyof U : never]: true };
const variantName = (e: TransferError): (typeof TRANSFER_ERRORS)[number] | 'unknown' =>
  TRANSFER_ERRORS.find((name) => name in e) ?? 'unknown';

/** A ledger error as text (bigints as decimal), for a payout's `lastError` or an escrow's error message. */
export const describeLedgerError = (e: object): string => JSON.stringify(e, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));

const SUBACCOUNT_HEX = /^[0-9a-f]{64}$/;

/**
 * Why `account` can never be paid, or undefined: its owner must be a principal's canonical text (a bad checksum
 * would throw while encoding the call) and not the registry itself (`registryId`: its default account is the
 * ledger's minting account, so a payment there is a burn), and a subaccount must be 32 bytes of hex.
 */
export function accountProblem(account: PayAccount, registryId?: string): string | undefined {
  const problem = principalTextProblem(account.owner);
  if (problem !== undefined) return `account owner ${JSON.stringify(account.owner.slice(0, 64))} is ${problem}`;
  if (registryId !== undefined && account.owner === registryId) return 'the account is the registry itself (a payment would burn)';
  if (account.subaccount !== undefined && !SUBACCOUNT_HEX.test(account.subaccount)) return 'the subaccount is not 32 bytes of hex';
  return undefined;
}

/**
 * How to pay `payout` under the current ledger fee. The recipient gets the amount minus the fee. A payout that can
 * never be paid (an account that cannot be paid, an amount that does not cover the fee) is stuck without a call.
 */
export function planTransfer(payout: Payout, ledgerFeeE8s: bigint, registryId?: string): PayoutTransfer | { kind: 'stuck'; error: string } {
  const badAccount = accountProblem(payout.to, registryId);
  if (badAccount !== undefined) return { kind: 'stuck', error: `cannot be paid: ${badAccount}` };
  if (payout.kind === 'emission') return { kind: 'transfer', fromEscrow: false, amountE8s: payout.amountE8s };
  if (payout.amountE8s <= ledgerFeeE8s)
    return { kind: 'stuck', error: `amount ${payout.amountE8s} does not cover the ledger fee ${ledgerFeeE8s}` };
  return { kind: 'transfer', fromEscrow: true, amountE8s: payout.amountE8s - ledgerFeeE8s, feeE8s: ledgerFeeE8s };
}

/**
 * Judges one attempt. Each payout is sent with a fixed `created_at_time` and memo, so the ledger deduplicates:
 * - `Ok` and `Duplicate` (an earlier attempt went through) mean paid, exactly once;
 * - `TooOld` means the dedup window has passed and the ledger can no longer tell whether it paid: retrying could pay
 *   twice, so the payout is stuck for an operator to reconcile;
 * - every other error (`BadFee`, whose expected fee is learned; `InsufficientFunds`, `TemporarilyUnavailable`,
 *   `CreatedInFuture`, `GenericError`, `BadBurn`) and a call that threw (the ledger stopped, slow or unreachable)
 *   may pass later: retry on the next pass.
 */
export function judgeTransfer(reply: TransferReply): PayoutVerdict {
  if ('Thrown' in reply) {
    const error = reply.Thrown;
    return { kind: 'retry', error: error instanceof Error ? error.message : String(error) };
  }
  if ('Ok' in reply) return { kind: 'paid', block: reply.Ok };
  const e = reply.Err;
  if ('Duplicate' in e) return { kind: 'paid', block: e.Duplicate.duplicate_of };
  if ('TooOld' in e) return { kind: 'stuck', error: 'TooOld: the ledger cannot deduplicate this transfer any more' };
  const error = `${variantName(e)}: ${describeLedgerError(e)}`;
  if ('BadFee' in e) return { kind: 'retry', error, ledgerFeeE8s: e.BadFee.expected_fee };
  return { kind: 'retry', error };
}
