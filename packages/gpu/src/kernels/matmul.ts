/** Batched matmul kernels. */
import { offsetExpr, planSpace } from '../indexing.js';
import { sig, type KernelSource, type Operand } from './source.js';

/**
 * Batched matmul: output [...batch, M, N] as gpu.js [N, M, batch]; each thread runs the K loop.
 * gpu.js exposes no workgroup memory, so tiling is not expressible; on WebAssembly the x threads run
 * in f32x4 SIMD lanes, which is what makes the inner loop fast there.
 */
export function matmulSource(
  batchShape: readonly number[],
  M: number,
  N: number,
  K: number,
  a: Operand & { readonly rowStride: number; readonly colStride: number },
  b: Operand & { readonly rowStride: number; readonly colStride: number },
): KernelSource {
  // Space over [...batch, M, N]: a ignores N, b ignores M.
  const shape = [...batchShape, M, N];
  const space = planSpace(shape, [
    [...a.strides, a.rowStride, 0],
    [...b.strides, 0, b.colStride],
  ]);
  const ao = offsetExpr(space, 0, a.offset);
  const bo = offsetExpr(space, 1, b.offset);
  const body =
    `let acc = 0.0; for (let k = 0; k < ${K}; k++) { acc += a0[${ao} + k * ${a.colStride}] * a1[${bo} + k * ${b.rowStride}]; }` +
    ' return acc;';
  const key = `matmul:${K}:${a.colStride}:${b.rowStride}:${sig(space, [a.offset, b.offset])}`;
  return { key, source: `function(a0, a1) { ${body} }`, output: space.output };
}

/**
 * Register-blocked batched matmul for N divisible by 4: each thread computes four adjacent outputs of
 * a row (gpu.js `Array(4)` return), loading each a element once for four products; output laid out
 * as [...batch, M, N] exactly like matmulSource's. Each output sums its K terms in the same order.
 */
export function matmulBlockedSource(
  batchShape: readonly number[],
  M: number,
  N: number,
  K: number,
  a: Operand & { readonly rowStride: number; readonly colStride: number },
  b: Operand & { readonly rowStride: number; readonly colStride: number },
): KernelSource {
  const shape = [...batchShape, M, N / 4];
  const space = planSpace(shape, [
    [...a.strides, a.rowStride, 0],
    [...b.strides, 0, b.colStride * 4],
  ]);
  const ao = offsetExpr(space, 0, a.offset);
  const bo = offsetExpr(space, 1, b.offset);
  const c = b.colStride;
  const body =
    'let c0 = 0.0; let c1 = 0.0; let c2 = 0.0; let c3 = 0.0;' +
    ` for (let k = 0; k < ${K}; k++) { const av = a0[${ao} + k * ${a.colStride}]; const bk = ${bo} + k * ${b.rowStride};` +
    ` c0 += av * a1[bk]; c1 += av * a1[bk + ${c}]; c2 += av * a1[bk + ${2 * c}]; c3 += av * a1[bk + ${3 * c}]; }` +
    ' return [c0, c1, c2, c3];';
  const key = `matmul4:${K}:${a.colStride}:${b.rowStride}:${c}:${sig(space, [a.offset, b.offset])}`;
  return { key, source: `function(a0, a1) { ${body} }`, output: space.output, components: 4 };
}
