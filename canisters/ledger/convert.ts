import { Principal } from 'azle';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils';

import type { Account, MetadataValue, StoredMetadataValue } from '../../src/core/ledger/index.js';
import type { Opt } from '../../src/interface/candid.js';
import type { Account as AccountArg, MetadataValue as MetadataValueArg } from '../../src/interface/ledger/index.js';

/** Translations between Candid values and the core's hex/bigint types. */
export const hexOf = (bytes: Uint8Array | number[]): string => bytesToHex(bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes));
export const optHex = (value: Opt<Uint8Array | number[]>): string | undefined => (value[0] === undefined ? undefined : hexOf(value[0]));

export function accountIn(account: AccountArg): Account {
  const owner = hexOf(account.owner.toUint8Array());
  const subaccount = optHex(account.subaccount);
  return subaccount === undefined ? { owner } : { owner, subaccount };
}

export function accountOut(account: Account): { owner: Principal; subaccount: Opt<Uint8Array> } {
  return {
    owner: Principal.fromUint8Array(hexToBytes(account.owner)),
    subaccount: account.subaccount === undefined ? [] : [hexToBytes(account.subaccount)]
  };
}

export function metadataIn(value: MetadataValueArg): StoredMetadataValue {
  return 'Blob' in value ? { Blob: hexOf(value.Blob) } : value;
}

export function metadataOut(value: StoredMetadataValue): MetadataValue {
  return 'Blob' in value ? { Blob: hexToBytes(value.Blob) } : value;
}
