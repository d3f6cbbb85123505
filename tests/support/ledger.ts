import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { Actor, type ActorSubclass, type HttpAgent } from '@dfinity/agent';
import type { Principal } from '@dfinity/principal';

import {
  ledgerIdlFactory,
  ledgerInitArg,
  ledgerUpgradeArg,
  type AccountArg,
  type ApproveArgsValue,
  type InitArgsValue,
  type Opt,
  type TransferArgsValue,
  type TransferFromArgsValue,
  type UpgradeArgsValue
} from '../../canisters/ledger/candid.ts';
import type { Value as CoreValue } from '../../src/core/ledger/index.ts';

export type LedgerErr = Record<string, unknown>;
export type LedgerResult = { Ok: bigint } | { Err: LedgerErr };
export type Value =
  { Blob: Uint8Array } | { Text: string } | { Nat: bigint } | { Int: bigint } | { Array: Value[] } | { Map: Array<[string, Value]> };

export interface LedgerActor {
  icrc1_name(): Promise<string>;
  icrc1_symbol(): Promise<string>;
  icrc1_decimals(): Promise<number>;
  icrc1_fee(): Promise<bigint>;
  icrc1_metadata(): Promise<Array<[string, { Nat: bigint } | { Int: bigint } | { Text: string } | { Blob: Uint8Array }]>>;
  icrc1_total_supply(): Promise<bigint>;
  icrc1_minting_account(): Promise<Opt<{ owner: Principal; subaccount: Opt<Uint8Array> }>>;
  icrc1_balance_of(account: AccountArg): Promise<bigint>;
  icrc1_supported_standards(): Promise<Array<{ name: string; url: string }>>;
  icrc1_transfer(args: TransferArgsValue): Promise<LedgerResult>;
  icrc2_approve(args: ApproveArgsValue): Promise<LedgerResult>;
  icrc2_transfer_from(args: TransferFromArgsValue): Promise<LedgerResult>;
  icrc2_allowance(args: { account: AccountArg; spender: AccountArg }): Promise<{ allowance: bigint; expires_at: Opt<bigint> }>;
  icrc3_get_archives(args: { from: Opt<Principal> }): Promise<Array<{ canister_id: Principal; start: bigint; end: bigint }>>;
  icrc3_get_blocks(
    ranges: Array<{ start: bigint; length: bigint }>
  ): Promise<{ log_length: bigint; blocks: Array<{ id: bigint; block: Value }>; archived_blocks: unknown[] }>;
  icrc3_get_tip_certificate(): Promise<Opt<{ certificate: Uint8Array; hash_tree: Uint8Array }>>;
  icrc3_supported_block_types(): Promise<Array<{ block_type: string; url: string }>>;
  icrc10_supported_standards(): Promise<Array<{ name: string; url: string }>>;
}

export function ledgerWasm(): Uint8Array {
  return new Uint8Array(readFileSync(join(import.meta.dirname, '..', '..', '.azle', 'ledger', 'ledger.wasm')));
}

export function ledgerActor(agent: HttpAgent, canisterId: Principal): ActorSubclass<LedgerActor> {
  return Actor.createActor<LedgerActor>(ledgerIdlFactory, { agent, canisterId });
}

export const account = (owner: Principal, subaccount?: Uint8Array): AccountArg => ({
  owner,
  subaccount: subaccount === undefined ? [] : [subaccount]
});

export const FEE = 10_000n;

/** An install argument with test defaults: fee 10_000, 8 decimals, no initial balances. */
export function ledgerInit(minting: Principal, overrides: Partial<InitArgsValue> = {}): Uint8Array {
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

export function transferArgs(to: AccountArg, amount: bigint, overrides: Partial<TransferArgsValue> = {}): TransferArgsValue {
  return { from_subaccount: [], to, amount, fee: [], memo: [], created_at_time: [], ...overrides };
}

export function approveArgs(spender: AccountArg, amount: bigint, overrides: Partial<ApproveArgsValue> = {}): ApproveArgsValue {
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

export function transferFromArgs(
  from: AccountArg,
  to: AccountArg,
  amount: bigint,
  overrides: Partial<TransferFromArgsValue> = {}
): TransferFromArgsValue {
  return { spender_subaccount: [], from, to, amount, fee: [], memo: [], created_at_time: [], ...overrides };
}

export function okIndex(result: LedgerResult): bigint {
  if ('Err' in result)
    throw new Error(`expected Ok, got Err ${JSON.stringify(result.Err, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`);
  return result.Ok;
}

export function errOf(result: LedgerResult): LedgerErr {
  if ('Ok' in result) throw new Error(`expected Err, got Ok ${result.Ok}`);
  return result.Err;
}

/** An upgrade argument that changes only what `overrides` sets. */
export function ledgerUpgrade(overrides: Partial<UpgradeArgsValue> = {}): Uint8Array {
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
