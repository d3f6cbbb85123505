import { err, type Result } from '../registry/errors.js';

/** A content digest as tasks name inputs and outputs. */
export const DIGEST = /^sha256:[0-9a-f]{64}$/;

export const bad = <T>(field: string, reason: string): Result<T> => err({ InvalidArgument: { field, reason } });

/**
 * Whether `text` takes more than `maxBytes` bytes in UTF-8. Text of at most `maxBytes / 3` UTF-16 units cannot (3
 * bytes per unit at most), and only longer text is encoded, by the platform's TextEncoder: in a canister a JavaScript
 * loop over the characters costs ~5,000 instructions each (1.1B for a 256 KiB input), the canisters' encoder tens.
 */
export const utf8LongerThan = (text: string, maxBytes: number): boolean =>
  text.length > maxBytes || (text.length * 3 > maxBytes && new TextEncoder().encode(text).length > maxBytes);

/**
 * UTF-8 size of `text`, by the platform's TextEncoder (in a canister tens of instructions a character, where a
 * JavaScript loop costs ~5,000): callers bound `text.length` first.
 */
export const byteLength = (text: string): number => (text.length === 0 ? 0 : new TextEncoder().encode(text).length);
