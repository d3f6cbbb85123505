import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { SortedKeys } from '../../../src/core/tasks/sorted-keys.ts';

type Op = { add: string } | { delete: string };

/** Keys from a small alphabet, so that prefixes, duplicates and deletions of present keys are common. */
const key = fc.string({ unit: fc.constantFrom('a', 'b', 'c', '\u0000', 'z'), minLength: 0, maxLength: 4 });
const op: fc.Arbitrary<Op> = fc.oneof(
  key.map((k) => ({ add: k })),
  key.map((k) => ({ delete: k }))
);

describe('SortedKeys (blocks of sorted keys)', () => {
  it('answers as a sorted set would, through splits and emptied blocks', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 600 }), fc.array(key, { maxLength: 8 }), (ops, probes) => {
        const keys = new SortedKeys();
        const model = new Set<string>();
        for (const o of ops) {
          if ('add' in o) {
            keys.add(o.add);
            model.add(o.add);
          } else {
            keys.delete(o.delete);
            model.delete(o.delete);
          }
        }
        const sorted = [...model].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        expect(keys.all()).toEqual(sorted);
        expect(keys.size).toBe(sorted.length);
        expect(keys.next()).toBe(sorted[0]);
        for (const probe of probes) {
          expect(keys.has(probe)).toBe(model.has(probe));
          expect(keys.next(probe)).toBe(sorted.find((k) => k > probe));
          const prefixed = sorted.filter((k) => k.startsWith(probe));
          expect([...keys.withPrefix(probe)]).toEqual(prefixed);
          expect(keys.countPrefix(probe)).toBe(prefixed.length);
        }
      }),
      { numRuns: 1_000 }
    );
  });

  it('keeps thousands of keys in order while they are added and removed out of order', () => {
    const keys = new SortedKeys();
    const ids = Array.from({ length: 5_000 }, (_, i) => `${String((i * 7_919) % 5_000).padStart(5, '0')}`);
    for (const id of ids) keys.add(id);
    expect(keys.size).toBe(5_000);
    for (const id of ids.slice(0, 2_500)) keys.delete(id);
    const left = ids.slice(2_500).sort();
    expect(keys.all()).toEqual(left);
    expect([...keys.withPrefix('04')]).toEqual(left.filter((k) => k.startsWith('04')));
    // A walk survives edits made between its steps (the timer settles tasks while it walks the wake index).
    const walked: string[] = [];
    for (const k of keys.withPrefix('')) {
      walked.push(k);
      keys.delete(k);
    }
    expect(walked).toEqual(left);
    expect(keys.size).toBe(0);
  });
});
