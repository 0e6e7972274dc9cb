import type { TypedArray } from '../dtype.js';

/**
 * out[M,N] (contiguous, at outOffset, zero on entry) += A[M,K] @ B[K,N] where A(i,k) is
 * a[aOffset + i*aRowStride + k*aColStride] and B(k,j) is b[bOffset + k*bRowStride + j*bColStride].
 * Strides express every transpose variant backward needs, so no transposed copy of A is made.
 *
 * Plain-JS register blocking: four rows of the output are updated per pass over a row of B, so each
 * loaded element of B feeds four multiply-adds. When B's rows are not contiguous (A·Bᵀ), B is packed
 * once into a contiguous [K,N] panel: O(K·N) work against O(M·N·K) for the product.
 */
export function matmulJs(
  a: TypedArray, aOffset: number, aRowStride: number, aColStride: number,
  b: TypedArray, bOffset: number, bRowStride: number, bColStride: number,
  out: TypedArray, outOffset: number, M: number, N: number, K: number,
): void {
  if (M === 0 || N === 0 || K === 0) return;
  if (bColStride !== 1 && N > 1) {
    const packed = new (b.constructor as new (n: number) => TypedArray)(K * N);
    for (let k = 0; k < K; k++) {
      let src = bOffset + k * bRowStride;
      const dst = k * N;
      for (let j = 0; j < N; j++, src += bColStride) packed[dst + j] = b[src]!;
    }
    b = packed;
    bOffset = 0;
    bRowStride = N;
  }
  let i = 0;
  for (; i + 4 <= M; i += 4) {
    const a0 = aOffset + i * aRowStride;
    const a1 = a0 + aRowStride;
    const a2 = a1 + aRowStride;
    const a3 = a2 + aRowStride;
    const o0 = outOffset + i * N;
    const o1 = o0 + N;
    const o2 = o1 + N;
    const o3 = o2 + N;
    for (let k = 0; k < K; k++) {
      const ak = k * aColStride;
      const x0 = a[a0 + ak]!;
      const x1 = a[a1 + ak]!;
      const x2 = a[a2 + ak]!;
      const x3 = a[a3 + ak]!;
      const br = bOffset + k * bRowStride;
      for (let j = 0; j < N; j++) {
        const bv = b[br + j]!;
        out[o0 + j] += x0 * bv;
        out[o1 + j] += x1 * bv;
        out[o2 + j] += x2 * bv;
        out[o3 + j] += x3 * bv;
      }
    }
  }
  for (; i < M; i++) {
    const ar = aOffset + i * aRowStride;
    const o = outOffset + i * N;
    for (let k = 0; k < K; k++) {
      const x = a[ar + k * aColStride]!;
      const br = bOffset + k * bRowStride;
      for (let j = 0; j < N; j++) out[o + j] += x * b[br + j]!;
    }
  }
}
