/** The reward ledger's ICRC-3 blocks as the SDK shows them (ICRC-1/2 block schema: btype, ts, tx.{from,to,spender,amt,fee,memo}). */
import { Principal } from '@dfinity/principal';

import type { BlockWithId, GetBlocksResult, Value as Icrc3Value } from '../interface/ledger/index.js';
import type { LedgerBlock, LedgerLog } from './types.js';

const field = (value: Icrc3Value | undefined, name: string): Icrc3Value | undefined =>
  value !== undefined && 'Map' in value ? value.Map.find(([key]) => key === name)?.[1] : undefined;
const natOf = (value: Icrc3Value | undefined): bigint | undefined =>
  value !== undefined && 'Nat' in value ? value.Nat : value !== undefined && 'Int' in value ? value.Int : undefined;
const textOf = (value: Icrc3Value | undefined): string | undefined => (value !== undefined && 'Text' in value ? value.Text : undefined);
const hex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

/** An account is `[principal blob, subaccount blob?]`; a zero subaccount is the default one and is not shown. */
function accountText(value: Icrc3Value | undefined): string | undefined {
  if (value === undefined || !('Array' in value)) return undefined;
  const [owner, sub] = value.Array;
  if (owner === undefined || !('Blob' in owner)) return undefined;
  const principal = Principal.fromUint8Array(Uint8Array.from(owner.Blob)).toText();
  if (sub === undefined || !('Blob' in sub) || sub.Blob.every((b) => b === 0)) return principal;
  return `${principal}.${hex(Uint8Array.from(sub.Blob))}`;
}

function memoText(value: Icrc3Value | undefined): string | undefined {
  if (value === undefined || !('Blob' in value)) return undefined;
  const bytes = Uint8Array.from(value.Blob);
  const decoded = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  return /^[\x20-\x7e]*$/.test(decoded) ? decoded : hex(bytes);
}

const BLOCK_KINDS: Record<string, string> = {
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

export function toLedgerBlock({ id, block }: BlockWithId): LedgerBlock {
  const tx = field(block, 'tx');
  const btype = textOf(field(block, 'btype')) ?? textOf(field(tx, 'op')) ?? 'unknown';
  return {
    id,
    kind: BLOCK_KINDS[btype] ?? btype,
    ...optional('atNs', natOf(field(block, 'ts'))),
    ...optional('from', accountText(field(tx, 'from'))),
    ...optional('to', accountText(field(tx, 'to')) ?? accountText(field(tx, 'spender'))),
    ...optional('amountE8s', natOf(field(tx, 'amt'))),
    ...optional('feeE8s', natOf(field(tx, 'fee')) ?? natOf(field(block, 'fee'))),
    ...optional('memo', memoText(field(tx, 'memo')))
  };
}

export function toLedgerLog(result: GetBlocksResult): LedgerLog {
  return { length: result.log_length, blocks: result.blocks.map(toLedgerBlock) };
}

/** `{ key: value }`, or nothing when the value is absent (exactOptionalPropertyTypes-safe). */
export function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
