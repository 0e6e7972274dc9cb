// Coalescing a row-sparse gradient on typed arrays: unique ascending rows, duplicate rows summed in
// their original order (the order a dense scatter-add uses, so lazy and dense updates agree bit for
// bit). The sort is core's sortRowPositions (SparseGrad.coalesce's). Rows that occur once are not copied:
// each unique row points at its gradient either in the input `values` or in a small `summed` buffer
// that holds only the rows that occurred more than once.
import { sortRowPositions } from '@myriad/core';
import type { FloatArray } from './live-data.js';

/** Unique sorted rows and where each row's (summed) gradient lives. */
export interface CoalescedRows {
  /** Unique row indices, ascending. */
  rows: Int32Array;
  /** Per unique row: o >= 0 → its gradient is values[o .. o+rowSize); o < 0 → summed[−o−1 .. −o−1+rowSize). */
  offsets: Int32Array;
  /** The input gradient rows (not modified). */
  values: FloatArray;
  /** Sums of the rows that occurred more than once. */
  summed: FloatArray;
}

/** Groups the gradient rows `values` (rowSize each) by their index in `indices`, summing duplicates. */
export function coalesceRows(indices: Int32Array, values: FloatArray, rowSize: number): CoalescedRows {
  const n = indices.length;
  if (values.length !== n * rowSize) {
    throw new RangeError(`coalesceRows: ${n} indices of rows of ${rowSize} need ${n * rowSize} values, got ${values.length}`);
  }
  const Float = values.constructor as new (len: number) => FloatArray;
  let ascending = true;
  for (let i = 0; i < n; i++) {
    const r = indices[i]!;
    if (!(r >= 0)) throw new RangeError(`coalesceRows: row index ${r} at position ${i} is negative`);
    if (i > 0 && indices[i - 1]! >= r) ascending = false;
  }
  if (ascending) {
    // Already unique and sorted (e.g. coalesced upstream): every row points into `values`.
    return { rows: indices, offsets: Int32Array.from({ length: n }, (_, i) => i * rowSize), values, summed: new Float(0) };
  }
  // Core's packed-key sort (the one SparseGrad.coalesce uses): rows ascending, duplicates in their original order.
  const order = sortRowPositions(indices);
  let unique = 0;
  let repeated = 0;
  for (let i = 0; i < n; i++) {
    const r = order.rows[i]!;
    if (i === 0 || r !== order.rows[i - 1]!) unique++;
    else if (i === 1 || r !== order.rows[i - 2]!) repeated++; // second occurrence: one summed row
  }
  const rows = new Int32Array(unique);
  const offsets = new Int32Array(unique);
  const summed = new Float(repeated * rowSize);
  let slot = -1;
  let nextSum = 0;
  let last = -1;
  for (let i = 0; i < n; i++) {
    const r = order.rows[i]!;
    const src = order.positions[i]! * rowSize;
    if (r !== last) {
      last = r;
      rows[++slot] = r;
      offsets[slot] = src;
      continue;
    }
    let o = offsets[slot]!;
    if (o >= 0) {
      // Second occurrence: start a summed row from the first one.
      const dst = nextSum;
      nextSum += rowSize;
      summed.set(values.subarray(o, o + rowSize), dst);
      o = -dst - 1;
      offsets[slot] = o;
    }
    const dst = -o - 1;
    for (let j = 0; j < rowSize; j++) summed[dst + j] = summed[dst + j]! + values[src + j]!;
  }
  return { rows, offsets, values, summed };
}
