import { Principal } from '@dfinity/principal';

import { hex } from './format.js';
import type { Icrc3Value } from './types.js';

/** One ICRC-3 block as the explorer shows it (ICRC-1/2 block schema: btype, ts, tx.{from,to,spender,amt,fee,memo}). */
export interface BlockRow {
  id: bigint;
  kind: string;
  atNs: bigint | undefined;
  from: string | undefined;
  to: string | undefined;
  amount: bigint | undefined;
  fee: bigint | undefined;
  memo: string | undefined;
}

const field = (value: Icrc3Value | undefined, name: string): Icrc3Value | undefined =>
  value !== undefined && 'Map' in value ? value.Map.find(([key]) => key === name)?.[1] : undefined;
const nat = (value: Icrc3Value | undefined): bigint | undefined =>
  value !== undefined && 'Nat' in value ? value.Nat : value !== undefined && 'Int' in value ? value.Int : undefined;
const text = (value: Icrc3Value | undefined): string | undefined => (value !== undefined && 'Text' in value ? value.Text : undefined);

/** An account is `[principal blob, subaccount blob?]`; a zero subaccount is the default one and is not shown. */
function account(value: Icrc3Value | undefined): string | undefined {
  if (value === undefined || !('Array' in value)) return undefined;
  const [owner, sub] = value.Array;
  if (owner === undefined || !('Blob' in owner)) return undefined;
  const principal = Principal.fromUint8Array(Uint8Array.from(owner.Blob)).toText();
  if (sub === undefined || !('Blob' in sub) || Array.from(sub.Blob).every((b) => b === 0)) return principal;
  return `${principal}.${hex(sub.Blob)}`;
}

function memo(value: Icrc3Value | undefined): string | undefined {
  if (value === undefined || !('Blob' in value)) return undefined;
  const bytes = Uint8Array.from(value.Blob);
  const decoded = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  return /^[\x20-\x7e]*$/.test(decoded) ? decoded : hex(bytes);
}

const KINDS: Record<string, string> = {
  '1xfer': 'transfer',
  '1mint': 'mint',
  '1burn': 'burn',
  '2approve': 'approve',
  '2xfer': 'transfer_from',
  xfer: 'transfer',
  mint: 'mint',
  burn: 'burn',
  approve: 'approve'
};

export function blockRow(id: bigint, block: Icrc3Value): BlockRow {
  const tx = field(block, 'tx');
  const btype = text(field(block, 'btype')) ?? text(field(tx, 'op')) ?? 'unknown';
  return {
    id,
    kind: KINDS[btype] ?? btype,
    atNs: nat(field(block, 'ts')),
    from: account(field(tx, 'from')),
    to: account(field(tx, 'to')) ?? account(field(tx, 'spender')),
    amount: nat(field(tx, 'amt')),
    fee: nat(field(tx, 'fee')) ?? nat(field(block, 'fee')),
    memo: memo(field(tx, 'memo'))
  };
}
