import { IDL } from '@dfinity/candid';

import type { Response } from '../execution/context.js';

/**
 * Decoded values per argument buffer and type. One management call's argument is decoded by several steps (its
 * target for inspection, for routing and for the method, then its fields), and @dfinity/candid copies the rest of
 * the buffer at every LEB128 read of the type table: each decode of a 3.5 MiB install_code argument took ~100 ms.
 * Callers treat decoded values as read-only.
 */
const decodedValues = new WeakMap<Uint8Array, Map<IDL.Type, unknown>>();

/**
 * Decodes one Candid value. IDL.decode checks the bytes against `type` (a mismatch throws), so the result has the
 * shape `T` describes; this is the one place that states that to the type checker.
 */
export function decodeOne<T>(type: IDL.Type, bytes: Uint8Array): T {
  let byType = decodedValues.get(bytes);
  if (byType === undefined) {
    byType = new Map();
    decodedValues.set(bytes, byType);
  }
  if (!byType.has(type)) byType.set(type, IDL.decode([type], bytes)[0]);
  return byType.get(type) as T;
}

export function encodeOne(type: IDL.Type, value: unknown): Uint8Array {
  return new Uint8Array(IDL.encode([type], [value]));
}

/** A reply carrying one Candid value (or none). */
export function reply(type: IDL.Type | null, value?: unknown): Response {
  const bytes = type === null ? IDL.encode([], []) : IDL.encode([type], [value]);
  return { kind: 'reply', bytes: new Uint8Array(bytes) };
}
