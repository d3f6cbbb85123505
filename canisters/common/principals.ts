import { Principal } from 'azle';

/**
 * Principal ↔ text, remembered. @dfinity/principal computes both directions in JavaScript (base32 and a CRC32 over the
 * bytes, and fromText encodes again to compare), ~1.3M instructions per toText and ~2M per fromText under QuickJS: a
 * claim paid for three of them. The same few principals (callers, runners, requesters) come back in message after
 * message, and update calls keep the heap, so each is converted once. Bounded: cleared when full.
 */
const MAX_ENTRIES = 4096;
const byText = new Map<string, Principal>();
const byBytes = new Map<string, string>();

/** The principal's bytes as a string key (one native call, no per-byte loop). */
const keyOf = (principal: Principal): string => String.fromCharCode.apply(null, principal.toUint8Array() as unknown as number[]);

function remember(text: string, principal: Principal, key: string): void {
  if (byText.size >= MAX_ENTRIES || byBytes.size >= MAX_ENTRIES) {
    byText.clear();
    byBytes.clear();
  }
  byText.set(text, principal);
  byBytes.set(key, text);
}

/** `principal.toText()`, remembered. */
export function principalText(principal: Principal): string {
  const key = keyOf(principal);
  const known = byBytes.get(key);
  if (known !== undefined) return known;
  const text = principal.toText();
  remember(text, principal, key);
  return text;
}

/** `Principal.fromText(text)` (checksum checked, throws on a malformed text), remembered. */
export function principalOf(text: string): Principal {
  const known = byText.get(text);
  if (known !== undefined) return known;
  const principal = Principal.fromText(text);
  remember(text, principal, keyOf(principal));
  return principal;
}
