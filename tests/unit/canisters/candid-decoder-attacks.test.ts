import { IDL } from '@dfinity/candid';
import { describe, expect, it } from 'vitest';

import { decodeArgs } from '../../../canisters/common/candid-decoder.ts';
import { registryMethods } from '../../../src/interface/registry/index.ts';
import { RandomValue } from '../../support/candid-random.ts';

/**
 * Adversarial review 3's attacks on canisters/common/candid-decoder.ts (each failed at e9443e5: seconds of work, or
 * a malformed value inside an opt read as none). A message may make the decoder visit at most 512 values and fields
 * plus one per 8 bytes (of its first 32 KiB); past that it is refused, whatever the types.
 */
const MAGIC = [0x44, 0x49, 0x44, 0x4c];
const bytesOf = (...parts: number[][]): Uint8Array => Uint8Array.from(parts.flat());

/**
 * A type table of `k` records where record i has two fields (ids 0 and 1) that are both record i + 1, and the last
 * record holds one null: a DAG of depth k - 1 whose values take NO bytes. The message sends the expected `nat` and,
 * as an extra argument the method never reads, one value of record 0: 6 bytes a level, 2^(k-1) nodes to skip.
 */
function zeroSizedDag(k: number): Uint8Array {
  const table: number[] = [];
  for (let i = 0; i < k - 1; i++) table.push(0x6c, 2, 0, i + 1, 1, i + 1);
  table.push(0x6c, 1, 0, 0x7f);
  return bytesOf(MAGIC, [k], table, [2, 0x7d, 0], [5]);
}

/** Refused as too costly: by the values' visits or, first, by the type table's own bound. */
const TOO_COSTLY = /too costly to decode|type table too large/;

describe('review 3: Candid decoder cost', () => {
  it('R3-D1 a ~150-byte message whose extra argument is a DAG of zero-sized records costs work bounded by its size', () => {
    // 22 levels: 139 bytes, 2^21 records skipped on main (~0.7 s under V8; every level doubles the work, and 64
    // levels, 390 bytes, are within MAX_DEPTH: under QuickJS any query or update runs to its instruction limit).
    // A record of zero-sized fields takes no bytes and cannot be malformed, so skipping it walks nothing: a visit per
    // type. 20 levels (2^19 records walked one by one, refused as too costly after ~520 visits before) decode at once.
    expect(decodeArgs([IDL.Nat], zeroSizedDag(20))).toEqual([5n]);
    expect(decodeArgs([IDL.Nat], zeroSizedDag(5))).toEqual([5n]);
    // 60 levels: a nat's table needs no entry, so a table of more than 64 entries and fields (~180 here) is refused.
    const message = zeroSizedDag(60);
    expect(message.length).toBeLessThan(400);
    expect(() => decodeArgs([IDL.Nat], message)).toThrow(/type table too large \(more than 64 entries and fields\)/);
  });

  it('R3-D1b the same DAG after get_task’s text (a query anyone may call, anonymous included) costs no more than its bytes', () => {
    const [argType] = registryMethods.get_task.args;
    expect(argType).toBeDefined();
    // get_task takes a text: send the text, then the DAG as an extra argument (any method is reachable the same way).
    const dag = (k: number): Uint8Array => {
      const table: number[] = [];
      for (let i = 0; i < k - 1; i++) table.push(0x6c, 2, 0, i + 1, 1, i + 1);
      table.push(0x6c, 1, 0, 0x7f);
      return bytesOf(MAGIC, [k], table, [2, 0x71, 0], [1, 0x61]);
    };
    expect(decodeArgs(registryMethods.get_task.args, dag(20))).toEqual(['a']);
    expect(() => decodeArgs(registryMethods.get_task.args, dag(60))).toThrow(TOO_COSTLY);
  });
});

/** An unsigned LEB128. */
const leb = (n: number): number[] => {
  const out: number[] = [];
  do {
    const low = n & 0x7f;
    n = Math.floor(n / 128);
    out.push(n > 0 ? low | 0x80 : low);
  } while (n > 0);
  return out;
};

describe('type tables and arguments without vectors', () => {
  it('bounds type-table entries and fields by the expected types, not the message size: a 4 KB table is refused', () => {
    const entries = 1_000;
    const table: number[] = [];
    for (let i = 0; i < entries; i++) table.push(0x6c, 1, 0, 0x7f);
    const message = bytesOf(MAGIC, leb(entries), table, [1, 0x71], [1, 0x61]);
    // A text needs no table entry: 2 x 0 + 64 are allowed, whatever the message's size.
    expect(() => decodeArgs(registryMethods.get_task.args, message)).toThrow(/type table too large \(more than 64 entries and fields\)/);
    // With a vector the values' allowance grows with the message, the table's does not (vec text: 2 x 1 + 64).
    expect(() =>
      decodeArgs(
        [IDL.Vec(IDL.Text), IDL.Text],
        bytesOf(MAGIC, leb(entries + 1), table, [0x6d, 0x71], [2, ...leb(entries), 0x71], [0, 1, 0x61])
      )
    ).toThrow(/type table too large \(more than 66 entries and fields\)/);
  });
});

describe('review 3: Candid decoder cost, without zero-sized values', () => {
  it('R3-D1c a vec of wide records (many null fields, one nat8) costs elements x fields, not bytes', () => {
    // 4,000 null fields and a nat8 per record, 4,000 records: ~20 KB, 16M fields walked on main (each record takes
    // one byte, so the vector passes the "longer than the message" bound; submit_task accepts 256 KiB).
    const fields = 4_000;
    const table = [0x6c, ...leb(fields + 1)];
    for (let i = 0; i < fields; i++) table.push(...leb(i), 0x7f);
    table.push(...leb(fields), 0x7b);
    const elements = 4_000;
    const message = bytesOf(MAGIC, [2], table, [0x6d, 0], [2, 0x7d, 1], [5], leb(elements), new Array<number>(elements).fill(7));
    expect(message.length).toBeLessThan(25_000);
    expect(() => decodeArgs([IDL.Nat], message)).toThrow(TOO_COSTLY);
  });
});

describe('review 3: Candid decoder conformance', () => {
  it('R3-D2 a malformed bool (2) inside an opt is refused, as IDL.decode and the Candid spec refuse it', () => {
    // opt bool, flag 1, value byte 2: not a bool at all (a malformed value, not a type mismatch that opt may absorb).
    const message = bytesOf(MAGIC, [1, 0x6e, 0x7e], [1, 0], [1, 2]);
    expect(() => IDL.decode([IDL.Opt(IDL.Bool)], message)).toThrow();
    expect(() => decodeArgs([IDL.Opt(IDL.Bool)], message)).toThrow(/bool/);
    // A value of another type inside an opt is none (the Candid rule), its bytes skipped.
    expect(decodeArgs([IDL.Opt(IDL.Bool)], bytesOf(MAGIC, [1, 0x6e, 0x7d], [1, 0], [1, 0x85, 0x01]))).toEqual([[]]);
  });

  it('decodes the largest honest batch (256 usage settlements) within the allowance', () => {
    const [batchType] = registryMethods.settle_usage.args;
    const random = new RandomValue();
    const one = (batchType as IDL.VecClass<unknown>)._type.accept(random, 0);
    const batch = Array.from({ length: 256 }, () => one);
    const message = new Uint8Array(IDL.encode(registryMethods.settle_usage.args, [batch]));
    expect(decodeArgs(registryMethods.settle_usage.args, message)).toEqual(IDL.decode(registryMethods.settle_usage.args, message));
  });
});
