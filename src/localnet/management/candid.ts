import { IDL } from '@dfinity/candid';

/**
 * Decodes one Candid value. IDL.decode checks the bytes against `type` (a mismatch throws), so the result has the
 * shape `T` describes; this is the one place that states that to the type checker.
 */
export function decodeOne<T>(type: IDL.Type, bytes: Uint8Array): T {
  const values = IDL.decode([type], bytes);
  return values[0] as T;
}

export function encodeOne(type: IDL.Type, value: unknown): Uint8Array {
  return new Uint8Array(IDL.encode([type], [value]));
}
