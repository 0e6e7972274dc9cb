// Coalescing row-sparse data on typed arrays with a static output size (Backend.uniqueRows): the
// distinct rows ascending, each with its src rows summed in their original order, padded with −1 /
// zero rows to the input's length so a device backend can do the same without knowing the count.
import { allocTyped, type DType, type TypedArray } from '../dtype.js';

/** Below this many entries a comparison sort of packed keys beats the radix passes' histograms. */
const RADIX_MIN = 1024;

/**
 * The entries of `indices` that are rows (≥ 0, others skipped) in row order, duplicates in their
 * original order: `rows[s]` is the s-th row and `positions[s]` where it stood — the order a sequential
 * scatter-add sums in. A stable radix sort on the row (one counting pass per 16 bits of the largest
 * row), O(n) where a comparison sort is O(n log n): it ran 8 % of the demo's PEER step.
 */
export function sortRowPositions(indices: Int32Array): { rows: Int32Array; positions: Int32Array } {
  const n = indices.length;
  let m = 0;
  let max = 0;
  for (let i = 0; i < n; i++) {
    const r = indices[i]!;
    if (r >= 0) {
      m++;
      if (r > max) max = r;
    }
  }
  if (m < RADIX_MIN) return sortPackedKeys(indices, m);
  let rows: Int32Array = new Int32Array(m);
  let positions: Int32Array = new Int32Array(m);
  for (let i = 0, j = 0; i < n; i++) {
    const r = indices[i]!;
    if (r >= 0) {
      rows[j] = r;
      positions[j++] = i;
    }
  }
  // Least significant digit first; each pass is stable, so equal rows keep their position order.
  for (let shift = 0; shift < 32 && (shift === 0 || max >>> shift > 0); shift += 16) {
    [rows, positions] = countingPass(rows, positions, shift, Math.min(0xffff, max >>> shift) + 1);
  }
  return { rows, positions };
}

/** One stable counting-sort pass of (rows, positions) by the digit (row >>> shift) & 0xffff, of `size` values. */
function countingPass(rows: Int32Array, positions: Int32Array, shift: number, size: number): [Int32Array, Int32Array] {
  const m = rows.length;
  const start = new Int32Array(size + 1);
  for (let s = 0; s < m; s++) start[((rows[s]! >>> shift) & 0xffff) + 1]++;
  for (let d = 0; d < size; d++) start[d + 1] += start[d]!;
  const outRows = new Int32Array(m);
  const outPositions = new Int32Array(m);
  for (let s = 0; s < m; s++) {
    const at = start[(rows[s]! >>> shift) & 0xffff]!++;
    outRows[at] = rows[s]!;
    outPositions[at] = positions[s]!;
  }
  return [outRows, outPositions];
}

/** sortRowPositions for few entries: one native numeric sort of packed keys row·n + position (exact below 2^53). */
function sortPackedKeys(indices: Int32Array, m: number): { rows: Int32Array; positions: Int32Array } {
  const n = indices.length;
  const keys = new Float64Array(m);
  for (let i = 0, j = 0; i < n; i++) {
    const r = indices[i]!;
    if (r >= 0) keys[j++] = r * n + i;
  }
  keys.sort();
  const rows = new Int32Array(m);
  const positions = new Int32Array(m);
  for (let s = 0; s < m; s++) {
    const row = Math.floor(keys[s]! / n);
    rows[s] = row;
    positions[s] = keys[s]! - row * n;
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
