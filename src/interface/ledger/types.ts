import { IDL } from '@dfinity/candid';
import type { Principal } from '@dfinity/principal';
import type {
  ApproveError as CoreApproveError,
  TransferError as CoreTransferError,
  TransferFromError as CoreTransferFromError
} from '../../core/ledger/types.js';

import { Nat16, Nat64, Nat8, typed, type Opt } from '../candid.js';

/**
 * The ledger's Candid types (ICRC-1, ICRC-2, ICRC-3, ICRC-10 as in dfinity/ICRC-1 `standards/*.did`), each wire
 * value beside its IDL type.
 */

/** `vec nat8`: decoded as a Uint8Array, encoded from either. */
export type Blob = Uint8Array | number[];
const Bytes = typed<Blob>(IDL.Vec(IDL.Nat8));

export type Subaccount = Blob;
export const Subaccount = typed<Subaccount>(IDL.Vec(IDL.Nat8));

export interface Account {
  owner: Principal;
  subaccount: Opt<Subaccount>;
}
export const Account = typed<Account>(IDL.Record({ owner: IDL.Principal, subaccount: IDL.Opt(Subaccount) }));

export type MetadataValue = { Nat: bigint } | { Int: bigint } | { Text: string } | { Blob: Blob };
export const MetadataValue = typed<MetadataValue>(IDL.Variant({ Nat: IDL.Nat, Int: IDL.Int, Text: IDL.Text, Blob: Bytes }));

export type Metadata = Array<[string, MetadataValue]>;
export const Metadata = typed<Metadata>(IDL.Vec(IDL.Tuple(IDL.Text, MetadataValue)));

export interface InitArgs {
  token_name: string;
  token_symbol: string;
  decimals: Opt<number>;
  transfer_fee: bigint;
  minting_account: Account;
  initial_balances: Array<[Account, bigint]>;
  max_memo_length: Opt<number>;
  metadata: Metadata;
  max_transactions_in_window: Opt<bigint>;
}
export const InitArgs = typed<InitArgs>(
  IDL.Record({
    token_name: IDL.Text,
    token_symbol: IDL.Text,
    decimals: IDL.Opt(Nat8),
    transfer_fee: IDL.Nat,
    minting_account: Account,
    initial_balances: IDL.Vec(IDL.Tuple(Account, IDL.Nat)),
    max_memo_length: IDL.Opt(Nat16),
    metadata: Metadata,
    max_transactions_in_window: IDL.Opt(Nat64)
  })
);

export interface UpgradeArgs {
  token_name: Opt<string>;
  token_symbol: Opt<string>;
  transfer_fee: Opt<bigint>;
  max_memo_length: Opt<number>;
  metadata: Opt<Metadata>;
  max_transactions_in_window: Opt<bigint>;
}
export const UpgradeArgs = typed<UpgradeArgs>(
  IDL.Record({
    token_name: IDL.Opt(IDL.Text),
    token_symbol: IDL.Opt(IDL.Text),
    transfer_fee: IDL.Opt(IDL.Nat),
    max_memo_length: IDL.Opt(Nat16),
    metadata: IDL.Opt(Metadata),
    max_transactions_in_window: IDL.Opt(Nat64)
  })
);

export type LedgerArg = { Init: InitArgs } | { Upgrade: Opt<UpgradeArgs> };
export const LedgerArg = typed<LedgerArg>(IDL.Variant({ Init: InitArgs, Upgrade: IDL.Opt(UpgradeArgs) }));

export interface GenericError {
  error_code: bigint;
  message: string;
}
export const GenericError = typed<GenericError>(IDL.Record({ error_code: IDL.Nat, message: IDL.Text }));

export interface TransferArgs {
  from_subaccount: Opt<Subaccount>;
  to: Account;
  amount: bigint;
  fee: Opt<bigint>;
  memo: Opt<Blob>;
  created_at_time: Opt<bigint>;
}
export const TransferArgs = typed<TransferArgs>(
  IDL.Record({
    from_subaccount: IDL.Opt(Subaccount),
    to: Account,
    amount: IDL.Nat,
    fee: IDL.Opt(IDL.Nat),
    memo: IDL.Opt(Bytes),
    created_at_time: IDL.Opt(Nat64)
  })
);

export type TransferError = CoreTransferError;
export const TransferError = typed<TransferError>(
  IDL.Variant({
    BadFee: IDL.Record({ expected_fee: IDL.Nat }),
    BadBurn: IDL.Record({ min_burn_amount: IDL.Nat }),
    InsufficientFunds: IDL.Record({ balance: IDL.Nat }),
    TooOld: IDL.Null,
    CreatedInFuture: IDL.Record({ ledger_time: Nat64 }),
    Duplicate: IDL.Record({ duplicate_of: IDL.Nat }),
    TemporarilyUnavailable: IDL.Null,
    GenericError
  })
);
export type TransferResult = { Ok: bigint } | { Err: TransferError };
export const TransferResult = typed<TransferResult>(IDL.Variant({ Ok: IDL.Nat, Err: TransferError }));

export interface ApproveArgs {
  from_subaccount: Opt<Subaccount>;
  spender: Account;
  amount: bigint;
  expected_allowance: Opt<bigint>;
  expires_at: Opt<bigint>;
  fee: Opt<bigint>;
  memo: Opt<Blob>;
  created_at_time: Opt<bigint>;
}
export const ApproveArgs = typed<ApproveArgs>(
  IDL.Record({
    from_subaccount: IDL.Opt(Subaccount),
    spender: Account,
    amount: IDL.Nat,
    expected_allowance: IDL.Opt(IDL.Nat),
    expires_at: IDL.Opt(Nat64),
    fee: IDL.Opt(IDL.Nat),
    memo: IDL.Opt(Bytes),
    created_at_time: IDL.Opt(Nat64)
  })
);

export type ApproveError = CoreApproveError;
export const ApproveError = typed<ApproveError>(
  IDL.Variant({
    BadFee: IDL.Record({ expected_fee: IDL.Nat }),
    InsufficientFunds: IDL.Record({ balance: IDL.Nat }),
    AllowanceChanged: IDL.Record({ current_allowance: IDL.Nat }),
    Expired: IDL.Record({ ledger_time: Nat64 }),
    TooOld: IDL.Null,
    CreatedInFuture: IDL.Record({ ledger_time: Nat64 }),
    Duplicate: IDL.Record({ duplicate_of: IDL.Nat }),
    TemporarilyUnavailable: IDL.Null,
    GenericError
  })
);
export type ApproveResult = { Ok: bigint } | { Err: ApproveError };
export const ApproveResult = typed<ApproveResult>(IDL.Variant({ Ok: IDL.Nat, Err: ApproveError }));

export interface TransferFromArgs {
  spender_subaccount: Opt<Subaccount>;
  from: Account;
  to: Account;
  amount: bigint;
  fee: Opt<bigint>;
  memo: Opt<Blob>;
  created_at_time: Opt<bigint>;
}
export const TransferFromArgs = typed<TransferFromArgs>(
  IDL.Record({
    spender_subaccount: IDL.Opt(Subaccount),
    from: Account,
    to: Account,
    amount: IDL.Nat,
    fee: IDL.Opt(IDL.Nat),
    memo: IDL.Opt(Bytes),
    created_at_time: IDL.Opt(Nat64)
  })
);

export type TransferFromError = CoreTransferFromError;
export const TransferFromError = typed<TransferFromError>(
  IDL.Variant({
    BadFee: IDL.Record({ expected_fee: IDL.Nat }),
    BadBurn: IDL.Record({ min_burn_amount: IDL.Nat }),
    InsufficientFunds: IDL.Record({ balance: IDL.Nat }),
    InsufficientAllowance: IDL.Record({ allowance: IDL.Nat }),
    TooOld: IDL.Null,
    CreatedInFuture: IDL.Record({ ledger_time: Nat64 }),
    Duplicate: IDL.Record({ duplicate_of: IDL.Nat }),
    TemporarilyUnavailable: IDL.Null,
    GenericError
  })
);
export type TransferFromResult = { Ok: bigint } | { Err: TransferFromError };
export const TransferFromResult = typed<TransferFromResult>(IDL.Variant({ Ok: IDL.Nat, Err: TransferFromError }));

export interface AllowanceArgs {
  account: Account;
  spender: Account;
}
export const AllowanceArgs = typed<AllowanceArgs>(IDL.Record({ account: Account, spender: Account }));

export interface Allowance {
  allowance: bigint;
  expires_at: Opt<bigint>;
}
export const Allowance = typed<Allowance>(IDL.Record({ allowance: IDL.Nat, expires_at: IDL.Opt(Nat64) }));

export interface Standard {
  name: string;
  url: string;
}
export const Standard = typed<Standard>(IDL.Record({ name: IDL.Text, url: IDL.Text }));
export const StandardList = typed<Standard[]>(IDL.Vec(Standard));

/** ICRC-3's generic value (only replied, so its blobs are as decoded). */
export type Value =
  { Blob: Uint8Array } | { Text: string } | { Nat: bigint } | { Int: bigint } | { Array: Value[] } | { Map: Array<[string, Value]> };
const ValueRec = IDL.Rec();
ValueRec.fill(
  IDL.Variant({
    Blob: Bytes,
    Text: IDL.Text,
    Nat: IDL.Nat,
    Int: IDL.Int,
    Array: IDL.Vec(ValueRec),
    Map: IDL.Vec(IDL.Tuple(IDL.Text, ValueRec))
  })
);
export const Value = typed<Value>(ValueRec);

export interface GetArchivesArgs {
  from: Opt<Principal>;
}
export const GetArchivesArgs = typed<GetArchivesArgs>(IDL.Record({ from: IDL.Opt(IDL.Principal) }));

export interface ArchiveInfo {
  canister_id: Principal;
  start: bigint;
  end: bigint;
}
export const ArchiveInfo = typed<ArchiveInfo>(IDL.Record({ canister_id: IDL.Principal, start: IDL.Nat, end: IDL.Nat }));
export const GetArchivesResult = typed<ArchiveInfo[]>(IDL.Vec(ArchiveInfo));

export interface BlockRange {
  start: bigint;
  length: bigint;
}
export const BlockRange = typed<BlockRange>(IDL.Record({ start: IDL.Nat, length: IDL.Nat }));
export type GetBlocksArgs = BlockRange[];
export const GetBlocksArgs = typed<GetBlocksArgs>(IDL.Vec(BlockRange));

export interface BlockWithId {
  id: bigint;
  block: Value;
}
export const BlockWithId = typed<BlockWithId>(IDL.Record({ id: IDL.Nat, block: Value }));

export interface GetBlocksResult {
  log_length: bigint;
  blocks: BlockWithId[];
  /** Always empty here: every block stays in the ledger. `callback` is a query method reference. */
  archived_blocks: Array<{ args: GetBlocksArgs; callback: [Principal, string] }>;
}
const GetBlocksRec = IDL.Rec();
export const GetBlocksResult = typed<GetBlocksResult>(GetBlocksRec);
export const ArchivedBlocks = IDL.Record({ args: GetBlocksArgs, callback: IDL.Func([GetBlocksArgs], [GetBlocksResult], ['query']) });
GetBlocksRec.fill(IDL.Record({ log_length: IDL.Nat, blocks: IDL.Vec(BlockWithId), archived_blocks: IDL.Vec(ArchivedBlocks) }));

export interface DataCertificate {
  certificate: Uint8Array;
  hash_tree: Uint8Array;
}
export const DataCertificate = typed<DataCertificate>(IDL.Record({ certificate: IDL.Vec(IDL.Nat8), hash_tree: IDL.Vec(IDL.Nat8) }));

export interface BlockType {
  block_type: string;
  url: string;
}
export const BlockType = typed<BlockType>(IDL.Record({ block_type: IDL.Text, url: IDL.Text }));
export const BlockTypeList = typed<BlockType[]>(IDL.Vec(BlockType));
