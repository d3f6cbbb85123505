import { describe, expect, it } from 'vitest';

import { utf8Decode, utf8EncoderVia } from '../../../canisters/common/utf8.ts';

/**
 * The canisters' UTF-8 (canisters/common/utf8.ts) agrees byte for byte with the platform's TextEncoder/TextDecoder.
 * azle's native `candidEncode` is stood in for by a parser of the one Candid form the encoder writes, `("<text>")`,
 * which refuses any escape that Candid's text literals do not have.
 */
function candidTextEncode(candid: string): Uint8Array {
  const literal = /^\("((?:[^"\\]|\\.|\\u\{[0-9a-f]+\})*)"\)$/su.exec(candid);
  if (literal === null) throw new Error(`not a Candid text literal: ${candid.slice(0, 40)}`);
  const text = (literal[1] ?? '').replace(/\\(u\{([0-9a-f]+)\}|.)/gsu, (_m, escape: string, hex: string | undefined) => {
    if (hex !== undefined) return String.fromCodePoint(parseInt(hex, 16));
    const simple: Record<string, string> = { n: '\n', r: '\r', t: '\t', '\\': '\\', '"': '"', "'": "'" };
    const value = simple[escape];
    if (value === undefined) throw new Error(`no such Candid escape: \\${escape}`);
    return value;
  });
  const bytes = new TextEncoder().encode(text);
  const leb: number[] = [];
  let n = bytes.length;
  do {
    leb.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
    n >>>= 7;
  } while (n > 0);
  return Uint8Array.from([...new TextEncoder().encode('DIDL'), 0, 1, 0x71, ...leb, ...bytes]);
}

const utf8Encode = utf8EncoderVia(candidTextEncode);

const SAMPLES = [
  '',
  'plain ASCII {"$bigint":"12"} with \\ and "quotes"',
  'control \u0000\u0001\b\f\n\r\t\u001f\u007f characters',
  'é ü ß — “quotes” 日本語 😀 \u{10ffff}',
  'x'.repeat(20_000) + '€',
  'lone \ud800 high and \udc00 low surrogates',
  'a literal \\u0041 and \\b that are not escapes',
  '\u0080\u00ff\u0100\u07ff\u0800\uffff'
];

describe('canister UTF-8', () => {
  it('encodes as TextEncoder does, lone surrogates as U+FFFD', () => {
    for (const text of SAMPLES) expect(utf8Encode(text)).toEqual(new TextEncoder().encode(text));
  });

  it('decodes as TextDecoder does, across chunk boundaries', () => {
    for (const text of SAMPLES) {
      const bytes = new TextEncoder().encode(text);
      expect(utf8Decode(bytes)).toBe(new TextDecoder().decode(bytes));
    }
    const long = '€'.repeat(10_000);
    expect(utf8Decode(new TextEncoder().encode(long))).toBe(long);
  });

  it('refuses bytes that are not UTF-8', () => {
    for (const bad of [[0xff], [0xc3], [0xe2, 0x82], [0xc0, 0x80], [0xed, 0xa0, 0x80]])
      expect(() => utf8Decode(Uint8Array.from(bad))).toThrow();
  });
});
