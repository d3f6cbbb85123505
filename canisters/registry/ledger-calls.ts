import { call, canisterSelf } from 'azle';
import { utf8ToBytes } from '@noble/hashes/utils';

import type { ArgsOf, ReturnOf } from '../../src/interface/candid.js';
import { ledgerMethods, type TransferFromResult } from '../../src/interface/ledger/index.js';
import { decodeArgs } from '../common/candid-decoder.js';
import { encodeReply } from '../common/fast-candid.js';

/**
 * Every call the registry makes to the ledger, in one place. Arguments go out through the cached-type-table encoder
 * and replies come back through the compiled decoder (fast-candid.ts, candid-decoder.ts): azle's typed `call` rebuilds
 * the type table and decodes with @dfinity/candid on every call, millions of instructions under QuickJS per escrow,
 * payout, bond lock or deposit.
 */
type LedgerMethod = 'icrc1_transfer' | 'icrc2_transfer_from' | 'icrc2_allowance' | 'icrc1_balance_of';

const METHODS = ['icrc1_transfer', 'icrc2_transfer_from', 'icrc2_allowance', 'icrc1_balance_of'] as const;

/** The argument types whose type tables the registry encodes once at install (warmReplyTypes). */
export const LEDGER_ARG_TYPES = METHODS.map((method) => ledgerMethods[method].args[0]);

/** The reply types whose decoding plans the registry builds once at install (warmArgPlans). */
export const LEDGER_REPLY_TYPES = METHODS.flatMap((method) => {
  const ret = ledgerMethods[method].ret;
  return ret === undefined ? [] : [ret];
});

/** Calls one ledger method with its single argument; throws when the call is rejected or the reply is malformed. */
export async function ledgerCall<M extends LedgerMethod>(
  ledger: string,
  method: M,
  arg: ArgsOf<(typeof ledgerMethods)[M]>[0]
): Promise<ReturnOf<(typeof ledgerMethods)[M]>> {
  const { args, ret } = ledgerMethods[method];
  const [argType] = args;
  if (argType === undefined || ret === undefined) throw new Error(`${method} takes one argument and replies`);
  const reply = await call<Uint8Array, Uint8Array>(ledger, method, { raw: true, args: encodeReply(argType, arg) });
  // decodeArgs checks the reply against the method's reply type.
  return decodeArgs([ret], reply)[0] as ReturnOf<(typeof ledgerMethods)[M]>;
}

/** A memo of at most 32 bytes (the ledger's limit): the UTF-8 of `text`, cut. */
export const memoOf = (text: string): Uint8Array => utf8ToBytes(text).slice(0, 32);

/** `icrc2_transfer_from` into one of the registry's own subaccounts; the same memo and time make a retry safe. */
export function transferFromInto(
  ledger: string,
  transfer: {
    from: ArgsOf<typeof ledgerMethods.icrc2_transfer_from>[0]['from'];
    subaccount: Uint8Array;
    amount: bigint;
    memo: string;
    createdAtNs: bigint;
  }
): Promise<TransferFromResult> {
  return ledgerCall(ledger, 'icrc2_transfer_from', {
    spender_subaccount: [],
    from: transfer.from,
    to: { owner: canisterSelf(), subaccount: [transfer.subaccount] },
    amount: transfer.amount,
    fee: [],
    memo: [memoOf(transfer.memo)],
    created_at_time: [transfer.createdAtNs]
  });
}
