import { Ed25519KeyIdentity } from '@dfinity/identity';
import { Principal } from '@dfinity/principal';
import { describe, expect, it } from 'vitest';

import { isPrincipalText, principalBytes, principalTextProblem, principalToText } from '../../../src/core/principal-text.ts';

const someone = (): Principal => Ed25519KeyIdentity.generate().getPrincipal();

describe('principal text, as @dfinity/principal reads and writes it', () => {
  it('round-trips the bytes of real principals (self-authenticating, anonymous, management)', () => {
    for (const principal of [
      someone(),
      Principal.anonymous(),
      Principal.managementCanister(),
      Principal.fromText('ryjl3-tyaaa-aaaaa-aaaba-cai')
    ]) {
      const text = principal.toText();
      expect(principalToText(principal.toUint8Array())).toBe(text);
      expect(principalBytes(text)).toEqual(principal.toUint8Array());
      expect(isPrincipalText(text)).toBe(true);
    }
  });

  it('names what is wrong with a text that is not one, and principalBytes gives undefined for it', () => {
    const text = someone().toText();
    const typo = text.slice(0, -1) + (text.endsWith('a') ? 'b' : 'a');
    const cases: Array<[string, RegExp]> = [
      ['', /1 to 63 characters/],
      ['x'.repeat(64), /1 to 63 characters/],
      ['ABC-DE', /groups of a-z and 2-7/],
      ['aa', /wrong length/],
      [typo, /checksum or grouping/],
      [text.replace(/-/g, ''), /checksum or grouping/]
    ];
    for (const [bad, problem] of cases) {
      expect(principalTextProblem(bad)).toMatch(problem);
      expect(principalBytes(bad)).toBeUndefined();
      // Asked again (now remembered): the same answer.
      expect(principalBytes(bad)).toBeUndefined();
    }
  });

  it('a remembered text gives a fresh copy each time: a caller changing its bytes changes nothing for the next', () => {
    const principal = someone();
    const first = principalBytes(principal.toText())!;
    first.fill(0);
    expect(principalBytes(principal.toText())).toEqual(principal.toUint8Array());
  });

  it('stays right past the number of texts it remembers (the memory is bounded, then starts over)', () => {
    const principals = Array.from({ length: 600 }, someone);
    for (const principal of principals) expect(principalBytes(principal.toText())).toEqual(principal.toUint8Array());
    for (const principal of principals.slice(0, 10)) expect(principalBytes(principal.toText())).toEqual(principal.toUint8Array());
  });
});
