import type { TypedArray } from '../dtype.js';

/**
 * Top-k of each contiguous row of x ([rows, n]) into values/indices ([rows, k]), descending, ties
 * broken toward the lower index. Keeps a sorted buffer of the k best so far: most elements fail the
 * single comparison with the current k-th value, so the cost is close to one pass over the row.
 * NaN counts as larger than every number (as in PyTorch).
 */
export function topkRowsJs(x: TypedArray, rows: number, n: number, k: number, values: TypedArray, indices: Int32Array): void {
  for (let r = 0; r < rows; r++) {
    const base = r * n;
    const vo = r * k;
    let filled = 0;
    for (let i = 0; i < n; i++) {
      let v = x[base + i]!;
      if (v !== v) v = Infinity; // NaN ranks first; the original value is written back below
      if (filled === k) {
        if (!(v > values[vo + k - 1]!)) continue;
        filled--;
      }
      // Insert after every element >= v so that earlier indices win ties.
      let p = vo + filled;
      while (p > vo && values[p - 1]! < v) {
        values[p] = values[p - 1]!;
        indices[p] = indices[p - 1]!;
        p--;
      }
      values[p] = v;
      indices[p] = i;
      filled++;
    }
    for (let j = vo; j < vo + k; j++) values[j] = x[base + indices[j]!]!;
  }
}
