import { utf8ToBytes } from '@noble/hashes/utils';

import { accountProblem, sameAccount } from './account.js';
import {
  DEFAULT_DECIMALS,
  DEFAULT_MAX_MEMO_LENGTH,
  DEFAULT_MAX_TRANSACTIONS_IN_WINDOW,
  MAX_INITIAL_BALANCES,
  MAX_MEMO_LENGTH_LIMIT,
  MAX_METADATA_ENTRIES,
  MAX_METADATA_KEY_LENGTH,
  MAX_METADATA_VALUE_BYTES,
  MAX_NAME_LENGTH,
  MAX_SYMBOL_LENGTH
} from './limits.js';
import type { Account, LedgerConfig, StoredMetadataValue } from './types.js';

export interface LedgerInit {
  name: string;
  symbol: string;
  decimals?: number;
  fee: bigint;
  mintingAccount: Account;
  initialBalances: Array<[Account, bigint]>;
  maxMemoLength?: number;
  metadata: Array<[string, StoredMetadataValue]>;
  maxTransactionsInWindow?: number;
}

export interface LedgerUpgrade {
  name?: string;
  symbol?: string;
  fee?: bigint;
  maxMemoLength?: number;
  metadata?: Array<[string, StoredMetadataValue]>;
  maxTransactionsInWindow?: number;
}

type Checked<T> = { Ok: T } | { Err: string };

function metadataProblem(metadata: Array<[string, StoredMetadataValue]>): string | undefined {
  if (metadata.length > MAX_METADATA_ENTRIES) return `at most ${MAX_METADATA_ENTRIES} metadata entries`;
  const seen = new Set<string>();
  for (const [key, value] of metadata) {
    if (key.length === 0 || key.length > MAX_METADATA_KEY_LENGTH)
      return `metadata key "${key.slice(0, 40)}" must have 1 to ${MAX_METADATA_KEY_LENGTH} characters`;
    if (seen.has(key)) return `metadata key "${key}" appears twice`;
    seen.add(key);
    const size = 'Text' in value ? utf8ToBytes(value.Text).length : 'Blob' in value ? value.Blob.length / 2 : 0;
    if (size > MAX_METADATA_VALUE_BYTES) return `metadata value of "${key}" is larger than ${MAX_METADATA_VALUE_BYTES} bytes`;
  }
  return undefined;
}

function configProblem(config: LedgerConfig): string | undefined {
  if (config.name.length === 0 || config.name.length > MAX_NAME_LENGTH) return `token_name must have 1 to ${MAX_NAME_LENGTH} characters`;
  if (config.symbol.length === 0 || config.symbol.length > MAX_SYMBOL_LENGTH)
    return `token_symbol must have 1 to ${MAX_SYMBOL_LENGTH} characters`;
  if (!Number.isInteger(config.decimals) || config.decimals < 0 || config.decimals > 255) return 'decimals must fit a nat8';
  if (config.fee < 0n) return 'transfer_fee must not be negative';
  const minting = accountProblem(config.mintingAccount);
  if (minting !== undefined) return `minting_account: ${minting}`;
  if (
    !Number.isInteger(config.maxMemoLength) ||
    config.maxMemoLength < DEFAULT_MAX_MEMO_LENGTH ||
    config.maxMemoLength > MAX_MEMO_LENGTH_LIMIT
  ) {
    return `max_memo_length must be between ${DEFAULT_MAX_MEMO_LENGTH} and ${MAX_MEMO_LENGTH_LIMIT}`;
  }
  if (!Number.isInteger(config.maxTransactionsInWindow) || config.maxTransactionsInWindow < 1)
    return 'max_transactions_in_window must be at least 1';
  return metadataProblem(config.metadata);
}

/** The configuration from an install argument, or why it is unacceptable. */
export function makeLedgerConfig(init: LedgerInit): Checked<LedgerConfig> {
  const config: LedgerConfig = {
    name: init.name,
    symbol: init.symbol,
    decimals: init.decimals ?? DEFAULT_DECIMALS,
    fee: init.fee,
    mintingAccount: init.mintingAccount,
    maxMemoLength: init.maxMemoLength ?? DEFAULT_MAX_MEMO_LENGTH,
    metadata: init.metadata,
    maxTransactionsInWindow: init.maxTransactionsInWindow ?? DEFAULT_MAX_TRANSACTIONS_IN_WINDOW
  };
  const problem = configProblem(config);
  if (problem !== undefined) return { Err: problem };
  if (init.initialBalances.length > MAX_INITIAL_BALANCES) return { Err: `at most ${MAX_INITIAL_BALANCES} initial balances` };
  for (const [account, amount] of init.initialBalances) {
    const bad = accountProblem(account);
    if (bad !== undefined) return { Err: `initial balance account: ${bad}` };
    if (amount < 0n) return { Err: 'initial balances must not be negative' };
    // The minting account's balance must read 0 (ICRC-1): tokens sent to it are burned.
    if (sameAccount(account, config.mintingAccount)) return { Err: 'the minting account cannot have an initial balance' };
  }
  return { Ok: config };
}

/** The configuration after an upgrade argument. The memo limit never shrinks: stored blocks must stay valid. */
export function upgradeLedgerConfig(current: LedgerConfig, upgrade: LedgerUpgrade): Checked<LedgerConfig> {
  if (upgrade.maxMemoLength !== undefined && upgrade.maxMemoLength < current.maxMemoLength) {
    return { Err: `max_memo_length cannot decrease (from ${current.maxMemoLength} to ${upgrade.maxMemoLength})` };
  }
  const next: LedgerConfig = {
    ...current,
    name: upgrade.name ?? current.name,
    symbol: upgrade.symbol ?? current.symbol,
    fee: upgrade.fee ?? current.fee,
    maxMemoLength: upgrade.maxMemoLength ?? current.maxMemoLength,
    metadata: upgrade.metadata ?? current.metadata,
    maxTransactionsInWindow: upgrade.maxTransactionsInWindow ?? current.maxTransactionsInWindow
  };
  const problem = configProblem(next);
  return problem === undefined ? { Ok: next } : { Err: problem };
}

/** `icrc1_metadata`: the standard keys, derived from the configuration, then the operator's other entries. */
export function metadataEntries(config: LedgerConfig): Array<[string, StoredMetadataValue]> {
  const standard: Array<[string, StoredMetadataValue]> = [
    ['icrc1:name', { Text: config.name }],
    ['icrc1:symbol', { Text: config.symbol }],
    ['icrc1:decimals', { Nat: BigInt(config.decimals) }],
    ['icrc1:fee', { Nat: config.fee }],
    ['icrc1:max_memo_length', { Nat: BigInt(config.maxMemoLength) }]
  ];
  const taken = new Set(standard.map(([key]) => key));
  return [...standard, ...config.metadata.filter(([key]) => !taken.has(key))];
}
