import { IDL } from '@dfinity/candid';
import { msgArgData } from 'azle';

import { SubmitTaskArgs, TaskInput } from '../../src/interface/registry/index.js';
import type { SubmitTaskArgs as SubmitTaskArgsValue } from '../../src/interface/registry/index.js';
import { BytesText, decodeArgs } from '../common/candid-decoder.js';
import { utf8Decode } from '../common/utf8.js';

const recordFields = (type: IDL.Type): Record<string, IDL.Type> => {
  if (!(type instanceof IDL.RecordClass)) throw new Error(`${type.display()} is not a record`);
  return Object.fromEntries(type._fields);
};

/** SubmitTaskArgs of the interface, but `input.inline` decoded as bytes. */
export const SubmitTaskArgsWithInputBytes = IDL.Record({
  ...recordFields(SubmitTaskArgs),
  input: IDL.Record({ ...recordFields(TaskInput), inline: IDL.Opt(new BytesText()) })
});

/** The submit_task argument, its inline input still UTF-8 bytes (`decodeInline` makes it text). */
export type SubmitTaskArgsBytes = Omit<SubmitTaskArgsValue, 'input'> & {
  input: Omit<SubmitTaskArgsValue['input'], 'inline'> & { inline: [] | [Uint8Array] };
};

/** Decodes the current message's submit_task argument, keeping the inline input as bytes. */
export function submitArgsWithInputBytes(): SubmitTaskArgsBytes {
  // decodeArgs has checked the bytes against the type, so the value has its shape (with bytes for the inline input).
  const [decoded] = decodeArgs([SubmitTaskArgsWithInputBytes], msgArgData()) as [SubmitTaskArgsBytes];
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
