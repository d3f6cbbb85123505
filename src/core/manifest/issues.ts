import type { z } from 'zod';

/** One thing wrong with a manifest, where it is and what was expected versus found. */
export type ManifestIssue = {
  /** Dotted path from the manifest root, e.g. `hardware.accelerators[0].class`; `''` is the root. */
  path: string;
  /** What was expected and what was found, e.g. `expected one of gpu | npu | analog | cpu, got "tpu"`. */
  message: string;
  /** 1-based position in the source text, when the manifest came from text. */
  line?: number;
  column?: number;
  /** 0-based index of the document in a multi-document YAML stream. */
  document?: number;
};

type PathKey = PropertyKey;

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `['hardware', 'accelerators', 0, 'class']` → `hardware.accelerators[0].class`. */
export function formatPath(path: readonly PathKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && IDENTIFIER.test(key)) out += out === '' ? key : `.${key}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

/** Inverse of {@link formatPath}: `hardware.accelerators[0].class` → `['hardware', 'accelerators', 0, 'class']`. */
export function parsePath(path: string): Array<string | number> {
  const out: Array<string | number> = [];
  const re = /([A-Za-z_$][A-Za-z0-9_$]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/g;
  for (const match of path.matchAll(re)) {
    if (match[1] !== undefined) out.push(match[1]);
    else if (match[2] !== undefined) out.push(Number(match[2]));
    else if (match[3] !== undefined) out.push(String(JSON.parse(match[3])));
  }
  return out;
}

/** One issue as a line: `[document 2 ]line 12:7 hardware.cpu.cores: expected …`. */
export function formatIssue(issue: ManifestIssue): string {
  const where: string[] = [];
  if (issue.document !== undefined) where.push(`document ${issue.document + 1}`);
  if (issue.line !== undefined) where.push(`line ${issue.line}:${issue.column ?? 1}`);
  if (issue.path !== '') where.push(issue.path);
  return where.length === 0 ? issue.message : `${where.join(' ')}: ${issue.message}`;
}

const MAX_SHOWN_CHARS = 48;

/** A found value as a human reads it: `"tpu"`, `1.5`, `true`, `a list of 3 entries`. */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') {
    if (value.length <= MAX_SHOWN_CHARS) return quote(value);
    return `${quote(value.slice(0, MAX_SHOWN_CHARS))}… (${value.length} characters)`;
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value)) return `a list of ${value.length} ${value.length === 1 ? 'entry' : 'entries'}`;
  return 'an object';
}

/** JSON-quoted, with invisible and direction-changing characters escaped so the message shows them (`"1\\u202e0"`). */
function quote(text: string): string {
  return JSON.stringify(text).replace(/[\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}]/gu, (c) => {
    const code = c.codePointAt(0) ?? 0;
    return code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** The found value with its type, for type mismatches: `number 1.5`, `a list of 2 entries`. */
function showTyped(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return `${typeof value} ${String(value)}`;
  }
  if (typeof value === 'string') return `string ${show(value)}`;
  return show(value);
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  bigint: 'an integer',
  boolean: 'true or false',
  object: 'an object',
  array: 'a list'
};

function typeName(expected: string): string {
  return TYPE_NAMES[expected] ?? expected;
}

function bound(issue: { origin: string; inclusive?: boolean }, big: boolean, limit: unknown): string {
  const n = String(limit);
  switch (issue.origin) {
    case 'string':
      return `${big ? 'at most' : 'at least'} ${n} ${n === '1' ? 'character' : 'characters'}`;
    case 'array':
    case 'set':
      return `${big ? 'at most' : 'at least'} ${n} ${n === '1' ? 'entry' : 'entries'}`;
    default: {
      const op = big ? (issue.inclusive === false ? '<' : '≤') : issue.inclusive === false ? '>' : '≥';
      return `${issue.origin === 'int' ? 'an integer' : 'a number'} ${op} ${n}`;
    }
  }
}

function foundSize(origin: string, input: unknown): string {
  if (origin === 'string' && typeof input === 'string') return String(input.length);
  if ((origin === 'array' || origin === 'set') && Array.isArray(input)) return String(input.length);
  return show(input);
}

/** Normalised spelling, so `q4_k_m`, `Q4-K-M` and `Q4_K_M` meet. */
function squash(text: string): string {
  return text.toLowerCase().replace(/[-_. ]/g, '');
}

/** Inputs longer than any option are not squashed to look for one. */
const MAX_SUGGESTED_CHARS = 64;

/**
 * A close spelling among `options`, if the input differs only by case or separators. `squashed` (the options squashed,
 * in order) spares squashing them again for each of many inputs.
 */
export function suggest(input: unknown, options: readonly string[], squashed = options.map(squash)): string | undefined {
  // Squashing runs a regular expression over the input (~800 instructions a character in a canister): no option is long.
  if (typeof input !== 'string' || input.length > MAX_SUGGESTED_CHARS) return undefined;
  const at = squashed.indexOf(squash(input));
  return at < 0 ? undefined : options[at];
}

type RawIssue = z.core.$ZodRawIssue;

/**
 * The error map every manifest parse uses: each message says what was expected and what was found.
 * Field schemas with a format of their own (ids, digests, URLs) carry their message themselves.
 */
export function manifestErrorMap(issue: RawIssue): string | undefined {
  const input: unknown = issue.input;
  switch (issue.code) {
    case 'invalid_type': {
      const expected = typeName(String(issue.expected));
      if (input === undefined) return `missing required field: expected ${expected}`;
      const hint =
        issue.expected === 'string' && (typeof input === 'number' || typeof input === 'boolean') ? ' (quote the value in YAML)' : '';
      return `expected ${expected}, got ${showTyped(input)}${hint}`;
    }
    case 'invalid_value': {
      const values = issue.values.map((v) => String(v));
      const close = suggest(input, values);
      const tail = close === undefined ? '' : ` (did you mean ${close}?)`;
      if (values.length === 1) return `expected ${JSON.stringify(values[0])}, got ${show(input)}${tail}`;
      return `expected one of ${values.join(' | ')}, got ${show(input)}${tail}`;
    }
    case 'too_big':
      return `expected ${bound(issue, true, issue.maximum)}, got ${foundSize(issue.origin, input)}`;
    case 'too_small':
      if (issue.origin === 'string' && issue.minimum === 1) return `expected a non-empty string, got ""`;
      return `expected ${bound(issue, false, issue.minimum)}, got ${foundSize(issue.origin, input)}`;
    case 'unrecognized_keys':
      // The allowed fields travel in the message; toManifestIssues splits it into one issue per key.
      return allowedKeys(issue.inst).join(', ');
    case 'invalid_union':
      if ('options' in issue && Array.isArray(issue.options)) {
        return `expected one of ${issue.options.map(String).join(' | ')}, got ${show(input)}`;
      }
      return undefined;
    default:
      return undefined;
  }
}

function allowedKeys(inst: unknown): string[] {
  if (typeof inst !== 'object' || inst === null || !('_zod' in inst)) return [];
  const def: unknown = (inst as { _zod: { def: unknown } })._zod.def;
  if (typeof def !== 'object' || def === null || !('shape' in def)) return [];
  const shape: unknown = def.shape;
  return typeof shape === 'object' && shape !== null ? Object.keys(shape) : [];
}

/**
 * Issues one manifest reports at most; the rest are counted in one last issue. The registry replies with them, and
 * anyone may send a card with thousands of unknown fields: each reported one cost ~0.9M instructions (issue 15).
 */
export const MAX_MANIFEST_ISSUES = 16;

/** zod's issues → manifest issues: one per unknown key, the first problem per path only, MAX_MANIFEST_ISSUES at most. */
export function toManifestIssues(issues: readonly z.core.$ZodIssue[]): ManifestIssue[] {
  return reportIssues(issues, (issue) => issue);
}

/** How many problems an issue past the limit stands for: each unknown key is one. */
function problemsIn(issue: object): number {
  return 'keys' in issue && Array.isArray(issue.keys) ? issue.keys.length : 1;
}

/**
 * Issues as zod's run leaves them (raw: no message yet) → manifest issues, as {@link toManifestIssues}. `finalize` gives
 * an issue its message and is called only for the ones reported: zod finalizing every issue, and its error object,
 * cost a canister ~0.2M instructions an issue, and a 2 KB manifest can hold 150 issues (issue 15). Past the limit
 * issues are only counted, by issue rather than by path.
 */
export function reportIssues<I extends object>(issues: readonly I[], finalize: (issue: I) => z.core.$ZodIssue): ManifestIssue[] {
  const out: ManifestIssue[] = [];
  const seen = new Set<string>();
  let more = 0;
  const push = (path: string, message: () => string): void => {
    if (seen.has(path)) return;
    seen.add(path);
    if (out.length < MAX_MANIFEST_ISSUES) out.push({ path, message: message() });
    else more++;
  };
  for (const raw of issues) {
    if (out.length >= MAX_MANIFEST_ISSUES) {
      more += problemsIn(raw);
      continue;
    }
    const issue = finalize(raw);
    if (issue.code === 'unrecognized_keys') {
      const allowed = issue.message === '' ? [] : issue.message.split(', ');
      const squashed = allowed.map(squash);
      for (let i = 0; i < issue.keys.length; i++) {
        const key = String(issue.keys[i]);
        // Past the limit the rest are only counted (an object's keys are distinct): no path or message built for them.
        if (out.length >= MAX_MANIFEST_ISSUES) {
          more += issue.keys.length - i;
          break;
        }
        push(formatPath([...issue.path, key]), () => {
          const close = suggest(key, allowed, squashed);
          const hint = close === undefined ? '' : `did you mean ${close}? `;
          return `unknown field ${JSON.stringify(key)} (${hint}allowed: ${allowed.join(', ')})`;
        });
      }
    } else {
      push(formatPath(issue.path), () => issue.message);
    }
  }
  if (more > 0) out.push({ path: '', message: `and ${more} more ${more === 1 ? 'issue' : 'issues'} not listed` });
  return out;
}
