import { utf8LongerThan } from '../tasks/validate.js';
import { err, ok, type Result } from './errors.js';
import { MAX_CARD_BRACKETS, MAX_CARD_BYTES, MAX_CARD_SEPARATORS } from './limits.js';

/** Whether `text` holds at most `limit` of the characters `chars` (in strings or not), by native indexOf: stops past it. */
export function atMostOf(text: string, chars: readonly string[], limit: number): boolean {
  let count = 0;
  for (const c of chars) for (let at = text.indexOf(c); at >= 0; at = text.indexOf(c, at + 1)) if (++count > limit) return false;
  return true;
}

/**
 * A model card's JSON text, bounded before it is parsed (issue 15: anyone may publish, so an invalid card must cost
 * little). Counting brackets and commas everywhere (strings included) over-counts, never under-counts: a card within
 * MAX_CARD_BRACKETS cannot nest deeper, so it is parsed without a scan of its characters (a JavaScript loop costs
 * ~5,000 instructions a character in a canister), and one within MAX_CARD_SEPARATORS holds few fields and list entries,
 * so validating and reporting it is cheap too. A valid card at every field's limit stays well within each bound.
 * Pure: `JSON.parse` only (cards carry no bigints).
 */
export function parseCardText(text: string): Result<unknown> {
  if (utf8LongerThan(text, MAX_CARD_BYTES)) return err({ LimitExceeded: { what: 'model card bytes', limit: BigInt(MAX_CARD_BYTES) } });
  if (!atMostOf(text, ['[', '{'], MAX_CARD_BRACKETS))
    return err({ LimitExceeded: { what: 'model card brackets ([ and {)', limit: BigInt(MAX_CARD_BRACKETS) } });
  if (!atMostOf(text, [','], MAX_CARD_SEPARATORS))
    return err({ LimitExceeded: { what: 'model card commas (fields and list entries)', limit: BigInt(MAX_CARD_SEPARATORS) } });
  try {
    return ok(JSON.parse(text) as unknown);
  } catch (error) {
    return err({ InvalidManifest: { issues: [{ path: '', message: `not valid JSON: ${String(error)}` }] } });
  }
}
