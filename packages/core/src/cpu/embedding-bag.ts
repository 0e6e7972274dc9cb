// The fused CPU loops of embeddingBag (ops/embedding-bag.ts): read each chosen table row in place
// instead of gathering [T, S, D] copies first. The table's gradient reuses expertMix's row-sparse
// accumulation (expertTableGrad), since both sum weighted rows per distinct table row.
import type { TypedArray } from '../dtype.js';

/** out[t] += Σₛ w[t,s] · table[idx[t,s]] (out zeroed by the caller): T tokens of S slots, rows of D. */
export function embeddingBagForward(
  table: TypedArray,
  idx: Int32Array,
  w: TypedArray,
  T: number,
  S: number,
  D: number,
  out: TypedArray,
): void {
  for (let t = 0; t < T; t++) {
    const o = t * D;
    for (let s = 0; s < S; s++) {
      const p = t * S + s;
      const g = w[p]!;
      const r = idx[p]! * D;
      for (let d = 0; d < D; d++) out[o + d] = out[o + d]! + g * table[r + d]!;
    }
  }
}

/** dw[t,s] = table[idx[t,s]] · dy[t]: the weights' gradient, one dot product per slot. */
export function embeddingBagWeightGrad(
  table: TypedArray,
  idx: Int32Array,
  dy: TypedArray,
  T: number,
  S: number,
  D: number,
  dw: TypedArray,
): void {
  for (let t = 0; t < T; t++) {
    const o = t * D;
    for (let s = 0; s < S; s++) {
      const p = t * S + s;
      const r = idx[p]! * D;
      let acc = 0;
      for (let d = 0; d < D; d++) acc += table[r + d]! * dy[o + d]!;
      dw[p] = acc;
    }
  }
}
