import { err, type Result } from '../registry/errors.js';

/** A content digest as tasks name inputs and outputs. */
export const DIGEST = /^sha256:[0-9a-f]{64}$/;

export const bad = <T>(field: string, reason: string): Result<T> => err({ InvalidArgument: { field, reason } });

/** UTF-8 length of a string, without encoding it. */
export const byteLength = (text: string): number => {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c <= 0xdbff ? (i++, 4) : 3;
  }
  return n;
};
