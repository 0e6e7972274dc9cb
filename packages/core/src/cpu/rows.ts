import type { TypedArray } from '../dtype.js';

/** Numerically stable softmax of each contiguous row of x ([rows, n]). */
export function softmaxRowsJs(x: TypedArray, rows: number, n: number, out: TypedArray): void {
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    let m = -Infinity;
    for (let i = 0; i < n; i++) if (x[o + i]! > m) m = x[o + i]!;
    if (m === -Infinity) m = 0; // an all -inf row gives NaN, like PyTorch, rather than hiding it
    let s = 0;
    for (let i = 0; i < n; i++) {
      const e = Math.exp(x[o + i]! - m);
      out[o + i] = e;
      s += e;
    }
    const inv = 1 / s;
    for (let i = 0; i < n; i++) out[o + i] = out[o + i]! * inv;
  }
}

/** log(sum(exp(row))) of each contiguous row, stable. */
export function logsumexpRowsJs(x: TypedArray, rows: number, n: number, out: TypedArray): void {
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    let m = -Infinity;
    for (let i = 0; i < n; i++) if (x[o + i]! > m) m = x[o + i]!;
    if (m === -Infinity || m === Infinity) {
      out[r] = m;
      continue;
    }
    let s = 0;
    for (let i = 0; i < n; i++) s += Math.exp(x[o + i]! - m);
    out[r] = m + Math.log(s);
  }
}

/** log-softmax of each contiguous row: x - logsumexp(x). */
export function logSoftmaxRowsJs(x: TypedArray, rows: number, n: number, out: TypedArray): void {
  const lse = new Float64Array(rows);
  logsumexpRowsJs(x, rows, n, lse);
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    const l = lse[r]!;
    for (let i = 0; i < n; i++) out[o + i] = x[o + i]! - l;
  }
}

/** out[i, :] = table[indices[i], :] for a contiguous [rows, width] table. */
export function gatherRowsJs(table: TypedArray, width: number, indices: Int32Array, out: TypedArray): void {
  for (let i = 0; i < indices.length; i++) {
    const r = indices[i]!;
    out.set(table.subarray(r * width, r * width + width), i * width);
  }
}

/** dst[indices[i], :] += src[i, :] for a contiguous [rows, width] dst. */
export function scatterAddRowsJs(dst: TypedArray, width: number, indices: Int32Array, src: TypedArray): void {
  for (let i = 0; i < indices.length; i++) {
    const d = indices[i]! * width;
    const s = i * width;
    for (let j = 0; j < width; j++) dst[d + j] += src[s + j]!;
  }
}
