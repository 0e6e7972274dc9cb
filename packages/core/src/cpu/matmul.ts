import type { TypedArray } from '../dtype.js';

/**
 * out[M,N] (contiguous, at outOffset, zero on entry) += A[M,K] @ B[K,N] where A(i,k) is
 * a[aOffset + i*aRowStride + k*aColStride] and B(k,j) is b[bOffset + k*bRowStride + j*bColStride].
 * Strides express every transpose variant backward needs, so no transposed copy of A is made.
 *
 * Every output element is the sequential sum over k = 0..K-1, rounded to the output's precision
 * after each step (as `out[i] += a*b` on the typed array does). The float32 paths below keep exactly
 * that rounding, so all paths, and any faster kernel that follows the same order, agree bit for bit.
 */
export function matmulJs(
  a: TypedArray,
  aOffset: number,
  aRowStride: number,
  aColStride: number,
  b: TypedArray,
  bOffset: number,
  bRowStride: number,
  bColStride: number,
  out: TypedArray,
  outOffset: number,
  M: number,
  N: number,
  K: number,
): void {
  if (M === 0 || N === 0 || K === 0) return;
  if (a instanceof Float32Array && b instanceof Float32Array && out instanceof Float32Array) {
    if (M >= MR) matmulBlockedF32(a, aOffset, aRowStride, aColStride, b, bOffset, bRowStride, bColStride, out, outOffset, M, N, K);
    else if (bColStride !== 1 && bRowStride === 1)
      matmulDotF32(a, aOffset, aRowStride, aColStride, b, bOffset, bColStride, out, outOffset, M, N, K);
    else matmulRowsGeneric(a, aOffset, aRowStride, aColStride, b, bOffset, bRowStride, bColStride, out, outOffset, M, N, K);
    return;
  }
  matmulRowsGeneric(a, aOffset, aRowStride, aColStride, b, bOffset, bRowStride, bColStride, out, outOffset, M, N, K);
}

/** Rows and columns of the float32 register tile. */
const MR = 4;
const NR = 4;
/** Depth of a packed block: a 4×KC panel of A and a KC×4 panel of B (4 KiB each) stay in L1. */
const KC = 256;
/** Columns of B packed at once: a KC×NC block (128 KiB) stays in L2 while every row of A passes. */
const NC = 128;

// Packing buffers, reused across calls (kernels never re-enter).
let packA = new Float32Array(KC * MR);
let packB = new Float32Array(KC * NC);

/**
 * float32 A @ B with cache blocking and a 4×4 register tile. B is packed block by block into
 * k-major panels of 4 columns (whatever its strides, so A·Bᵀ costs no strided inner loop), A into
 * 4-row panels (so Aᵀ·B reads contiguously too). The tile's 16 sums live in locals; Math.fround
 * after each multiply-add gives the float32 rounding of `out[i] += a*b`, and K blocks resume from
 * the partial sums in out, so results match the simple loop exactly.
 */
function matmulBlockedF32(
  a: Float32Array,
  aOff: number,
  ars: number,
  acs: number,
  b: Float32Array,
  bOff: number,
  brs: number,
  bcs: number,
  out: Float32Array,
  oOff: number,
  M: number,
  N: number,
  K: number,
): void {
  const f = Math.fround;
  if (packB.length < KC * NC) packB = new Float32Array(KC * NC);
  if (packA.length < KC * MR) packA = new Float32Array(KC * MR);
  const bp = packB;
  const ap = packA;
  for (let j0 = 0; j0 < N; j0 += NC) {
    const nc = Math.min(NC, N - j0);
    const panels = Math.ceil(nc / NR);
    for (let k0 = 0; k0 < K; k0 += KC) {
      const kc = Math.min(KC, K - k0);
      // B[k0:k0+kc, j0:j0+nc] -> panels of NR columns, k-major inside a panel, padded with zeros.
      for (let p = 0; p < panels; p++) {
        const jp = j0 + p * NR;
        const w = Math.min(NR, N - jp);
        let d = p * kc * NR;
        let src = bOff + k0 * brs + jp * bcs;
        for (let k = 0; k < kc; k++, d += NR, src += brs) {
          for (let c = 0; c < NR; c++) bp[d + c] = c < w ? b[src + c * bcs]! : 0;
        }
      }
      for (let i0 = 0; i0 < M; i0 += MR) {
        const h = Math.min(MR, M - i0);
        // A[i0:i0+h, k0:k0+kc] -> one k-major panel of MR rows, padded with zeros.
        for (let r = 0; r < MR; r++) {
          if (r < h) {
            let src = aOff + (i0 + r) * ars + k0 * acs;
            for (let k = 0; k < kc; k++, src += acs) ap[k * MR + r] = a[src]!;
          } else {
            for (let k = 0; k < kc; k++) ap[k * MR + r] = 0;
          }
        }
        for (let p = 0; p < panels; p++) {
          const jp = j0 + p * NR;
          const o = oOff + i0 * N + jp;
          const q0 = p * kc * NR;
          if (h < MR || jp + NR > N) {
            edgeTileF32(ap, bp, q0, kc, out, o, N, h, Math.min(NR, N - jp));
            continue;
          }
          const o1 = o + N,
            o2 = o1 + N,
            o3 = o2 + N;
          let c00 = out[o]!,
            c01 = out[o + 1]!,
            c02 = out[o + 2]!,
            c03 = out[o + 3]!;
          let c10 = out[o1]!,
            c11 = out[o1 + 1]!,
            c12 = out[o1 + 2]!,
            c13 = out[o1 + 3]!;
          let c20 = out[o2]!,
            c21 = out[o2 + 1]!,
            c22 = out[o2 + 2]!,
            c23 = out[o2 + 3]!;
          let c30 = out[o3]!,
            c31 = out[o3 + 1]!,
            c32 = out[o3 + 2]!,
            c33 = out[o3 + 3]!;
          for (let s = 0, q = q0, end = kc * MR; s < end; s += MR, q += NR) {
            const x0 = ap[s]!,
              x1 = ap[s + 1]!,
              x2 = ap[s + 2]!,
              x3 = ap[s + 3]!;
            const y0 = bp[q]!,
              y1 = bp[q + 1]!,
              y2 = bp[q + 2]!,
              y3 = bp[q + 3]!;
            c00 = f(c00 + x0 * y0);
            c01 = f(c01 + x0 * y1);
            c02 = f(c02 + x0 * y2);
            c03 = f(c03 + x0 * y3);
            c10 = f(c10 + x1 * y0);
            c11 = f(c11 + x1 * y1);
            c12 = f(c12 + x1 * y2);
            c13 = f(c13 + x1 * y3);
            c20 = f(c20 + x2 * y0);
            c21 = f(c21 + x2 * y1);
            c22 = f(c22 + x2 * y2);
            c23 = f(c23 + x2 * y3);
            c30 = f(c30 + x3 * y0);
            c31 = f(c31 + x3 * y1);
            c32 = f(c32 + x3 * y2);
            c33 = f(c33 + x3 * y3);
          }
          out[o] = c00;
          out[o + 1] = c01;
          out[o + 2] = c02;
          out[o + 3] = c03;
          out[o1] = c10;
          out[o1 + 1] = c11;
          out[o1 + 2] = c12;
          out[o1 + 3] = c13;
          out[o2] = c20;
          out[o2 + 1] = c21;
          out[o2 + 2] = c22;
          out[o2 + 3] = c23;
          out[o3] = c30;
          out[o3 + 1] = c31;
          out[o3 + 2] = c32;
          out[o3 + 3] = c33;
        }
      }
    }
  }
}

/** The h×w corner of a tile (h ≤ MR, w ≤ NR) at the bottom or right edge, one element at a time. */
function edgeTileF32(
  ap: Float32Array,
  bp: Float32Array,
  q0: number,
  kc: number,
  out: Float32Array,
  o: number,
  N: number,
  h: number,
  w: number,
): void {
  const f = Math.fround;
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      let acc = out[o + r * N + c]!;
      for (let k = 0; k < kc; k++) acc = f(acc + ap[k * MR + r]! * bp[q0 + k * NR + c]!);
      out[o + r * N + c] = acc;
    }
  }
}

/**
 * float32 A·Bᵀ-shaped products with fewer than MR rows (B's k stride is 1): one dot product per
 * output, read straight from B, where packing B would cost as much as the product itself.
 */
function matmulDotF32(
  a: Float32Array,
  aOff: number,
  ars: number,
  acs: number,
  b: Float32Array,
  bOff: number,
  bcs: number,
  out: Float32Array,
  oOff: number,
  M: number,
  N: number,
  K: number,
): void {
  const f = Math.fround;
  for (let i = 0; i < M; i++) {
    const ar = aOff + i * ars;
    for (let j = 0; j < N; j++) {
      const br = bOff + j * bcs;
      let acc = out[oOff + i * N + j]!;
      for (let k = 0, ak = ar; k < K; k++, ak += acs) acc = f(acc + a[ak]! * b[br + k]!);
      out[oOff + i * N + j] = acc;
    }
  }
}

/**
 * Any dtype: four rows of the output are updated per pass over a row of B, so each loaded element
 * of B feeds four multiply-adds. When B's rows are not contiguous, B is packed once into a
 * contiguous [K,N] panel: O(K·N) work against O(M·N·K) for the product.
 */
function matmulRowsGeneric(
  a: TypedArray,
  aOffset: number,
  aRowStride: number,
  aColStride: number,
  b: TypedArray,
  bOffset: number,
  bRowStride: number,
  bColStride: number,
  out: TypedArray,
  outOffset: number,
  M: number,
  N: number,
  K: number,
): void {
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
