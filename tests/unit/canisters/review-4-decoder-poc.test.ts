import { IDL, lebEncode } from '@dfinity/candid';
import { describe, expect, it } from 'vitest';

import { decodeArgs } from '../../../canisters/common/candid-decoder.ts';

/*
 * Review 4 (adversarial): type-table entries and record/variant fields count as visits (32080b7), but func and
 * service entries do not: their argument lists, annotations and methods are read in a loop without a visit, so a
 * table of one service entry with thousands of methods is parsed in full (~35K instructions a method under QuickJS:
 * 71M for an anonymous 4 KB get_task, 1.1B for an anonymous 64 KB find_runners, 5.6B for a 320 KB submit_task; see
 * tests/integration/review-4-decoder-cost.test.ts). Failed on main at 4c9905a; passes since the fix.
 */
const MAGIC = [0x44, 0x49, 0x44, 0x4c];
const leb = (n: number): number[] => [...new Uint8Array(lebEncode(n))];
const TOO_COSTLY = /too costly|type table too large/;

describe('R4-D1: func and service type-table entries count against the decoding allowance', () => {
  it('a get_task whose table is one service entry of 2,000 methods is refused like 1,000 one-field records', () => {
    const records = Uint8Array.from([
      ...MAGIC,
      ...leb(1_000),
      ...Array.from({ length: 1_000 }, () => [0x6c, 1, 0, 0x7f]).flat(),
      1,
      0x71,
      1,
      0x61
    ]);
    expect(() => decodeArgs([IDL.Text], records)).toThrow(TOO_COSTLY);
    const service = Uint8Array.from([
      ...MAGIC,
      1,
      0x69,
      ...leb(2_000),
      ...Array.from({ length: 2_000 }, () => [0, 0x71]).flat(),
      1,
      0x71,
      1,
      0x61
    ]);
    expect(() => decodeArgs([IDL.Text], service)).toThrow(TOO_COSTLY);
  });

  it('a get_task whose table is one func entry of 4,000 argument types is refused too', () => {
    const func = Uint8Array.from([...MAGIC, 1, 0x6a, ...leb(4_000), ...new Array<number>(4_000).fill(0x71), 0, 0, 1, 0x71, 1, 0x61]);
    expect(() => decodeArgs([IDL.Text], func)).toThrow(TOO_COSTLY);
  });
});
