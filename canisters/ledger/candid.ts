import { IDL } from '@dfinity/candid';
import type { Principal } from '@dfinity/principal';

/**
 * The ledger's Candid interface (ICRC-1, ICRC-2, ICRC-3, ICRC-10 as in dfinity/ICRC-1 `standards/*.did`), shared by
 * the canister's decorators and off-chain clients. The generated ledger.did is derived from the decorators.
 */
export const Subaccount = IDL.Vec(IDL.Nat8);
export const Account = IDL.Record({ owner: IDL.Principal, subaccount: IDL.Opt(Subaccount) });
export const MetadataValue = IDL.Variant({ Nat: IDL.Nat, Int: IDL.Int, Text: IDL.Text, Blob: IDL.Vec(IDL.Nat8) });
export const Metadata = IDL.Vec(IDL.Tuple(IDL.Text, MetadataValue));

export const InitArgs = IDL.Record({
  token_name: IDL.Text,
  token_symbol: IDL.Text,
  decimals: IDL.Opt(IDL.Nat8),
  transfer_fee: IDL.Nat,
  minting_account: Account,
  initial_balances: IDL.Vec(IDL.Tuple(Account, IDL.Nat)),
  max_memo_length: IDL.Opt(IDL.Nat16),
  metadata: Metadata,
  max_transactions_in_window: IDL.Opt(IDL.Nat64)
});
export const UpgradeArgs = IDL.Record({
  token_name: IDL.Opt(IDL.Text),
  token_symbol: IDL.Opt(IDL.Text),
  transfer_fee: IDL.Opt(IDL.Nat),
  max_memo_length: IDL.Opt(IDL.Nat16),
  metadata: IDL.Opt(Metadata),
  max_transactions_in_window: IDL.Opt(IDL.Nat64)
});
export const LedgerArg = IDL.Variant({ Init: InitArgs, Upgrade: IDL.Opt(UpgradeArgs) });

export const TransferArgs = IDL.Record({
  from_subaccount: IDL.Opt(Subaccount),
  to: Account,
  amount: IDL.Nat,
  fee: IDL.Opt(IDL.Nat),
  memo: IDL.Opt(IDL.Vec(IDL.Nat8)),
  created_at_time: IDL.Opt(IDL.Nat64)
});
const GenericError = IDL.Record({ error_code: IDL.Nat, message: IDL.Text });
export const TransferError = IDL.Variant({
  BadFee: IDL.Record({ expected_fee: IDL.Nat }),
  BadBurn: IDL.Record({ min_burn_amount: IDL.Nat }),
  InsufficientFunds: IDL.Record({ balance: IDL.Nat }),
  TooOld: IDL.Null,
  CreatedInFuture: IDL.Record({ ledger_time: IDL.Nat64 }),
  Duplicate: IDL.Record({ duplicate_of: IDL.Nat }),
  TemporarilyUnavailable: IDL.Null,
  GenericError
});
export const TransferResult = IDL.Variant({ Ok: IDL.Nat, Err: TransferError });

export const ApproveArgs = IDL.Record({
  from_subaccount: IDL.Opt(Subaccount),
  spender: Account,
  amount: IDL.Nat,
  expected_allowance: IDL.Opt(IDL.Nat),
  expires_at: IDL.Opt(IDL.Nat64),
  fee: IDL.Opt(IDL.Nat),
  memo: IDL.Opt(IDL.Vec(IDL.Nat8)),
  created_at_time: IDL.Opt(IDL.Nat64)
});
export const ApproveError = IDL.Variant({
  BadFee: IDL.Record({ expected_fee: IDL.Nat }),
  InsufficientFunds: IDL.Record({ balance: IDL.Nat }),
  AllowanceChanged: IDL.Record({ current_allowance: IDL.Nat }),
  Expired: IDL.Record({ ledger_time: IDL.Nat64 }),
  TooOld: IDL.Null,
  CreatedInFuture: IDL.Record({ ledger_time: IDL.Nat64 }),
  Duplicate: IDL.Record({ duplicate_of: IDL.Nat }),
  TemporarilyUnavailable: IDL.Null,
  GenericError
});
export const ApproveResult = IDL.Variant({ Ok: IDL.Nat, Err: ApproveError });

export const TransferFromArgs = IDL.Record({
  spender_subaccount: IDL.Opt(Subaccount),
  from: Account,
  to: Account,
  amount: IDL.Nat,
  fee: IDL.Opt(IDL.Nat),
  memo: IDL.Opt(IDL.Vec(IDL.Nat8)),
  created_at_time: IDL.Opt(IDL.Nat64)
});
export const TransferFromError = IDL.Variant({
  BadFee: IDL.Record({ expected_fee: IDL.Nat }),
  BadBurn: IDL.Record({ min_burn_amount: IDL.Nat }),
  InsufficientFunds: IDL.Record({ balance: IDL.Nat }),
  InsufficientAllowance: IDL.Record({ allowance: IDL.Nat }),
  TooOld: IDL.Null,
  CreatedInFuture: IDL.Record({ ledger_time: IDL.Nat64 }),
  Duplicate: IDL.Record({ duplicate_of: IDL.Nat }),
  TemporarilyUnavailable: IDL.Null,
  GenericError
});
export const TransferFromResult = IDL.Variant({ Ok: IDL.Nat, Err: TransferFromError });

export const AllowanceArgs = IDL.Record({ account: Account, spender: Account });
export const Allowance = IDL.Record({ allowance: IDL.Nat, expires_at: IDL.Opt(IDL.Nat64) });

export const StandardList = IDL.Vec(IDL.Record({ name: IDL.Text, url: IDL.Text }));

export const Value = IDL.Rec();
Value.fill(
  IDL.Variant({
    Blob: IDL.Vec(IDL.Nat8),
    Text: IDL.Text,
    Nat: IDL.Nat,
    Int: IDL.Int,
    Array: IDL.Vec(Value),
    Map: IDL.Vec(IDL.Tuple(IDL.Text, Value))
  })
);
export const GetArchivesArgs = IDL.Record({ from: IDL.Opt(IDL.Principal) });
export const GetArchivesResult = IDL.Vec(IDL.Record({ canister_id: IDL.Principal, start: IDL.Nat, end: IDL.Nat }));
export const GetBlocksArgs = IDL.Vec(IDL.Record({ start: IDL.Nat, length: IDL.Nat }));
export const GetBlocksResult = IDL.Rec();
GetBlocksResult.fill(
  IDL.Record({
    log_length: IDL.Nat,
    blocks: IDL.Vec(IDL.Record({ id: IDL.Nat, block: Value })),
    archived_blocks: IDL.Vec(IDL.Record({ args: GetBlocksArgs, callback: IDL.Func([GetBlocksArgs], [GetBlocksResult], ['query']) }))
  })
);
export const DataCertificate = IDL.Record({ certificate: IDL.Vec(IDL.Nat8), hash_tree: IDL.Vec(IDL.Nat8) });
export const BlockTypeList = IDL.Vec(IDL.Record({ block_type: IDL.Text, url: IDL.Text }));

/** Candid values of the types above, as @dfinity/candid decodes them. */
export type Opt<T> = [] | [T];
export interface AccountArg {
  owner: Principal;
  subaccount: Opt<Uint8Array | number[]>;
}
export type MetadataValueArg = { Nat: bigint } | { Int: bigint } | { Text: string } | { Blob: Uint8Array | number[] };
export interface InitArgsValue {
  token_name: string;
  token_symbol: string;
  decimals: Opt<number>;
  transfer_fee: bigint;
  minting_account: AccountArg;
  initial_balances: Array<[AccountArg, bigint]>;
  max_memo_length: Opt<number>;
  metadata: Array<[string, MetadataValueArg]>;
  max_transactions_in_window: Opt<bigint>;
}
export interface UpgradeArgsValue {
  token_name: Opt<string>;
  token_symbol: Opt<string>;
  transfer_fee: Opt<bigint>;
  max_memo_length: Opt<number>;
  metadata: Opt<Array<[string, MetadataValueArg]>>;
  max_transactions_in_window: Opt<bigint>;
}
export type LedgerArgValue = { Init: InitArgsValue } | { Upgrade: Opt<UpgradeArgsValue> };
export interface TransferArgsValue {
  from_subaccount: Opt<Uint8Array | number[]>;
  to: AccountArg;
  amount: bigint;
  fee: Opt<bigint>;
  memo: Opt<Uint8Array | number[]>;
  created_at_time: Opt<bigint>;
}
export interface ApproveArgsValue {
  from_subaccount: Opt<Uint8Array | number[]>;
  spender: AccountArg;
  amount: bigint;
  expected_allowance: Opt<bigint>;
  expires_at: Opt<bigint>;
  fee: Opt<bigint>;
  memo: Opt<Uint8Array | number[]>;
  created_at_time: Opt<bigint>;
}
export interface TransferFromArgsValue {
  spender_subaccount: Opt<Uint8Array | number[]>;
  from: AccountArg;
  to: AccountArg;
  amount: bigint;
  fee: Opt<bigint>;
  memo: Opt<Uint8Array | number[]>;
  created_at_time: Opt<bigint>;
}

/** The install argument `deai deploy` and tests give the ledger. */
export const ledgerInitArg = (init: InitArgsValue): Uint8Array => new Uint8Array(IDL.encode([LedgerArg], [{ Init: init }]));
export const ledgerUpgradeArg = (upgrade?: UpgradeArgsValue): Uint8Array =>
  new Uint8Array(IDL.encode([LedgerArg], [{ Upgrade: upgrade === undefined ? [] : [upgrade] }]));

/** The service for off-chain actors (the same methods the decorators declare). */
export const ledgerIdlFactory: IDL.InterfaceFactory = ({ IDL: I }) =>
  I.Service({
    icrc1_name: I.Func([], [I.Text], ['query']),
    icrc1_symbol: I.Func([], [I.Text], ['query']),
    icrc1_decimals: I.Func([], [I.Nat8], ['query']),
    icrc1_fee: I.Func([], [I.Nat], ['query']),
    icrc1_metadata: I.Func([], [Metadata], ['query']),
    icrc1_total_supply: I.Func([], [I.Nat], ['query']),
    icrc1_minting_account: I.Func([], [I.Opt(Account)], ['query']),
    icrc1_balance_of: I.Func([Account], [I.Nat], ['query']),
    icrc1_supported_standards: I.Func([], [StandardList], ['query']),
    icrc1_transfer: I.Func([TransferArgs], [TransferResult], []),
    icrc2_approve: I.Func([ApproveArgs], [ApproveResult], []),
    icrc2_transfer_from: I.Func([TransferFromArgs], [TransferFromResult], []),
    icrc2_allowance: I.Func([AllowanceArgs], [Allowance], ['query']),
    icrc3_get_archives: I.Func([GetArchivesArgs], [GetArchivesResult], ['query']),
    icrc3_get_blocks: I.Func([GetBlocksArgs], [GetBlocksResult], ['query']),
    icrc3_get_tip_certificate: I.Func([], [I.Opt(DataCertificate)], ['query']),
    icrc3_supported_block_types: I.Func([], [BlockTypeList], ['query']),
    icrc10_supported_standards: I.Func([], [StandardList], ['query'])
  });
