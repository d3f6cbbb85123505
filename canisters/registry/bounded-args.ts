import { IDL } from '@dfinity/candid';
import { msgArgData, trap } from 'azle';

import { maxArgBytes } from '../../src/core/registry/index.js';
import type { Method } from '../../src/interface/candid.js';
import { registryMethods as m } from '../../src/interface/registry/index.js';
import { handle as decodeAndHandle, reply } from '../common/fast-candid.js';

export type MethodName = keyof typeof m;
export const isMethod = (name: string): name is MethodName => Object.prototype.hasOwnProperty.call(m, name);

/** Whether a reply type is a Result (a variant with an `Err` case), which can carry LimitExceeded. */
const repliesResult = (ret: IDL.Type | undefined): boolean =>
  ret instanceof IDL.VariantClass && ret._fields.some(([name]) => name === 'Err');

/**
 * Refuses a call whose Candid argument is larger than the method can need, before anything is decoded: with
 * LimitExceeded where the method replies a Result, otherwise by trapping. inspect_message does the same for ingress,
 * but calls from canisters and queries skip it.
 */
export function tooLarge(name: MethodName): boolean {
  const size = msgArgData().length;
  const limit = maxArgBytes(name);
  if (size <= limit) return false;
  const ret = m[name].ret;
  if (!repliesResult(ret)) trap(`argument of ${name} larger than ${limit} bytes`);
  reply(ret as IDL.Type, { Err: { LimitExceeded: { what: `argument bytes of ${name}`, limit: BigInt(limit) } } });
  return true;
}

const nameOf = new Map<unknown, MethodName>((Object.keys(m) as MethodName[]).map((name) => [m[name], name]));

/**
 * fast-candid's handle behind the method's argument bound. Queries have no inspect_message: without it an anonymous
 * get_task with a 400 KB type table ran to the 5B query limit, and a 2 MB text costs ~800M to decode (issue 15).
 */
export function handle<A extends unknown[], R>(method: Method<A, R>, body: (...decoded: NoInfer<A>) => NoInfer<R>): void {
  const name = nameOf.get(method);
  if (name !== undefined && tooLarge(name)) return;
  decodeAndHandle(method, body);
}
