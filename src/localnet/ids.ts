import { Principal } from '@dfinity/principal';

/** The management canister `aaaaa-aa`. */
export const MANAGEMENT_CANISTER_ID = Principal.fromText('aaaaa-aa');
/** Mainnet ids the `icp` CLI contacts while creating canisters (ic-host-spec.md §7.3). */
export const CMC_CANISTER_ID = Principal.fromText('rkp4c-7iaaa-aaaaa-aaaca-cai');
export const CYCLES_LEDGER_CANISTER_ID = Principal.fromText('um5iw-rqaaa-aaaaq-qaaba-cai');

/** Opaque canister ids as the IC allocates them: u64 big-endian index followed by 0x01 0x01. */
export function canisterIdFromIndex(index: bigint): Principal {
  const bytes = new Uint8Array(10);
  new DataView(bytes.buffer).setBigUint64(0, index);
  bytes[8] = 1;
  bytes[9] = 1;
  return Principal.fromUint8Array(bytes);
}

/** The index of an opaque canister id, or undefined when the principal is not one. */
export function canisterIndexOf(id: Principal): bigint | undefined {
  const bytes = id.toUint8Array();
  if (bytes.length !== 10 || bytes[8] !== 1 || bytes[9] !== 1) return undefined;
  return new DataView(bytes.buffer, bytes.byteOffset, 10).getBigUint64(0);
}

/** First index handed out to new canisters; below it sit the NNS ids the `icp` CLI expects. */
export const FIRST_USER_CANISTER_INDEX = 0x100n;
/** The single canister range this subnet certifies: every id we allocate falls inside it. */
export const CANISTER_RANGE_START = canisterIdFromIndex(0n);
export const CANISTER_RANGE_END = canisterIdFromIndex(0x2ffffffn);

export function isInCanisterRange(id: Principal): boolean {
  const index = canisterIndexOf(id);
  return index !== undefined && index <= 0x2ffffffn;
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function fromHex(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, 'hex'));
}
