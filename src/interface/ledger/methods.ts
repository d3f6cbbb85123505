import { IDL } from '@dfinity/candid';

import { Nat, Nat8, query, Text, serviceOf, typed, update, type CandidInterface, type ServiceOf } from '../candid.js';
import {
  Account,
  Allowance,
  AllowanceArgs,
  ApproveArgs,
  ApproveError,
  ApproveResult,
  ArchivedBlocks,
  ArchiveInfo,
  BlockRange,
  BlockType,
  BlockTypeList,
  BlockWithId,
  DataCertificate,
  GenericError,
  GetArchivesArgs,
  GetArchivesResult,
  GetBlocksArgs,
  GetBlocksResult,
  InitArgs,
  LedgerArg,
  Metadata,
  MetadataValue,
  Standard,
  StandardList,
  Subaccount,
  TransferArgs,
  TransferError,
  TransferFromArgs,
  TransferFromError,
  TransferFromResult,
  TransferResult,
  UpgradeArgs,
  Value
} from './types.js';

/** One instance per reply type: the canister caches each reply type's encoded type table by identity. */
export const Replies = {
  optAccount: typed<[] | [Account]>(IDL.Opt(Account)),
  optCertificate: typed<[] | [DataCertificate]>(IDL.Opt(DataCertificate))
} as const;

/** Every ledger method, declared once: the canister's decorators and handlers, the actors and ledger.did read this. */
export const ledgerMethods = {
  icrc1_name: query([], Text),
  icrc1_symbol: query([], Text),
  icrc1_decimals: query([], Nat8),
  icrc1_fee: query([], Nat),
  icrc1_metadata: query([], Metadata),
  icrc1_total_supply: query([], Nat),
  icrc1_minting_account: query([], Replies.optAccount),
  icrc1_balance_of: query([Account], Nat),
  icrc1_supported_standards: query([], StandardList),
  icrc1_transfer: update([TransferArgs], TransferResult),
  icrc2_approve: update([ApproveArgs], ApproveResult),
  icrc2_transfer_from: update([TransferFromArgs], TransferFromResult),
  icrc2_allowance: query([AllowanceArgs], Allowance),
  icrc3_get_archives: query([GetArchivesArgs], GetArchivesResult),
  icrc3_get_blocks: query([GetBlocksArgs], GetBlocksResult),
  icrc3_get_tip_certificate: query([], Replies.optCertificate),
  icrc3_supported_block_types: query([], BlockTypeList),
  icrc10_supported_standards: query([], StandardList)
};

/** The ledger actor's type (`ActorSubclass<LedgerService>` in src/ic). */
export type LedgerService = ServiceOf<typeof ledgerMethods>;

/** The service for off-chain actors. */
export const ledgerIdlFactory: IDL.InterfaceFactory = () => serviceOf(ledgerMethods);

/** The named types of ledger.did, in the order it lists them. */
export const ledgerInterface = (): CandidInterface => ({
  service: serviceOf(ledgerMethods),
  init: [LedgerArg],
  types: {
    LedgerArg,
    InitArgs,
    UpgradeArgs,
    Subaccount,
    Account,
    MetadataValue,
    Metadata,
    GenericError,
    TransferArgs,
    TransferError,
    TransferResult,
    ApproveArgs,
    ApproveError,
    ApproveResult,
    TransferFromArgs,
    TransferFromError,
    TransferFromResult,
    AllowanceArgs,
    Allowance,
    Standard,
    Value,
    GetArchivesArgs,
    ArchiveInfo,
    BlockRange,
    GetBlocksArgs,
    BlockWithId,
    ArchivedBlocks,
    GetBlocksResult,
    DataCertificate,
    BlockType
  }
});

/** The install argument `deai deploy` and tests give the ledger. */
export const ledgerInitArg = (init: InitArgs): Uint8Array => new Uint8Array(IDL.encode([LedgerArg], [{ Init: init }]));
export const ledgerUpgradeArg = (upgrade?: UpgradeArgs): Uint8Array =>
  new Uint8Array(IDL.encode([LedgerArg], [{ Upgrade: upgrade === undefined ? [] : [upgrade] }]));
