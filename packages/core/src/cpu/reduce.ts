import type { TypedArray } from '../dtype.js';

/**
 * Sum over the middle axis of a contiguous [outer, len, inner] block at `offset`:
 * out[o*inner + j] = Σ_r x[offset + (o*len + r)*inner + j]. Each output is the sequential sum over
 * r = 0..len-1 in float64 (as the generic reduction loop adds), rounded to out's type once at the end;
 * for inner > 1 the rows are added into a float64 row of partial sums, so x is read contiguously.
 */
export function sumAxisJs(x: TypedArray, offset: number, outer: number, len: number, inner: number, out: TypedArray): void {
  if (inner === 1) {
    for (let o = 0, p = offset; o < outer; o++) {
      let acc = 0;
      for (let r = 0; r < len; r++, p++) acc += x[p]!;
      out[o] = acc;
    }
    return;
  }
  const acc = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    acc.fill(0);
    let p = offset + o * len * inner;
    for (let r = 0; r < len; r++, p += inner) {
      for (let j = 0; j < inner; j++) acc[j] += x[p + j]!;
    }
    out.set(acc, o * inner);
  }
}
