import { utf8Decode, utf8Encode } from './stable-kv.js';

/**
 * Replaces Azle's TextEncoder/TextDecoder (the @sinonjs/text-encoding polyfill) for everything in the canister,
 * @dfinity/candid included. The polyfill builds strings one code point at a time, which QuickJS makes quadratic:
 * decoding a 128 KiB text argument cost 12.2B instructions and 256 KiB ran past the 40B limit (measured). These
 * delegate to the native Candid encoder and to decodeURIComponent, both linear.
 */
class LinearTextDecoder {
  readonly encoding = 'utf-8';
  readonly ignoreBOM = false;
  readonly fatal: boolean;

  constructor(_label = 'utf-8', options: { fatal?: boolean } = {}) {
    this.fatal = options.fatal ?? false;
  }

  decode(input?: ArrayBuffer | ArrayBufferView): string {
    if (input === undefined) return '';
    const bytes =
      input instanceof Uint8Array
        ? input
        : ArrayBuffer.isView(input)
          ? new Uint8Array(input.buffer, input.byteOffset, input.byteLength)
          : new Uint8Array(input);
    try {
      return utf8Decode(bytes);
    } catch (error) {
      if (this.fatal) throw new TypeError(`The encoded data was not valid UTF-8: ${String(error)}`);
      return Array.from(bytes, (b) => (b < 0x80 ? String.fromCharCode(b) : '\ufffd')).join('');
    }
  }
}

/**
 * Short texts repeat: Candid field names, which @dfinity/candid hashes through TextEncoder on every decode, map
 * keys, variant tags. Their bytes are kept (a copy is handed out, callers may write into it): ~90K instructions
 * for the native Candid round trip against a few thousand for the lookup, 0.65M per ledger transfer (measured).
 */
const SHORT_TEXT_CHARS = 32;
const SHORT_TEXT_ENTRIES = 512;
const shortTexts = new Map<string, Uint8Array>();

class LinearTextEncoder {
  readonly encoding = 'utf-8';

  encode(text = ''): Uint8Array {
    if (text.length > SHORT_TEXT_CHARS) return utf8Encode(text);
    let bytes = shortTexts.get(text);
    if (bytes === undefined) {
      bytes = utf8Encode(text);
      if (shortTexts.size >= SHORT_TEXT_ENTRIES) shortTexts.clear();
      shortTexts.set(text, bytes);
    }
    return bytes.slice();
  }
}

globalThis.TextDecoder = LinearTextDecoder as unknown as typeof globalThis.TextDecoder;
globalThis.TextEncoder = LinearTextEncoder as unknown as typeof globalThis.TextEncoder;
