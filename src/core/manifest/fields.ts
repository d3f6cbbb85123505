/**
 * Field schemas shared by the manifest kinds. Pure: no Node APIs and no `new URL`, because the same
 * schemas run inside the registry canister.
 */
import { z } from 'zod';
import { MODEL_ID_MAX_LENGTH, MODEL_NAME_MAX_LENGTH, MODEL_ORG_MAX_LENGTH, PRICE_MAX, PRICE_MAX_DIGITS } from './limits.ts';
import { show } from './issues.ts';

/** `error:` for a formatted string: `expected <what>, got "<found>"`. */
function expected(what: string) {
  return (issue: { input?: unknown; code?: string }) =>
    issue.code === 'invalid_format' ? `expected ${what}, got ${show(issue.input)}` : undefined;
}

const SURROGATE_PAIR = /[\uD800-\uDBFF][\uDC00-\uDFFF]/g;

/**
 * Whether `value` has at most `limit` code points (an emoji is one, as zod counted). Only a string between `limit` and
 * twice `limit` UTF-16 units is scanned for surrogate pairs (a pair is two units): shorter fits, longer cannot.
 */
function codePointsAtMost(value: string, limit: number): boolean {
  if (value.length <= limit) return true;
  if (value.length > 2 * limit) return false;
  return value.length - (value.match(SURROGATE_PAIR)?.length ?? 0) <= limit;
}

/**
 * String lengths are checked here, not with zod's `.min`/`.max`: those count code points with a regular expression over
 * the whole string (~800 instructions a character in a canister), and a regular expression costs that much again, so a
 * 30 KB string in a 32-character field would cost ~50M instructions to refuse (issue 15). Lengths count code points, as
 * limits.ts says. `abort` ends the field's checks: its patterns never run on a string that long.
 */
function longest(maxLength: number, abortPast: number) {
  return [
    (value: string) => codePointsAtMost(value, abortPast),
    {
      abort: true,
      error: (issue: { input?: unknown }) =>
        `expected at most ${maxLength} characters, got ${typeof issue.input === 'string' ? issue.input.length : 'more'}`
    }
  ] as const;
}

/** A non-empty string of at most `maxLength` code points; empty or longer ends its checks. */
function bounded(maxLength: number) {
  return z
    .string()
    .refine((value) => value.length > 0, { abort: true, error: 'expected a non-empty string, got ""' })
    .refine(...longest(maxLength, maxLength));
}

/** Characters over its length a formatted string may be and still be checked against its pattern. */
const SLIGHTLY_OVER = 16;

/**
 * A string of at most `maxLength` characters matching `pattern`, described as `what` in messages.
 * Patterns must be unambiguous (linear time): they run inside the canister on untrusted input. A string just over the
 * length still gets its pattern's message, which says more than a count; one further over only the count.
 */
export function formatted(pattern: RegExp, what: string, maxLength: number) {
  return z
    .string()
    .refine(...longest(maxLength, maxLength + SLIGHTLY_OVER))
    .regex(pattern, { error: expected(what) })
    .refine(...longest(maxLength, maxLength));
}

const CONTROL_CHARACTERS = /^[^\u0000-\u001f\u007f]*$/;
/**
 * What a reader cannot see or that reorders what they see: C1 controls, format characters (\p{Cf}: bidi overrides and
 * isolates U+202A–U+202E and U+2066–U+2069, zero-width U+200B–U+200D, U+FEFF, soft hyphen…), line and paragraph
 * separators. `1.0\u202e1.0` must not display as a version it is not.
 */
const INVISIBLE_CHARACTERS = /^[^\u0080-\u009f\p{Cf}\p{Zl}\p{Zp}]*$/u;

/** Free text on one line: non-empty, bounded, no control, format (bidi, zero-width) or separator characters. */
export function text(maxLength: number) {
  return bounded(maxLength)
    .regex(CONTROL_CHARACTERS, { error: expected('text without control characters (tabs, newlines)') })
    .regex(INVISIBLE_CHARACTERS, {
      error: expected('text without invisible or direction-changing characters (zero-width, bidi controls such as U+202E)')
    });
}

/** A version label: `1.0.0`, `2.5`, `v1`, `b4567`, `0.10.1.dev12+g1a2b3c`: printable ASCII only, nothing to hide in. */
export function versionLabel(maxLength: number) {
  // Empty passes the pattern so that it is reported once, as empty.
  return bounded(maxLength).regex(/^(?:[A-Za-z0-9][A-Za-z0-9._+-]*)?$/, {
    error: expected('a version label (A-Z a-z 0-9 . _ + -, starting with a letter or digit)')
  });
}

/** Lowercase token such as `llama`, `qwen2`, `gpt-oss`. */
export function token(maxLength: number) {
  return bounded(maxLength).regex(/^[a-z0-9][a-z0-9._-]*$/, {
    error: expected('a lowercase token (a-z, 0-9, ".", "_", "-", starting with a letter or digit)')
  });
}

export const SHA256_DIGEST = /^sha256:[0-9a-f]{64}$/;
const SHA256_DIGEST_LENGTH = 'sha256:'.length + 64;

/** Content address: `sha256:` and 64 lowercase hex digits. */
export const DigestSchema = formatted(SHA256_DIGEST, 'a digest "sha256:" followed by 64 lowercase hex digits', SHA256_DIGEST_LENGTH);

const MODEL_ID = new RegExp(
  `^[A-Za-z0-9][A-Za-z0-9._-]{0,${MODEL_ORG_MAX_LENGTH - 1}}/[A-Za-z0-9][A-Za-z0-9._-]{0,${MODEL_NAME_MAX_LENGTH - 1}}$`
);

/** `org/name`, as on Hugging Face: `meta-llama/Llama-3.1-8B-Instruct`. */
export const ModelIdSchema = formatted(
  MODEL_ID,
  `a model id "org/name" (org ≤ ${MODEL_ORG_MAX_LENGTH} and name ≤ ${MODEL_NAME_MAX_LENGTH} of A-Z a-z 0-9 . _ -, each starting with a letter or digit)`,
  MODEL_ID_MAX_LENGTH
);

/** Integer in [min, max] (within the safe-integer range). */
export function intRange(min: number, max: number) {
  return z
    .int()
    .min(min, { error: (issue) => `expected an integer ≥ ${min}, got ${show(issue.input)}` })
    .max(max, { error: (issue) => `expected an integer ≤ ${max}, got ${show(issue.input)}` });
}

/** Set of enum values: a list without duplicates; a duplicate is reported at its own index. */
export function uniqueList<T extends string>(item: z.ZodType<T>, min: number, max: number) {
  return z
    .array(item)
    .min(min)
    .max(max)
    .superRefine((values, ctx) => {
      values.forEach((value, index) => {
        const first = values.indexOf(value);
        if (first !== index) {
          ctx.addIssue({
            code: 'custom',
            path: [index],
            input: value,
            message: `duplicate ${show(value)} (already listed at index ${first})`
          });
        }
      });
    });
}

const DECIMAL = /^[0-9]+$/;

/**
 * Ledger amount: a non-negative integer given as a JSON/YAML number (safe integer), a decimal string
 * (for amounts above 2^53) or a bigint; the parsed value is always a bigint.
 */
export const AmountSchema = z
  .union([z.number(), z.string(), z.bigint()], {
    error: (issue) =>
      issue.code === 'invalid_union' ? `expected a non-negative integer (number or decimal string), got ${show(issue.input)}` : undefined
  })
  .transform((value, ctx): bigint => {
    const amount = toAmount(value);
    if (typeof amount === 'string') {
      ctx.addIssue({ code: 'custom', input: value, message: amount });
      return z.NEVER;
    }
    return amount;
  });

/** The amount, or why it is not one. */
function toAmount(value: number | string | bigint): bigint | string {
  const what = 'a non-negative integer';
  let amount: bigint;
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) return `expected ${what}, got ${show(value)}`;
    if (!Number.isSafeInteger(value)) {
      return `expected ${what} ≤ ${Number.MAX_SAFE_INTEGER} as a number (write larger amounts as a decimal string), got ${show(value)}`;
    }
    amount = BigInt(value);
  } else if (typeof value === 'string') {
    if (value.length > PRICE_MAX_DIGITS || !DECIMAL.test(value)) {
      return `expected ${what} as a decimal string of at most ${PRICE_MAX_DIGITS} digits, got ${show(value)}`;
    }
    amount = BigInt(value);
  } else {
    amount = value;
  }
  if (amount < 0n) return `expected ${what}, got ${show(value)}`;
  if (amount > PRICE_MAX) return `expected an integer ≤ ${PRICE_MAX}, got ${show(value)}`;
  return amount;
}
