import { CodedError } from './errors/coded-error.js';

/**
 * JSON that keeps bigints exact ({"$bigint":"123"}), for stable storage in canisters and for state files.
 * Pure: runs in the canister (QuickJS) and in Node.
 */
export function stringifyJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? { $bigint: v.toString() } : v));
}

/** Text nested deeper than `maxDepth` arrays and objects: refused before any recursive parsing starts. */
export class JsonTooDeepError extends CodedError<'JsonTooDeep', { maxDepth: number }> {
  constructor(readonly maxDepth: number) {
    super('JsonTooDeep', `nested deeper than ${maxDepth} levels`, { details: { maxDepth } });
    this.name = 'JsonTooDeepError';
  }
}

/**
 * Parses JSON written by {@link stringifyJson}. With `maxDepth` (for untrusted text: a canister's stack would
 * overflow on a few thousand levels, and a trap is no answer), a linear scan first counts brackets outside strings
 * and throws {@link JsonTooDeepError} past it; otherwise `SyntaxError` as `JSON.parse`.
 */
export function parseJson(text: string, options: { maxDepth?: number } = {}): unknown {
  if (options.maxDepth !== undefined && !atMostOpenings(text, options.maxDepth)) checkDepth(text, options.maxDepth);
  // Without a bigint in it the reviver would change nothing, and it is a JavaScript call per value (in a canister, a
  // runner manifest of 4,000 keys spent ~40M instructions in it): indexOf runs natively.
  if (text.indexOf('"$bigint"') < 0) return JSON.parse(text) as unknown;
  return JSON.parse(text, (_key, v: unknown) => {
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      const keys = Object.keys(v);
      if (keys.length === 1 && keys[0] === '$bigint') {
        const digits = (v as { $bigint: unknown }).$bigint;
        if (typeof digits === 'string' && /^-?\d+$/.test(digits)) return BigInt(digits);
      }
    }
    return v;
  });
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACKET = 0x5d;
const CLOSE_BRACE = 0x7d;

/**
 * Whether `text` holds at most `limit` opening brackets (in strings or not): then it cannot nest deeper, and the scan
 * below, a JavaScript loop per character (~5,000 instructions each in a canister, 310M for 62 KB), is not needed.
 * indexOf runs natively and stops at the limit.
 */
function atMostOpenings(text: string, limit: number): boolean {
  let count = 0;
  for (const bracket of ['[', '{']) {
    for (let at = text.indexOf(bracket); at >= 0; at = text.indexOf(bracket, at + 1)) if (++count > limit) return false;
  }
  return true;
}

/** Throws when arrays and objects nest deeper than `maxDepth`; malformed text is left to JSON.parse. */
function checkDepth(text: string, maxDepth: number): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      if (++depth > maxDepth) throw new JsonTooDeepError(maxDepth);
    } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) depth--;
  }
}
