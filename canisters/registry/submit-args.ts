import { IDL } from '@dfinity/candid';
import { msgArgData, type Principal } from 'azle';

import { ResultArgs, SubmitTaskArgs, TaskInput } from '../../src/interface/registry/index.js';
import type { ResultArgs as ResultArgsValue, SubmitTaskArgs as SubmitTaskArgsValue } from '../../src/interface/registry/index.js';
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

/** UTF-8 bytes (an inline input, an output) as text, or undefined when they are not UTF-8. */
export function decodeInline(bytes: Uint8Array): string | undefined {
  try {
    return utf8Decode(bytes);
  } catch {
    return undefined;
  }
}

/** complete_task's arguments of the interface, but the result's `output` decoded as bytes. */
export const ResultArgsWithOutputBytes = IDL.Record({ ...recordFields(ResultArgs), output: IDL.Opt(new BytesText()) });

/** The complete_task arguments (task id, result), the output still UTF-8 bytes. */
export type ResultArgsBytes = Omit<ResultArgsValue, 'output'> & { output: [] | [Uint8Array] };

/** Decodes the current message's complete_task arguments, keeping the output as bytes (a view of the message). */
export function completeArgsWithOutputBytes(): [string, ResultArgsBytes] {
  // decodeArgs has checked the bytes against the types, so the values have their shape (bytes for the output).
  return decodeArgs([IDL.Text, ResultArgsWithOutputBytes], msgArgData()) as [string, ResultArgsBytes];
}

/** update_runner's arguments with the manifest text still UTF-8 bytes. */
export const UpdateRunnerArgsWithManifestBytes = [IDL.Principal, new BytesText()];

/** Decodes the current message's update_runner arguments (runner, manifest bytes: a view of the message). */
export function updateArgsWithManifestBytes(): [Principal, Uint8Array] {
  // decodeArgs has checked the bytes against the types.
  return decodeArgs(UpdateRunnerArgsWithManifestBytes, msgArgData()) as [Principal, Uint8Array];
}

/** register_runner's argument with the manifest text still UTF-8 bytes. */
export const RegisterRunnerArgsWithManifestBytes = [new BytesText()];

/** Decodes the current message's register_runner manifest as bytes (a view of the message). */
export function registerArgsWithManifestBytes(): Uint8Array {
  // decodeArgs has checked the bytes against the type.
  return (decodeArgs(RegisterRunnerArgsWithManifestBytes, msgArgData()) as [Uint8Array])[0];
}
