import type { BinaryOp, UnaryOp } from '../backend.js';
import { cpuBufferPool } from './buffer-pool.js';
import { binaryRunJs, unaryRunF32Js } from './elementwise.js';
import { embeddingBagForward, embeddingBagWeightGrad } from './embedding-bag.js';
import { expertMixBackward, expertMixForward, expertTableGrad, type ExpertActivation } from './expert-mix.js';
import { matmulJs } from './matmul.js';
import { sumAxisJs } from './reduce.js';
import { topkRowsJs } from './topk.js';
import { gatherRowsJs, logSoftmaxRowsJs, logsumexpRowsJs, scatterAddRowsJs, softmaxRowsJs } from './rows.js';

/**
 * The seam between the CPU backend and its hot loops. The backend always calls through this table,
 * so faster implementations (WebAssembly SIMD, worker threads) replace entries with `installKernels`
 * without touching the backend. Every replacement must give the same results as the plain-JS entry
 * (property-tested); float32 entries receive Float32Array arguments only.
 */
export interface CpuKernels {
  /** See matmulJs: out[M,N] (zeroed) += A @ B with arbitrary strides for A and B. */
  matmulF32(
    a: Float32Array,
    aOffset: number,
    aRowStride: number,
    aColStride: number,
    b: Float32Array,
    bOffset: number,
    bRowStride: number,
    bColStride: number,
    out: Float32Array,
    outOffset: number,
    M: number,
    N: number,
    K: number,
  ): void;
  /** Top-k of each contiguous row; values descending, ties to the lower index. */
  topkRowsF32(x: Float32Array, rows: number, n: number, k: number, values: Float32Array, indices: Int32Array): void;
  softmaxRowsF32(x: Float32Array, rows: number, n: number, out: Float32Array): void;
  logSoftmaxRowsF32(x: Float32Array, rows: number, n: number, out: Float32Array): void;
  logsumexpRowsF32(x: Float32Array, rows: number, n: number, out: Float32Array): void;
  gatherRowsF32(table: Float32Array, width: number, indices: Int32Array, out: Float32Array): void;
  scatterAddRowsF32(dst: Float32Array, width: number, indices: Int32Array, src: Float32Array): void;
  /** See unaryRunF32Js: out[outOffset + i] = op(x[xOffset + i]) for i < n. */
  unaryF32(op: UnaryOp, x: Float32Array, xOffset: number, out: Float32Array, outOffset: number, n: number): void;
  /** See binaryRunJs: out[outOffset + i] = a[aOffset + i % aLength] op b[bOffset + i % bLength] for i < n. */
  binaryF32(
    op: BinaryOp,
    a: Float32Array,
    aOffset: number,
    aLength: number,
    b: Float32Array,
    bOffset: number,
    bLength: number,
    out: Float32Array,
    outOffset: number,
    n: number,
  ): void;
  /** See sumAxisJs: sums the middle axis of a contiguous [outer, len, inner] block (float64 sums). */
  sumAxisF32(x: Float32Array, offset: number, outer: number, len: number, inner: number, out: Float32Array): void;
  /** See expertMixForward: the fused expert mix, y [T, Do] and pre-activations z [T, S] (indices in range). */
  expertMixForwardF32(
    x: Float32Array,
    down: Float32Array,
    up: Float32Array,
    idx: Int32Array,
    gates: Float32Array,
    T: number,
    S: number,
    D: number,
    Do: number,
    act: ExpertActivation,
    y: Float32Array,
    z: Float32Array,
  ): void;
  /** See expertMixBackward: dx [T, D], dgates [T, S] and the table-gradient coefficients dz, c [T, S]. */
  expertMixBackwardF32(
    down: Float32Array,
    up: Float32Array,
    idx: Int32Array,
    gates: Float32Array,
    z: Float32Array,
    dy: Float32Array,
    T: number,
    S: number,
    D: number,
    Do: number,
    act: ExpertActivation,
    dx: Float32Array,
    dgates: Float32Array,
    dz: Float64Array,
    c: Float64Array,
  ): void;
  /** See expertTableGrad: a table's coalesced row-sparse gradient, distinct rows ascending. */
  expertTableGradF32(
    coef: Float64Array,
    src: Float32Array,
    S: number,
    W: number,
    sorted: { rows: Int32Array; positions: Int32Array },
  ): { rows: Int32Array; values: Float32Array };
  /** See embeddingBagForward: out [T, D] (zeroed) = Σₛ w[t,s] · table[idx[t,s]] (indices in range). */
  embeddingBagForwardF32(table: Float32Array, idx: Int32Array, w: Float32Array, T: number, S: number, D: number, out: Float32Array): void;
  /** See embeddingBagWeightGrad: dw [T, S] = table[idx[t,s]] · dy[t] (indices in range). */
  embeddingBagWeightGradF32(
    table: Float32Array,
    idx: Int32Array,
    dy: Float32Array,
    T: number,
    S: number,
    D: number,
    dw: Float32Array,
  ): void;
}

function expertTableGradF32Js(
  coef: Float64Array,
  src: Float32Array,
  S: number,
  W: number,
  sorted: { rows: Int32Array; positions: Int32Array },
): { rows: Int32Array; values: Float32Array } {
  return expertTableGrad(coef, src, S, W, sorted, (n) => cpuBufferPool.alloc('float32', n, false) as Float32Array);
}

/** The plain TypeScript kernels: the reference every faster kernel is tested against. */
export const jsKernels: Readonly<CpuKernels> = Object.freeze({
  matmulF32: matmulJs,
  topkRowsF32: topkRowsJs,
  softmaxRowsF32: softmaxRowsJs,
  logSoftmaxRowsF32: logSoftmaxRowsJs,
  logsumexpRowsF32: logsumexpRowsJs,
  gatherRowsF32: gatherRowsJs,
  scatterAddRowsF32: scatterAddRowsJs,
  unaryF32: unaryRunF32Js,
  binaryF32: binaryRunJs,
  sumAxisF32: sumAxisJs,
  expertMixForwardF32: expertMixForward,
  expertMixBackwardF32: expertMixBackward,
  expertTableGradF32: expertTableGradF32Js,
  embeddingBagForwardF32: embeddingBagForward,
  embeddingBagWeightGradF32: embeddingBagWeightGrad,
});

/** The kernels the CPU backend calls now. */
export const kernels: CpuKernels = { ...jsKernels };

/** Replaces some kernels (e.g. with WebAssembly versions). */
export function installKernels(replacements: Partial<CpuKernels>): void {
  Object.assign(kernels, replacements);
}

/** Restores the plain TypeScript kernels. */
export function resetKernels(): void {
  Object.assign(kernels, jsKernels);
}

/** Generic-dtype versions used for float64/int32 (not replaceable: they serve precision, not speed). */
export const genericKernels = {
  matmul: matmulJs,
  topkRows: topkRowsJs,
  softmaxRows: softmaxRowsJs,
  logSoftmaxRows: logSoftmaxRowsJs,
  logsumexpRows: logsumexpRowsJs,
  gatherRows: gatherRowsJs,
  scatterAddRows: scatterAddRowsJs,
  sumAxis: sumAxisJs,
} satisfies Record<string, (...args: never[]) => void>;
