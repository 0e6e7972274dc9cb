// What the fused table ops (expertMix, embeddingBag) share on the CPU backend: reading a tensor's
// elements in place, checking row indices, and building a table's coalesced row-sparse gradient.
import { checkRowIndices, expertTableGrad, sortSlotsByRow } from '../cpu/expert-mix.js';
import { cpuBackend } from '../cpu/cpu-backend.js';
import { kernels as cpuKernels } from '../cpu/kernels.js';
import type { TypedArray } from '../dtype.js';
import { cpuBufferPool } from '../cpu/buffer-pool.js';
import { SparseGrad } from '../sparse-grad.js';
import type { Tensor } from '../tensor.js';
import { wrap } from './util.js';

export { checkRowIndices, sortSlotsByRow };

/** The elements of a CPU tensor, contiguous: a view on its storage where possible, else a copy. */
export function hostElements(t: Tensor): TypedArray {
  const data = t.backend.hostData(t.storage)!;
  return t.isContiguous() ? data.subarray(t.offset, t.offset + t.size) : t.toTypedArray();
}

/**
 * The coalesced row-sparse gradient of `table` when slot p (token ⌊p/S⌋) adds coef[p] · src[⌊p/S⌋] to
 * row idx[p]: one row per distinct index, ascending (float32 through the kernel seam, WebAssembly SIMD
 * when installed).
 */
export function rowSparseTableGrad(
  table: Tensor,
  coef: Float64Array,
  src: TypedArray,
  S: number,
  width: number,
  sorted: { rows: Int32Array; positions: Int32Array },
): SparseGrad {
  const r =
    table.dtype === 'float32'
      ? cpuKernels.expertTableGradF32(coef, src as Float32Array, S, width, sorted)
      : expertTableGrad(coef, src, S, width, sorted, (n) => cpuBufferPool.alloc(table.dtype, n, false));
  const rows = wrap(cpuBackend, r.rows, [r.rows.length], 'int32');
  const values = wrap(cpuBackend, r.values, [r.rows.length, width], table.dtype);
  return new SparseGrad(rows, values, table.shape, true);
}
