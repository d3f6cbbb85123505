import { describe, expect, it } from 'vitest';

import { JsonTooDeepError, parseJson, stringifyJson } from '../../../src/core/json.ts';

const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);

describe('parseJson with maxDepth', () => {
  it('refuses 100,000 levels of "[" before parsing, with a typed error naming the limit', () => {
    const error = (() => {
      try {
        parseJson('['.repeat(100_000), { maxDepth: 32 });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(JsonTooDeepError);
    expect(error).toMatchObject({ maxDepth: 32, message: 'nested deeper than 32 levels' });
  });

  it('accepts exactly maxDepth levels of arrays and objects, and refuses one more', () => {
    expect(parseJson(nested(32), { maxDepth: 32 })).toEqual(JSON.parse(nested(32)));
    expect(() => parseJson(nested(33), { maxDepth: 32 })).toThrow(JsonTooDeepError);
    const objects = (depth: number): string => '{"a":'.repeat(depth - 1) + '{}' + '}'.repeat(depth - 1);
    expect(() => parseJson(objects(32), { maxDepth: 32 })).not.toThrow();
    expect(() => parseJson(objects(33), { maxDepth: 32 })).toThrow(JsonTooDeepError);
  });

  it('mixes arrays and objects past the limit, however few brackets each kind has', () => {
    const mixed = '[{"a":'.repeat(17) + '1' + '}]'.repeat(17);
    expect(() => parseJson(mixed, { maxDepth: 32 })).toThrow(JsonTooDeepError);
    expect(parseJson('[{"a":'.repeat(16) + '1' + '}]'.repeat(16), { maxDepth: 32 })).toBeDefined();
  });

  it('does not count brackets inside strings, escaped quotes included, and still refuses real nesting', () => {
    const text = JSON.stringify({ a: '[[[[{{{{', b: ['\\"[[[[', '"{{{{'] });
    expect(parseJson(text, { maxDepth: 2 })).toEqual(JSON.parse(text));
    expect(() => parseJson(JSON.stringify({ a: '[[[[', b: [['"']] }), { maxDepth: 2 })).toThrow(JsonTooDeepError);
  });

  it('leaves malformed but shallow text to JSON.parse (SyntaxError), keeps bigints exact, and without maxDepth parses as before', () => {
    expect(() => parseJson('{not json', { maxDepth: 32 })).toThrow(SyntaxError);
    expect(() => parseJson(']]]]', { maxDepth: 32 })).toThrow(SyntaxError);
    expect(() => parseJson('[[[[]]]]', { maxDepth: 3 })).toThrow('nested deeper than 3 levels');
    expect(parseJson(stringifyJson({ n: 2n ** 70n }), { maxDepth: 32 })).toEqual({ n: 2n ** 70n });
    expect(parseJson(nested(100))).toEqual(JSON.parse(nested(100)));
  });
});
