import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SparseGrad, tensor } from '@myriad/core';
import { coalesceRows, type CoalescedRows } from '../src/optim/index.js';

// The dense rows a CoalescedRows stands for, in row order.
function rowsOf(c: CoalescedRows, rowSize: number): number[][] {
  return Array.from(c.offsets, (o) => Array.from(o >= 0 ? c.values.subarray(o, o + rowSize) : c.summed.subarray(-o - 1, -o - 1 + rowSize)));
}

describe('coalesceRows', () => {
  it('equals SparseGrad.coalesce (unique sorted rows, duplicates summed) bit for bit', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 0, maxLength: 40 }),
        fc.integer({ min: 1, max: 5 }),
        fc.nat(),
        (idx, rowSize, seed) => {
          const values = Float32Array.from({ length: idx.length * rowSize }, (_, i) => Math.sin(seed + i * 12.9898) * 3);
          const c = coalesceRows(Int32Array.from(idx), values, rowSize);
          const ref = new SparseGrad(
            tensor(Int32Array.from(idx), { shape: [idx.length], dtype: 'int32' }),
            tensor(values, { shape: [idx.length, rowSize] }),
            [21, rowSize],
          ).coalesce();
          expect(Array.from(c.rows)).toEqual(Array.from(ref.indices.toTypedArray()));
          const refValues = ref.values.toTypedArray();
          expect(rowsOf(c, rowSize)).toEqual(Array.from(c.rows, (_, r) => Array.from(refValues.subarray(r * rowSize, (r + 1) * rowSize))));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('copies no row that occurs once, and leaves the input untouched', () => {
    const values = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    const c = coalesceRows(Int32Array.from([5, 2, 5, 9]), values, 2);
    expect(Array.from(c.rows)).toEqual([2, 5, 9]);
    expect(Array.from(c.offsets)).toEqual([2, -1, 6]); // rows 2 and 9 point into values; row 5 into summed
    expect(Array.from(c.summed)).toEqual([1 + 5, 2 + 6]);
    expect(Array.from(values)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(() => coalesceRows(Int32Array.from([1]), values, 2)).toThrow(/1 indices of rows of 2 need 2 values, got 8/);
    expect(() => coalesceRows(Int32Array.from([-1]), new Float64Array(2), 2)).toThrow(/row index -1 at position 0 is negative/);
  });
});
