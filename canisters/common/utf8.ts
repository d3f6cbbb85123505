/**
 * UTF-8 for the canisters, where QuickJS is metered instruction by instruction: a JavaScript loop costs ~5,000
 * instructions per character, the engine's native string functions tens to hundreds. Every stable-map read and write
 * and every Candid text (text-codec.ts) pays for these, so they go through native code only.
 *
 * Measured in the registry (instructions per character): `candidEncode` of a Candid text literal ~35; a JS loop over
 * the characters ~5,300; the regular expressions that escaped text for `candidEncode` ~2,000 (a 600-byte task record
 * cost ~2M to encode); `String.fromCharCode.apply` over the bytes ~250, against ~1,700 for a spread of them.
 */

/** Arguments per `String.fromCharCode.apply` call: well under QuickJS's argument limit (65,535). */
const CHUNK = 8192;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Candid text (`("hello")`) to its binary encoding: azle's native `candidEncode`. */
export type CandidTextEncoder = (candidText: string) => Uint8Array;

/** The bytes of the `text` value inside a Candid message `DIDL 0x00 0x01 0x71 <LEB128 length> <bytes>`. */
function textBytes(message: Uint8Array): Uint8Array {
  let p = 7;
  while ((message[p] ?? 0) & 0x80) p++;
  return message.subarray(p + 1);
}

/**
 * A UTF-8 encoder (as TextEncoder: a lone surrogate becomes U+FFFD) through the native Candid text parser. JSON's
 * string quoting (native) is also a valid Candid text literal unless it holds a `\uXXXX`, `\b` or `\f` escape
 * (control characters, lone surrogates): only such text takes the slower path of escaping it for Candid here.
 */
export function utf8EncoderVia(candidEncode: CandidTextEncoder): (text: string) => Uint8Array {
  return (text) => {
    const quoted = JSON.stringify(text);
    if (quoted.indexOf('\\u') < 0 && quoted.indexOf('\\b') < 0 && quoted.indexOf('\\f') < 0) {
      try {
        return textBytes(candidEncode(`(${quoted})`));
      } catch {
        // Fall through to the escaping below.
      }
    }
    const escaped = text
      .replace(LONE_SURROGATE, '\ufffd')
      .replace(/[\\"]/g, '\\$&')
      .replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u{${c.charCodeAt(0).toString(16)}}`);
    return textBytes(candidEncode(`("${escaped}")`));
  };
}

/** The string of UTF-8 `bytes`; throws (URIError) on bytes that are not UTF-8, as a fatal TextDecoder does. */
export function utf8Decode(bytes: Uint8Array): string {
  let binary = '';
  let highest = 0;
  for (let i = 0; i < bytes.length; i += CHUNK) {
    // apply reads a typed array as its argument list, without the iterator a spread would run per byte.
    const chunk = bytes.subarray(i, i + CHUNK) as unknown as number[];
    binary += String.fromCharCode.apply(null, chunk);
    // Math.max over the same arguments tells ASCII apart natively (a regular expression costs ~1,000 per character).
    highest = Math.max(highest, Math.max.apply(null, chunk));
  }
  return highest > 0x7f ? decodeURIComponent(escape(binary)) : binary;
}
