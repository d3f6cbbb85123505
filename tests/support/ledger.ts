import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { ActorSubclass, HttpAgent } from '@dfinity/agent';
import type { Principal } from '@dfinity/principal';

import { ledgerClient } from '../../src/ic/ledger.ts';
import {
  ledgerInitArg,
  ledgerUpgradeArg,
  type Account,
  type ApproveArgs,
  type ApproveError,
  type ApproveResult,
  type InitArgs,
  type LedgerService,
  type TransferArgs,
  type TransferError,
  type TransferFromArgs,
  type TransferFromError,
  type TransferFromResult,
  type TransferResult,
  type UpgradeArgs
} from '../../src/interface/ledger/index.ts';
import type { Value as CoreValue } from '../../src/core/ledger/index.ts';

export type { Value } from '../../src/interface/ledger/index.ts';
export type LedgerErr = TransferError | ApproveError | TransferFromError;
export type LedgerResult = TransferResult | ApproveResult | TransferFromResult;
/** The ledger's actor type, as the tests call it (`ActorSubclass<LedgerActor>`). */
export type LedgerActor = LedgerService;

export function ledgerWasm(): Uint8Array {
  return new Uint8Array(readFileSync(join(import.meta.dirname, '..', '..', '.azle', 'ledger', 'ledger.wasm')));
}

export function ledgerActor(agent: HttpAgent, canisterId: Principal): ActorSubclass<LedgerActor> {
  return ledgerClient(agent, canisterId);
}

export const account = (owner: Principal, subaccount?: Uint8Array): Account => ({
  owner,
  subaccount: subaccount === undefined ? [] : [subaccount]
});

export const FEE = 10_000n;

/** An install argument with test defaults: fee 10_000, 8 decimals, no initial balances. */
export function ledgerInit(minting: Principal, overrides: Partial<InitArgs> = {}): Uint8Array {
  return ledgerInitArg({
    token_name: 'Test Token',
    token_symbol: 'TST',
    decimals: [],
    transfer_fee: FEE,
    minting_account: account(minting),
    initial_balances: [],
    max_memo_length: [],
    metadata: [],
    max_transactions_in_window: [],
    ...overrides
  });
}

export function transferArgs(to: Account, amount: bigint, overrides: Partial<TransferArgs> = {}): TransferArgs {
  return { from_subaccount: [], to, amount, fee: [], memo: [], created_at_time: [], ...overrides };
}

export function approveArgs(spender: Account, amount: bigint, overrides: Partial<ApproveArgs> = {}): ApproveArgs {
  return {
    from_subaccount: [],
    spender,
    amount,
    expected_allowance: [],
    expires_at: [],
    fee: [],
    memo: [],
    created_at_time: [],
    ...overrides
  };
}

export function transferFromArgs(from: Account, to: Account, amount: bigint, overrides: Partial<TransferFromArgs> = {}): TransferFromArgs {
  return { spender_subaccount: [], from, to, amount, fee: [], memo: [], created_at_time: [], ...overrides };
}

export function okIndex(result: LedgerResult): bigint {
  if ('Err' in result)
    throw new Error(`expected Ok, got Err ${JSON.stringify(result.Err, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`);
  return result.Ok;
}

export function errOf<E extends LedgerErr>(result: { Ok: bigint } | { Err: E }): E {
  if ('Ok' in result) throw new Error(`expected Err, got Ok ${result.Ok}`);
  return result.Err;
}

/** An upgrade argument that changes only what `overrides` sets. */
export function ledgerUpgrade(overrides: Partial<UpgradeArgs> = {}): Uint8Array {
  return ledgerUpgradeArg({
    token_name: [],
    token_symbol: [],
    transfer_fee: [],
    max_memo_length: [],
    metadata: [],
    max_transactions_in_window: [],
    ...overrides
  });
}

/** An ICRC-3 value as a client decodes it (blobs may come as number[]). */
export type DecodedValue =
  | { Blob: Uint8Array | number[] }
  | { Text: string }
  | { Nat: bigint }
  | { Int: bigint }
  | { Array: DecodedValue[] }
  | { Map: Array<[string, DecodedValue]> };

/** The same value in the core's shape, ready for `hashValue`. */
export function coreValue(value: DecodedValue): CoreValue {
  if ('Blob' in value) return { Blob: Uint8Array.from(value.Blob) };
  if ('Array' in value) return { Array: value.Array.map(coreValue) };
  if ('Map' in value) return { Map: value.Map.map(([key, v]): [string, CoreValue] => [key, coreValue(v)]) };
  return value;
}
