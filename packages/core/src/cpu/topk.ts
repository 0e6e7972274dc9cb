import type { TypedArray } from '../dtype.js';

// The k best so far of the current row (values as compared: NaN stored as Infinity), reused across calls.
let bestV = new Float64Array(64);
let bestI = new Int32Array(64);

/**
 * Top-k of each contiguous row of x ([rows, n]) into values/indices ([rows, k]), descending, ties
 * broken toward the lower index. Keeps a sorted buffer of the k best so far; after the first k
 * elements almost every element fails the one comparison with the current k-th value, so the scan
 * tests four elements per step and the cost is close to one read of the row.
 * NaN counts as larger than every number (as in PyTorch); the original values are written out.
 */
export function topkRowsJs(x: TypedArray, rows: number, n: number, k: number, values: TypedArray, indices: Int32Array): void {
  if (k === 0) return;
  if (bestV.length < k) {
    bestV = new Float64Array(k);
    bestI = new Int32Array(k);
  }
  const bv = bestV;
  const bi = bestI;
  for (let r = 0; r < rows; r++) {
    const base = r * n;
    const row = x.subarray(base, base + n); // lets V8 drop bounds checks in the scan
    // The first k elements, sorted descending; an equal value goes after the earlier one.
    for (let i = 0; i < k; i++) {
      let v = row[i]!;
      if (v !== v) v = Infinity;
      let p = i;
      while (p > 0 && bv[p - 1]! < v) {
        bv[p] = bv[p - 1]!;
        bi[p] = bi[p - 1]!;
        p--;
      }
      bv[p] = v;
      bi[p] = i;
    }
    let t = bv[k - 1]!;
    for (let i = k; i < n; i++) {
      // Skip four at a time while all are <= the k-th best (NaN fails `<=`, so it is never skipped).
      while (i + 4 <= n && row[i]! <= t && row[i + 1]! <= t && row[i + 2]! <= t && row[i + 3]! <= t) i += 4;
      if (i >= n) break;
      const raw = row[i]!;
      if (raw <= t) continue;
      const v = raw === raw ? raw : Infinity;
      if (!(v > t)) continue; // a NaN when the k-th best is already NaN/Infinity: the earlier index wins
      let p = k - 1;
      while (p > 0 && bv[p - 1]! < v) {
        bv[p] = bv[p - 1]!;
        bi[p] = bi[p - 1]!;
        p--;
      }
      bv[p] = v;
      bi[p] = i;
      t = bv[k - 1]!;
    }
    const o = r * k;
    for (let j = 0; j < k; j++) {
      const idx = bi[j]!;
      indices[o + j] = idx;
      values[o + j] = row[idx]!;
    }
  }
}
