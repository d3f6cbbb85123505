import { describe, expect, it } from 'vitest';

import { encodeValue } from '../../../canisters/common/candid-encoder.ts';
import { ledgerMethods } from '../../../src/interface/ledger/index.ts';
import { registryMethods } from '../../../src/interface/registry/index.ts';
import { RandomValue } from '../../support/candid-random.ts';

const TYPES = [...Object.values(registryMethods), ...Object.values(ledgerMethods)].flatMap((m) => [
  ...(m.ret === undefined ? [] : [m.ret]),
  ...m.args
]);

describe('compiled Candid encoder', () => {
  it('writes the bytes @dfinity/candid writes, for every argument and reply type of the registry and the ledger', () => {
    const random = new RandomValue();
    expect(TYPES.length).toBeGreaterThan(40);
    for (const type of TYPES) {
      for (let round = 0; round < 25; round++) {
        const value = type.accept(random, 0);
        expect(encodeValue(type, value), type.display()).toEqual(new Uint8Array(type.encodeValue(value)));
      }
    }
  });
});
