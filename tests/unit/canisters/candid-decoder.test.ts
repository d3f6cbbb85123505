import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';
import { describe, expect, it } from 'vitest';

import { BytesText, CandidDecodeError, decodeArgs } from '../../../canisters/common/candid-decoder.ts';
import { ledgerMethods } from '../../../src/interface/ledger/index.ts';
import { registryMethods, SubmitTaskArgs } from '../../../src/interface/registry/index.ts';
import { RandomValue } from '../../support/candid-random.ts';

const METHODS = [...Object.values(registryMethods), ...Object.values(ledgerMethods)];
const hex = (s: string): Uint8Array => Uint8Array.from(s.match(/../g) ?? [], (b) => parseInt(b, 16));
const encode = (types: IDL.Type[], values: unknown[]): Uint8Array => new Uint8Array(IDL.encode(types, values));
/** What both decoders give for a message (IDL.decode is the reference). */
const same = (types: IDL.Type[], bytes: Uint8Array): void => expect(decodeArgs(types, bytes)).toEqual(IDL.decode(types, bytes));
const refused = (types: IDL.Type[], bytes: Uint8Array, message: RegExp): void => {
  expect(() => decodeArgs(types, bytes)).toThrow(CandidDecodeError);
  expect(() => decodeArgs(types, bytes)).toThrow(message);
};

describe('Candid decoder (candid-decoder.ts)', () => {
  it('gives the values IDL.decode gives, for the arguments and replies of every registry and ledger method', () => {
    const random = new RandomValue();
    expect(METHODS.length).toBeGreaterThan(60);
    for (const method of METHODS) {
      const types = [...method.args, ...(method.ret === undefined ? [] : [method.ret])];
      for (let round = 0; round < 10; round++) {
        const values = types.map((type) => type.accept(random, 0));
        same(types, encode(types, values));
        // Each argument list alone, as the canisters decode it.
        same(method.args, encode(method.args, values.slice(0, method.args.length)));
      }
    }
  });

  it('follows Candid subtyping where the sender’s type differs from the expected one', () => {
    const Want = IDL.Record({ a: IDL.Nat, b: IDL.Opt(IDL.Text), c: IDL.Int, d: IDL.Opt(IDL.Nat8) });
    // A record without the opt field, with an extra field, and nat for int.
    const Sent = IDL.Record({ a: IDL.Nat, c: IDL.Nat, z: IDL.Vec(IDL.Text), d: IDL.Nat8 });
    const bytes = encode([Sent], [{ a: 5n, c: 7n, z: ['skipped', 'é'], d: 3 }]);
    // (IDL.decode refuses nat for int, which the Candid specification allows: nat <: int.)
    expect(decodeArgs([Want], bytes)).toEqual([{ a: 5n, b: [], c: 7n, d: [3] }]);
    same([Want], encode([IDL.Record({ a: IDL.Nat, c: IDL.Int, z: IDL.Vec(IDL.Text), d: IDL.Nat8 })], [{ a: 5n, c: -7n, z: ['é'], d: 3 }]));
    // opt of a value of another type decodes as none, its bytes skipped.
    const wrong = encode([IDL.Record({ a: IDL.Nat, b: IDL.Opt(IDL.Nat), c: IDL.Int })], [{ a: 1n, b: [9n], c: -4n }]);
    expect(decodeArgs([Want], wrong)).toEqual([{ a: 1n, b: [], c: -4n, d: [] }]);
    same([Want], wrong);
    // A variant whose sender knows more cases, one we know chosen; extra arguments are skipped.
    const V = IDL.Variant({ Ok: IDL.Nat, Err: IDL.Text });
    const more = encode([IDL.Variant({ Ok: IDL.Nat, Err: IDL.Text, Other: IDL.Null }), IDL.Text], [{ Err: 'no' }, 'extra']);
    expect(decodeArgs([V], more)).toEqual([{ Err: 'no' }]);
    same([V], more);
    // A missing trailing opt argument is none.
    expect(decodeArgs([IDL.Text, IDL.Opt(IDL.Nat)], encode([IDL.Text], ['x']))).toEqual(['x', []]);
  });

  it('reads a type table in any order (as other Candid libraries write it)', () => {
    // record { a: opt text; b: vec nat8 } with the table entries in reverse order of IDL.encode's:
    // 0: vec nat8, 1: opt text, 2: record { a(97) -> 1; b(98) -> 0 }.
    const bytes = hex('4449444c' + '03' + '6d7b' + '6e71' + '6c02' + '6101' + '6200' + '0102' + '0102' + '6869' + '03010203');
    expect(decodeArgs([IDL.Record({ a: IDL.Opt(IDL.Text), b: IDL.Vec(IDL.Nat8) })], bytes)).toEqual([
      { a: ['hi'], b: Uint8Array.from([1, 2, 3]) }
    ]);
  });

  it('keeps a BytesText value as a view of its UTF-8 bytes', () => {
    const Args = IDL.Record({ input: IDL.Opt(new BytesText()), n: IDL.Nat });
    const [decoded] = decodeArgs([Args], encode([IDL.Record({ input: IDL.Opt(IDL.Text), n: IDL.Nat })], [{ input: ['héllo'], n: 1n }])) as [
      { input: [Uint8Array] }
    ];
    expect(decoded.input[0]).toBeInstanceOf(Uint8Array);
    expect(new TextDecoder().decode(decoded.input[0])).toBe('héllo');
    // A submit_task argument as the agent sends it decodes alike through both types, apart from the input.
    const random = new RandomValue();
    const value = SubmitTaskArgs.accept(random, 0) as { input: { inline: string[] } };
    const bytes = encode([SubmitTaskArgs], [value]);
    expect(decodeArgs([SubmitTaskArgs], bytes)).toEqual(IDL.decode([SubmitTaskArgs], bytes));
  });

  it('refuses malformed messages with a CandidDecodeError, never another exception', () => {
    const T = [IDL.Record({ a: IDL.Nat, b: IDL.Bool })];
    const good = encode(T, [{ a: 1n, b: true }]);
    refused(T, hex('4449444d0000'), /magic/);
    refused(T, good.subarray(0, good.length - 1), /end of message/);
    refused(T, Uint8Array.from([...good, 0]), /left over/);
    refused(T, Uint8Array.from([...good.subarray(0, good.length - 1), 2]), /bool/);
    // Field ids out of order, a type index out of range, a constructor opcode used as a primitive.
    refused(T, hex('4449444c' + '016c02' + '627e' + '617d' + '0100' + '0101'), /increasing/);
    refused(T, hex('4449444c' + '00' + '0105'), /out of range/);
    refused(T, hex('4449444c' + '00' + '016c'), /not a primitive/);
    // Type mismatches: text for nat, an unknown variant case, a variant index past the cases.
    refused([IDL.Nat], encode([IDL.Text], ['1']), /mismatch/);
    const V = IDL.Variant({ Ok: IDL.Nat });
    refused([V], encode([IDL.Variant({ Other: IDL.Nat })], [{ Other: 1n }]), /unknown/);
    refused([V], hex('4449444c' + '016b01' + '007d' + '0100' + '05' + '01'), /out of range/);
    // Text that is not UTF-8; a principal longer than 29 bytes; an opt flag of 2.
    refused([IDL.Text], hex('4449444c' + '0001' + '71' + '02c328'), /UTF-8/);
    refused([IDL.Principal], hex('4449444c' + '0001' + '68' + '01' + '1e' + '00'.repeat(30)), /29 bytes/);
    refused([IDL.Opt(IDL.Nat)], hex('4449444c' + '016e7d' + '0100' + '02'), /flag/);
  });

  it('bounds what a small message can make it do', () => {
    // A nat of 65 LEB128 bytes (quadratic bigint work if unbounded).
    refused([IDL.Nat], hex('4449444c' + '0001' + '7d' + 'ff'.repeat(64) + '01'), /longer than 64 bytes/);
    // vec null of a billion elements (they take no bytes), and a vec longer than the message.
    refused([IDL.Vec(IDL.Null)], hex('4449444c' + '016d7f' + '0100' + '8094ebdc03'), /zero-sized/);
    refused([IDL.Vec(IDL.Nat)], hex('4449444c' + '016d7d' + '0100' + 'ffffff0f'), /longer than the message/);
    // A recursive wire type nested deeper than 64 (μx. opt x), sent for an expected type that skips it.
    const deep = hex('4449444c' + '016e00' + '02' + '71' + '00' + '00' + '01'.repeat(100) + '00');
    refused([IDL.Text], deep, /too deeply/);
    refused([IDL.Opt(IDL.Nat)], hex('4449444c' + '016e00' + '0100' + '01'.repeat(100) + '00'), /too deeply/);
    // The refusals above are CandidDecodeErrors, so a method traps with a message, as a malformed call did before.
    expect(() => decodeArgs([IDL.Principal], hex('4449444c00016800'))).toThrow(/opaque/);
    expect(Principal.anonymous()).toEqual(decodeArgs([IDL.Principal], encode([IDL.Principal], [Principal.anonymous()]))[0]);
  });
});
