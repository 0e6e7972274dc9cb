// sortRowPositions (the order every row-sparse gradient is coalesced in) equals a plain stable sort by
// row of the non-negative entries, over random inputs: few entries (the packed-key sort) and many (the
// radix passes), rows below 2^16 (one pass) and up to 2^31 − 1 (two), duplicates, negative entries.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sortRowPositions } from '../src/index.js';

function reference(indices: Int32Array): { rows: number[]; positions: number[] } {
  const entries = [...indices].map((row, position) => ({ row, position })).filter((e) => e.row >= 0);
  entries.sort((a, b) => a.row - b.row || a.position - b.position);
  return { rows: entries.map((e) => e.row), positions: entries.map((e) => e.position) };
}

describe('sortRowPositions', () => {
  it('is a stable sort by row of the non-negative entries (property)', () => {
    fc.assert(
      fc.property(
        fc.record({
          n: fc.constantFrom(0, 1, 2, 7, 1023, 1024, 1025, 3000, 65537),
          maxRow: fc.constantFrom(0, 1, 5, 4095, 65535, 65536, 1 << 20, 2 ** 31 - 1),
          negatives: fc.boolean(),
          seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        }),
        ({ n, maxRow, negatives, seed }) => {
          let s = seed;
          const next = () => ((s = (Math.imul(s, 48271) % 2147483647) >>> 0), s / 2147483647);
          const indices = Int32Array.from({ length: n }, () => (negatives && next() < 0.2 ? -1 : Math.floor(next() * (maxRow + 1))));
          if (n > 0) indices[0] = maxRow; // the largest row decides the number of passes
          const got = sortRowPositions(indices);
          const want = reference(indices);
          expect(Array.from(got.rows)).toEqual(want.rows);
          expect(Array.from(got.positions)).toEqual(want.positions);
        },
      ),
      { numRuns: 60 },
    );
  });
});
