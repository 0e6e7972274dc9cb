// Coalescing row-sparse data on typed arrays with a static output size (Backend.uniqueRows): the
// distinct rows ascending, each with its src rows summed in their original order, padded with −1 /
// zero rows to the input's length so a device backend can do the same without knowing the count.
import { allocTyped, type DType, type TypedArray } from '../dtype.js';

/**
 * The entries of `indices` that are rows (≥ 0, others skipped) in row order, duplicates in their
 * original order: `rows[s]` is the s-th row and `positions[s]` where it stood. One native numeric sort
 * of packed keys row·n + position (exact below 2^53), the order a sequential scatter-add sums in.
 */
export function sortRowPositions(indices: Int32Array): { rows: Int32Array; positions: Int32Array } {
  const n = indices.length;
  const keys = new Float64Array(n);
  let m = 0;
  for (let i = 0; i < n; i++) {
    const r = indices[i]!;
    if (r >= 0) keys[m++] = r * n + i;
  }
  const sorted = keys.subarray(0, m).sort();
  const rows = new Int32Array(m);
  const positions = new Int32Array(m);
  for (let s = 0; s < m; s++) {
    const row = Math.floor(sorted[s]! / n);
    rows[s] = row;
    positions[s] = sorted[s]! - row * n;
  }
  return { rows, positions };
}

/** Distinct rows of `indices` (−1 ignored), ascending and padded with −1, with their summed `src` rows ([n, width] row-major). */
export function uniqueRowsOf(
  indices: Int32Array,
  src: TypedArray,
  width: number,
  dtype: DType,
): { indices: Int32Array; values: TypedArray } {
  const n = indices.length;
  const outIdx = new Int32Array(n).fill(-1);
  const out = allocTyped(dtype, n * width);
  const { rows, positions } = sortRowPositions(indices);
  let u = -1;
  let prev = -1;
  for (let s = 0; s < rows.length; s++) {
    const row = rows[s]!;
    const pos = positions[s]!;
    if (row !== prev) {
      u++;
      prev = row;
      outIdx[u] = row;
      out.set(src.subarray(pos * width, (pos + 1) * width), u * width);
    } else {
      const o = u * width;
      const p = pos * width;
      for (let c = 0; c < width; c++) out[o + c] = out[o + c]! + src[p + c]!;
    }
  }
  return { indices: outIdx, values: out };
}
