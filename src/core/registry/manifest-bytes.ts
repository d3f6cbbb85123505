import { parseJson } from '../json.js';
import { err, ok, type Result } from './errors.js';
import { MAX_MANIFEST_BRACKETS, MAX_MANIFEST_BYTES, MAX_MANIFEST_SEPARATORS } from './limits.js';

const OPEN_BRACKET = 0x5b;
const OPEN_BRACE = 0x7b;
const COMMA = 0x2c;

/** Whether `bytes` hold at most `limit` of the byte values `codes`, by native indexOf (a few instructions a byte): stops past it. */
function atMostBytesOf(bytes: Uint8Array, codes: readonly number[], limit: number): boolean {
  let count = 0;
  for (const code of codes) for (let at = bytes.indexOf(code); at >= 0; at = bytes.indexOf(code, at + 1)) if (++count > limit) return false;
  return true;
}

/**
 * A runner manifest's JSON as it arrives (UTF-8 bytes, a view of the message), bounded before anything reads it
 * (issue 15): its size from the bytes (no re-encoding), then brackets and commas, counted in strings too (this
 * over-counts, never under-counts) by native indexOf, ~20 instructions a byte in all, where decoding costs ~400 and
 * parsing ~120. Within MAX_MANIFEST_BRACKETS it cannot nest deeper, so it is parsed without a depth scan (a JavaScript
 * loop, ~5,000 instructions a character); within MAX_MANIFEST_SEPARATORS it holds few fields and entries, so validating
 * and reporting it is cheap too. `decode` turns UTF-8 into text, undefined when the bytes are not UTF-8.
 */
export function parseManifestBytes(bytes: Uint8Array, decode: (bytes: Uint8Array) => string | undefined): Result<unknown> {
  if (bytes.length > MAX_MANIFEST_BYTES) return err({ LimitExceeded: { what: 'manifest bytes', limit: BigInt(MAX_MANIFEST_BYTES) } });
  if (!atMostBytesOf(bytes, [OPEN_BRACKET, OPEN_BRACE], MAX_MANIFEST_BRACKETS))
    return err({ LimitExceeded: { what: 'manifest brackets ([ and {)', limit: BigInt(MAX_MANIFEST_BRACKETS) } });
  if (!atMostBytesOf(bytes, [COMMA], MAX_MANIFEST_SEPARATORS))
    return err({ LimitExceeded: { what: 'manifest commas (fields and list entries)', limit: BigInt(MAX_MANIFEST_SEPARATORS) } });
  const text = decode(bytes);
  if (text === undefined) return err({ InvalidManifest: { issues: [{ path: '', message: 'not valid UTF-8' }] } });
  try {
    return ok(parseJson(text));
  } catch (error) {
    return err({ InvalidManifest: { issues: [{ path: '', message: `not valid JSON: ${String(error)}` }] } });
  }
}
