/** The ICRC-1/2/3 ledger's domain logic: pure functions of (store, caller, now, args), shared by the canister and tests. */
export { ANONYMOUS_OWNER, accountKey, accountProblem, sameAccount } from './account.js';
export {
  allowanceKey,
  allowanceOf,
  approve,
  balanceOf,
  dedupKey,
  mintInitial,
  transfer,
  transferFrom,
  type ApproveArgs,
  type TransferArgs,
  type TransferFromArgs
} from './ledger.js';
export { makeLedgerConfig, metadataEntries, upgradeLedgerConfig, type LedgerInit, type LedgerUpgrade } from './config.js';
export { certifyPending, getBlocks, type BlockRange } from './blocks.js';
export { tipTree, treeRoot, type HashTree } from './certification.js';
export { accountValue, blockHash, blockValue, digest, hashBlock, hashValue, leb128, sleb128, txValue, type Value } from './value.js';
export { memoryLedgerStore, type BlockLog, type DedupIndex, type LedgerStore } from './store.js';
export * from './limits.js';
export * from './types.js';
