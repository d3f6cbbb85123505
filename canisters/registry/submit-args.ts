import { IDL, lebDecode, safeRead, type PipeArrayBuffer } from '@dfinity/candid';
import { msgArgData } from 'azle';

import { SubmitTaskArgs, TaskInput } from '../../src/interface/registry/index.js';
import type { SubmitTaskArgs as SubmitTaskArgsValue } from '../../src/interface/registry/index.js';
import { utf8Decode } from '../common/utf8.js';

/**
 * A Candid `text` decoded to its UTF-8 bytes, left undecoded: turning a 256 KiB input into a string costs ~170M
 * instructions under QuickJS, and turning it back into bytes to measure it ~70M more, before the registry knows whether
 * the caller can pay at all (issue 15). The generic decoder still reads and checks the whole message against the type
 * table; only this one value is kept as bytes (a copy of them).
 */
class TextBytes extends IDL.TextClass {
  override decodeValue(b: PipeArrayBuffer, t: IDL.Type): string {
    this.checkType(t);
    const bytes = safeRead(b, Number(lebDecode(b)));
    // decodeValue is typed to return the text; the one caller of this type (below) reads it as the bytes it is.
    return bytes as unknown as string;
  }
}

const recordFields = (type: IDL.Type): Record<string, IDL.Type> => {
  if (!(type instanceof IDL.RecordClass)) throw new Error(`${type.display()} is not a record`);
  return Object.fromEntries(type._fields);
};

/** SubmitTaskArgs of the interface, but `input.inline` decoded as bytes. */
const SubmitTaskArgsWithInputBytes = IDL.Record({
  ...recordFields(SubmitTaskArgs),
  input: IDL.Record({ ...recordFields(TaskInput), inline: IDL.Opt(new TextBytes()) })
});

/** The submit_task argument, its inline input still UTF-8 bytes (`decodeInline` makes it text). */
export type SubmitTaskArgsBytes = Omit<SubmitTaskArgsValue, 'input'> & {
  input: Omit<SubmitTaskArgsValue['input'], 'inline'> & { inline: [] | [Uint8Array] };
};

/** Decodes the current message's submit_task argument, keeping the inline input as bytes. */
export function submitArgsWithInputBytes(): SubmitTaskArgsBytes {
  // IDL.decode has checked the bytes against the type, so the value has its shape (with bytes for the inline input).
  const [decoded] = IDL.decode([SubmitTaskArgsWithInputBytes], msgArgData()) as unknown as [SubmitTaskArgsBytes];
  return decoded;
}

/** The inline input as text, or undefined when its bytes are not UTF-8. */
export function decodeInline(bytes: Uint8Array): string | undefined {
  try {
    return utf8Decode(bytes);
  } catch {
    return undefined;
  }
}
